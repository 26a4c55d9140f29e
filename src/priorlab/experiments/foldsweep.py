"""How often do narrow networks learn a 2-D task? Success rate vs width and depth, ReLU vs tanh, and dead points."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import Field

from priorlab.config import BaseConfig, LearningRate, Steps, unique_list
from priorlab.context import RunContext
from priorlab.data.planes import plane
from priorlab.nets.batched_mlp import BatchedMLP, accuracy, cross_entropy
from priorlab.stats.claims import Claim
from priorlab.stats.intervals import ci_text, with_ci, with_wilson
from priorlab.train.loop import fit
from priorlab.viz.planes import dead_figure, success_figure

DESCRIPTION = (
    "Training success rate of narrow networks on a 2-D task vs width and depth, ReLU vs tanh, and dead points"
)
ORDER = 51
CITATION = (
    "A deep learning course lecture: 2-unit hidden layers train badly, because a bias can push points out of the "
    "positive quadrant where ReLU zeroes them for good; wider or deeper networks train more easily (STUDIES.md §5)."
)
FIGURES = {
    "success": "Fraction of seeds whose training accuracy reaches the threshold, against hidden-layer width, with its "
    "95% Wilson interval; one line per depth, solid ReLU, dashed tanh.",
    "dead": "ReLU runs: the dead-point fraction of each run's worst layer (points zero in every unit), against width, "
    "for runs that failed and runs that succeeded.",
}
DEMO = [{}]
QUESTION = "How often do networks of narrow layers learn a 2-D task, and do wider layers or tanh fix what ReLU breaks?"
KEY_FIGURE = "success"
SOURCE = "the deep learning course lecture on what layers do (STUDIES.md §5)"


class Config(BaseConfig):
    task: Literal["spiral", "circles", "xor", "moons", "gaussians"] = Field("spiral", description="2-D task")
    n_points: int = Field(200, ge=20, le=100_000, description="training points")
    noise: float = Field(0.05, ge=0.0, le=1.0, description="SD of the Gaussian jitter added to the points")
    widths: unique_list(int, ge=1, le=512) = Field([2, 3, 4, 8], description="hidden-layer widths")
    depths: unique_list(int, ge=1, le=512) = Field([4], description="numbers of hidden layers")
    activations: unique_list(Literal["relu", "tanh", "leaky_relu", "sigmoid"]) = Field(
        ["relu", "tanh"], description="non-linearities compared"
    )
    repeats: int = Field(
        10, ge=1, le=4096, description="seeds per shape (seed, seed+1, ...), trained together"
    )
    steps: Steps = Field(500, description="full-batch Adam steps")
    lr: LearningRate = Field(0.03, description="Adam learning rate")
    threshold: float = Field(0.9, gt=0.0, le=1.0, description="training accuracy that counts as success")

    FULL: ClassVar[dict] = {"n_points": 500, "depths": [2, 4, 6], "repeats": 20, "steps": 2000, "lr": 0.01}
    RENAMED: ClassVar[dict] = {"epochs": "steps"}


def setup(config: Config) -> str:
    shapes = len(config.widths) * len(config.depths) * len(config.activations)
    return (
        f"{config.repeats} seeds × {shapes} shapes (widths {', '.join(map(str, config.widths))}; "
        f"{', '.join(map(str, config.depths))} hidden layers; {', '.join(config.activations)}) on '{config.task}' "
        f"({config.n_points} points), {config.steps} full-batch Adam steps; success = training accuracy ≥ "
        f"{config.threshold:g}."
    )


def claims(config: Config) -> list[Claim]:
    relu = "relu" in config.activations
    narrow = 2 in config.widths and relu
    why = "needs 2-unit ReLU layers in the sweep (widths include 2, activations include relu)"
    wide = max(config.widths)
    out = [
        Claim(f"2-unit ReLU layers train badly ({d} hidden layers): at most half of the seeds succeed", SOURCE,
              f"success_rate_relu_w2_d{d}", (0.0, 0.5), applies=True if narrow else why)
        for d in config.depths
    ]
    if narrow and wide > 2:
        d = config.depths[0]
        out.append(Claim(f"wider layers train more easily: width {wide} succeeds in ≥ 0.3 more of the seeds than "
                         f"width 2 (ReLU, {d} hidden layers)", SOURCE,
                         lambda m: m[f"success_rate_relu_w{wide}_d{d}"] - m[f"success_rate_relu_w2_d{d}"],
                         (0.3, 1.0), label=f"success_rate_relu_w{wide}_d{d} − success_rate_relu_w2_d{d}"))
    out.append(Claim("ReLU zeroes points for good: failed runs have more dead points than successful ones (mean "
                     "worst-layer dead fraction, failed − succeeded)", SOURCE,
                     lambda m: m["dead_fraction_failed"] - m["dead_fraction_succeeded"], (0.05, 1.0),
                     applies=True if relu else "needs ReLU runs", label="dead_fraction_failed − dead_fraction_succeeded"))
    return out


def train_shape(x, y, activation: str, width: int, depth: int, config: Config, seed: int):
    """Train ``repeats`` networks of one shape at once; returns their training accuracies and each one's dead-point
    fraction at its worst hidden layer (points zero in every unit), both [repeats]."""
    model = BatchedMLP([2] + [width] * depth + [2], activation, seeds=config.repeats, seed=seed)
    fit(model, lambda _: cross_entropy(model(x), y).sum(), config.steps, lr=config.lr)
    with torch.no_grad():
        logits, layers = model(x, layers=True)
    dead = torch.stack([(h == 0).all(-1).float().mean(-1) for h in layers.post[:-1]]).amax(0)
    return accuracy(logits, y), dead


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    x, y = plane(config.task, config.n_points, config.noise, seed=ctx.seed)
    shapes = [(a, w, d) for a in config.activations for d in config.depths for w in config.widths]
    results = {}  # shape -> (training accuracy [S], worst-layer dead fraction [S])
    for act, width, depth in ctx.progress(shapes, description="shapes"):
        results[(act, width, depth)] = train_shape(x, y, act, width, depth, config, ctx.seed)

    metrics, rows = {}, []
    for (act, width, depth), (acc, dead) in results.items():
        ok = acc >= config.threshold
        name = f"success_rate_{act}_w{width}_d{depth}"
        with_wilson(metrics, name, int(ok.sum()), ok.numel())
        metrics[name] = ok.float().mean().item()
        with_ci(metrics, f"train_acc_{act}_w{width}_d{depth}", acc, seed=config.seed)
        rows.append(
            {
                "activation": act,
                "width": width,
                "depth": depth,
                "success rate": ci_text(metrics, name),
                "mean accuracy": ci_text(metrics, f"train_acc_{act}_w{width}_d{depth}"),
                "median accuracy": acc.median().item(),
                "dead (failed)": _mean(dead[~ok]),
                "dead (succeeded)": _mean(dead[ok]),
            }
        )
    relu = [(acc, dead) for (act, _, _), (acc, dead) in results.items() if act == "relu"]
    if relu:
        acc = torch.cat([a for a, _ in relu])
        dead = torch.cat([d for _, d in relu])
        metrics["dead_fraction_failed"] = _mean(dead[acc < config.threshold])
        metrics["dead_fraction_succeeded"] = _mean(dead[acc >= config.threshold])
    ctx.table(
        "Per shape: success rate [95% Wilson interval] (n seeds), training accuracy mean [95% bootstrap CI] (n); dead = "
        "the worst layer's fraction of points zero in every unit, mean over runs", rows
    )
    ctx.note(
        f"{config.repeats} seeds per shape on '{config.task}' ({config.n_points} points), {config.steps} steps of "
        f"full-batch Adam (lr {config.lr}); success = training accuracy ≥ {config.threshold}. Dead-point fractions "
        "pool all ReLU runs (tanh never outputs exactly zero)."
    )
    rates = {(a, w, d): metrics[f"success_rate_{a}_w{w}_d{d}"] for a, w, d in results}
    ci = {(a, w, d): (metrics[f"success_rate_{a}_w{w}_d{d}_ci_low"], metrics[f"success_rate_{a}_w{w}_d{d}_ci_high"])
          for a, w, d in results} if config.repeats > 1 else None
    title = f"Training success on '{config.task}' over {config.repeats} seeds (95% Wilson intervals)"
    ctx.save_figure("success", success_figure(rates, config.widths, config.depths, config.activations,
                                              config.threshold, title, ci))
    if relu:
        ctx.save_figure("dead", dead_figure(results, config.widths, config.depths, config.threshold))
    ctx.save_arrays(
        **{f"train_acc_{a}_w{w}_d{d}": acc.numpy() for (a, w, d), (acc, _) in results.items()},
        **{f"dead_{a}_w{w}_d{d}": dead.numpy() for (a, w, d), (_, dead) in results.items()},
    )
    return metrics


def _mean(t: torch.Tensor) -> float:
    return t.mean().item() if t.numel() else math.nan
