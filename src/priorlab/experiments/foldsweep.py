"""How often do narrow networks learn a 2-D task? Success rate vs width and depth, ReLU vs tanh, and dead points."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from priorlab.config import BaseConfig
from priorlab.context import RunContext
from priorlab.data.planes import plane
from priorlab.train.batched_mlp import BatchedMLP, accuracy, train_classifier

DESCRIPTION = (
    "Training success rate of narrow networks on a 2-D task vs width and depth, ReLU vs tanh, and dead points"
)
ORDER = 51
CITATION = (
    "A deep learning course lecture: 2-unit hidden layers train badly, because a bias can push points out of the "
    "positive quadrant where ReLU zeroes them for good; wider or deeper networks train more easily (STUDIES.md §5)."
)
FIGURES = {
    "success": "Fraction of seeds whose training accuracy reaches the threshold, against hidden-layer width; one line "
    "per depth, solid ReLU, dashed tanh.",
    "dead": "ReLU runs: the dead-point fraction of each run's worst layer (points zero in every unit), against width, "
    "for runs that failed and runs that succeeded.",
}
DEMO = [{}]


class Config(BaseConfig):
    task: Literal["spiral", "circles", "xor", "moons", "gaussians"] = Field("spiral", description="2-D task")
    n_points: int = Field(200, ge=20, le=100_000, description="training points")
    noise: float = Field(0.05, ge=0.0, le=1.0, description="SD of the Gaussian jitter added to the points")
    widths: list[int] = Field([2, 3, 4, 8], min_length=1, description="hidden-layer widths")
    depths: list[int] = Field([4], min_length=1, description="numbers of hidden layers")
    activations: list[Literal["relu", "tanh", "leaky_relu", "sigmoid"]] = Field(
        ["relu", "tanh"], min_length=1, description="non-linearities compared"
    )
    repeats: int = Field(
        10, ge=1, le=4096, description="seeds per shape (seed, seed+1, ...), trained together"
    )
    epochs: int = Field(500, ge=1, le=100_000, description="full-batch Adam steps")
    lr: float = Field(0.03, gt=0.0, le=1.0, description="Adam learning rate")
    threshold: float = Field(0.9, gt=0.0, le=1.0, description="training accuracy that counts as success")

    FULL: ClassVar[dict] = {"n_points": 500, "depths": [2, 4, 6], "repeats": 20, "epochs": 2000, "lr": 0.01}


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    from priorlab.config import UserError

    for key in ("widths", "depths"):
        bad = [v for v in getattr(config, key) if not 1 <= v <= 512]
        if bad:
            raise UserError(f"invalid value {bad[0]} in '{key}' (allowed: integers 1–512)")

    x, y = plane(config.task, config.n_points, config.noise, seed=ctx.seed)
    shapes = [(a, w, d) for a in config.activations for d in config.depths for w in config.widths]
    results = {}  # shape -> (accuracy [S], worst-layer dead fraction [S])
    for act, width, depth in ctx.progress(shapes, description="shapes"):
        model = BatchedMLP([2] + [width] * depth + [2], act, seeds=config.repeats, seed=ctx.seed)
        train_classifier(model, x, y, config.epochs, config.lr)
        with torch.no_grad():
            logits, layers = model(x, layers=True)
        dead = torch.stack([(h == 0).all(-1).float().mean(-1) for h in layers.post[:-1]]).amax(0)
        results[(act, width, depth)] = (accuracy(logits, y), dead)

    metrics, rows = {}, []
    for (act, width, depth), (acc, dead) in results.items():
        ok = acc >= config.threshold
        metrics[f"success_rate_{act}_w{width}_d{depth}"] = ok.float().mean().item()
        rows.append(
            {
                "activation": act,
                "width": width,
                "depth": depth,
                "success rate": ok.float().mean().item(),
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
        "Per shape (dead = the worst layer's fraction of points zero in every unit, mean over runs)", rows
    )
    ctx.note(
        f"{config.repeats} seeds per shape on '{config.task}' ({config.n_points} points), {config.epochs} epochs of "
        f"full-batch Adam (lr {config.lr}); success = training accuracy ≥ {config.threshold}. Dead-point fractions "
        "pool all ReLU runs (tanh never outputs exactly zero)."
    )
    ctx.save_figure("success", _success_figure(config, metrics))
    if relu:
        ctx.save_figure("dead", _dead_figure(config, results))
    ctx.save_arrays(
        **{f"accuracy_{a}_w{w}_d{d}": acc.numpy() for (a, w, d), (acc, _) in results.items()},
        **{f"dead_{a}_w{w}_d{d}": dead.numpy() for (a, w, d), (_, dead) in results.items()},
    )
    return metrics


def _mean(t: torch.Tensor) -> float:
    return t.mean().item() if t.numel() else math.nan


def _success_figure(config, metrics):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4))
    styles = {"relu": "-", "tanh": "--", "leaky_relu": "-.", "sigmoid": ":"}
    for i, depth in enumerate(config.depths):
        for act in config.activations:
            rate = [metrics[f"success_rate_{act}_w{w}_d{depth}"] for w in config.widths]
            ax.plot(
                config.widths,
                rate,
                styles[act],
                marker="o",
                color=f"C{i}",
                label=f"{act}, {depth} hidden layers",
            )
    ax.set_xscale("log", base=2)
    ax.set_xticks(config.widths, [str(w) for w in config.widths])
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("hidden-layer width (units)")
    ax.set_ylabel(f"success rate (train acc. ≥ {config.threshold})")
    ax.set_title(f"Training success on '{config.task}' over {config.repeats} seeds")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _dead_figure(config, results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4))
    rng = np.random.default_rng(0)
    for (act, width, depth), (acc, dead) in results.items():
        if act != "relu":
            continue
        ok = (acc >= config.threshold).numpy()
        pos = np.log2(width) + 0.08 * (config.depths.index(depth) - (len(config.depths) - 1) / 2)
        for mask, color, label in ((~ok, "tab:red", "failed"), (ok, "tab:green", "succeeded")):
            jitter = rng.uniform(-0.04, 0.04, mask.sum())
            ax.scatter(pos + jitter, dead.numpy()[mask], s=14, c=color, alpha=0.6, label=label)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.set_xticks(np.log2(config.widths), [str(w) for w in config.widths])
    ax.set_xlabel("hidden-layer width (units)")
    ax.set_ylabel("dead-point fraction, worst layer")
    ax.set_title("ReLU runs: dead points in failed vs successful runs")
    ax.grid(alpha=0.3)
    return fig
