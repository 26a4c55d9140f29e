"""How often do narrow networks learn a 2-D task? Success rate vs width and depth, ReLU vs tanh, and dead points."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, LearningRate, Steps, unique_list
from priorlab.context import RunContext, shared_time
from priorlab.data.planes import plane
from priorlab.nets.batched_mlp import BatchedMLP
from priorlab.stats.claims import Claim
from priorlab.stats.intervals import ci_text, with_ci, with_wilson
from priorlab.train.loop import fit, per_trial
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


def train_shape(data: list, activation: str, width: int, depth: int, config: Config, seeds: list[int]) -> list:
    """Train ``repeats`` networks of one shape per trial, all trials' networks at once in one BatchedMLP (trial
    seed S: networks S, S+1, ...; network k of a trial on its trial's points ``data`` [(x, y)]); returns per trial
    the training accuracies and each network's dead-point fraction at its worst hidden layer (points zero in every
    unit), both [repeats]."""
    r, sizes = config.repeats, [2] + [width] * depth + [2]
    model = BatchedMLP(sizes, activation, seeds=r, seed=seeds[0])
    if len(seeds) > 1:  # the trials' networks side by side, each initialised as in its own trial
        parts = [model] + [BatchedMLP(sizes, activation, seeds=r, seed=s) for s in seeds[1:]]
        model = BatchedMLP(sizes, activation, seeds=r * len(seeds))
        with torch.no_grad():
            for p, *ps in zip(model.parameters(), *(m.parameters() for m in parts)):
                p.copy_(torch.cat(ps))
    xs = [xg.to(torch.get_default_dtype()) for xg, _ in data]
    x = xs[0] if len(xs) == 1 else torch.cat([xg.expand(r, *xg.shape) for xg in xs])  # [N, 2] or [trials × repeats, N, 2]
    y, k = torch.cat([yg.repeat(r) for _, yg in data]), model.seeds
    ce = lambda logits: nn.functional.cross_entropy(logits.reshape(-1, 2), y, reduction="none").view(k, -1).mean(1)
    fit(model, lambda _: ce(model(x)).sum(), config.steps, lr=config.lr)
    with torch.no_grad():
        logits, layers = model(x, layers=True)
    dead = torch.stack([(h == 0).all(-1).float().mean(-1) for h in layers.post[:-1]]).amax(0)
    acc = (logits.argmax(-1) == y.view(k, -1)).float().mean(-1)
    return [(acc[g * r:(g + 1) * r], dead[g * r:(g + 1) * r]) for g in range(len(seeds))]


def shapes_of(config: Config) -> list[tuple[str, int, int]]:
    return [(a, w, d) for a in config.activations for d in config.depths for w in config.widths]


def train_group(cfgs: list[Config], seeds: list[int], progress) -> list[dict]:
    """Per trial {shape: (training accuracy [repeats], worst-layer dead fraction [repeats])}: each shape trained once
    for all the trials (:func:`train_shape`)."""
    config = cfgs[0]
    data = [plane(config.task, config.n_points, config.noise, seed=s) for s in seeds]
    out = [{} for _ in seeds]
    for act, width, depth in progress(shapes_of(config), description="shapes"):
        for g, res in enumerate(train_shape(data, act, width, depth, config, seeds)):
            out[g][(act, width, depth)] = res
    return out


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    with ctx.timed("train"):
        (results,) = train_group([config], [ctx.seed], ctx.progress)
    return report(config, ctx, results)


def report(config: Config, ctx: RunContext, results: dict) -> dict[str, float]:
    """Metrics, table, note and the arrays :func:`draw` needs from one trial's ``results`` {shape: (accuracy [S],
    worst-layer dead fraction [S])}."""
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
    ctx.save_arrays(
        **{f"train_acc_{a}_w{w}_d{d}": acc.numpy() for (a, w, d), (acc, _) in results.items()},
        **{f"dead_{a}_w{w}_d{d}": dead.numpy() for (a, w, d), (_, dead) in results.items()},
    )
    return metrics


def draw(config: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """The success and dead-point figures from the run's accuracies and dead fractions (rates and Wilson intervals
    recomputed from them)."""
    results = {(a, w, d): (torch.from_numpy(np.asarray(arrays[f"train_acc_{a}_w{w}_d{d}"])),
                           torch.from_numpy(np.asarray(arrays[f"dead_{a}_w{w}_d{d}"]))) for a, w, d in shapes_of(config)}
    stats = {}
    for shape, (acc, _) in results.items():
        stats[shape] = with_wilson({}, "rate", int((acc >= config.threshold).sum()), acc.numel())
    rates = {shape: float((acc >= config.threshold).float().mean()) for shape, (acc, _) in results.items()}
    ci = {shape: (st["rate_ci_low"], st["rate_ci_high"]) for shape, st in stats.items()} if config.repeats > 1 else None
    title = f"Training success on '{config.task}' over {config.repeats} seeds (95% Wilson intervals)"
    if ctx.draws("success"):
        ctx.save_figure("success", success_figure(rates, config.widths, config.depths, config.activations,
                                                  config.threshold, title, ci))
    if "relu" in config.activations and ctx.draws("dead"):
        ctx.save_figure("dead", dead_figure(results, config.widths, config.depths, config.threshold))


# ----------------------------------------------------------------------------------------------
# sweeps: trials that differ only in the seed train together, each shape once for all of them

BATCH_KEYS = ("seed",)


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Trials of one config but for the seed: each shape's networks of every trial in one BatchedMLP
    (:func:`train_group`); yields each trial's metrics (or its exception) in order."""
    try:
        with shared_time(ctxs, "train"):
            trained = train_group(cfgs, [c.seed for c in ctxs], ctxs[0].progress)
    except Exception as exc:  # noqa: BLE001 - e.g. Diverged: the networks trained together share one loss
        trained = [exc] * len(cfgs)
    yield from per_trial(report, cfgs, ctxs, trained)


def _mean(t: torch.Tensor) -> float:
    return t.mean().item() if t.numel() else math.nan
