"""Folding the plane: watch every layer of a narrow network map a 2-D task, before and after its non-linearity."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field, model_validator

from priorlab.config import BaseConfig, unique_list
from priorlab.context import RunContext
from priorlab.data.planes import grid_lines, plane
from priorlab.nets.batched_mlp import BatchedMLP, accuracy, cross_entropy, stage_names, stages
from priorlab.probe.folding import dead_fraction, mean_folds
from priorlab.train.loop import fit
from priorlab.viz import planes
from priorlab.viz.planes import HI, LO, position_colors, projector

DESCRIPTION = (
    "Folding the plane: each layer of a narrow network drawn as it maps a 2-D task (spiral, circles, ...)"
)
ORDER = 50
CITATION = (
    "A deep learning course lecture on what layers do: a network of 2-unit hidden layers maps the plane to the plane, "
    "each affine map + ReLU folds it, and the classes end up linearly separable (STUDIES.md §5)."
)
FIGURES = {
    "layers": "Each layer as it maps the input plane: top row after the affine map, bottom row after the "
    "non-linearity. Grid lines and data points are coloured by their position in the input plane (circles: class 0, "
    "crosses: class 1); titles give the fold count of straight input lines and the fraction of dead points.",
    "decision": "Decision regions of the trained network in the input plane, with the training points.",
    "colors": "The colour key: each input position's colour, used in every other figure.",
    "layers.gif": "The data points and grid moving through the layers, one stage after another.",
    "training.gif": "Training: decision regions (left) and the output layer's image of the plane (right), per epoch.",
}
DEMO = [{}]


class Config(BaseConfig):
    task: Literal["spiral", "circles", "xor", "moons", "gaussians"] = Field("spiral", description="2-D task")
    n_points: int = Field(
        400, ge=20, le=100_000, description="training points (a test set of the same size is drawn)"
    )
    noise: float = Field(0.05, ge=0.0, le=1.0, description="SD of the Gaussian jitter added to the points")
    width: int = Field(2, ge=2, le=256, description="units in every hidden layer")
    hidden_layers: int = Field(4, ge=1, le=12, description="hidden layers (layers in all = hidden + 2)")
    activation: Literal["relu", "tanh", "leaky_relu", "sigmoid"] = Field("relu", description="non-linearity")
    steps: int = Field(1500, ge=1, le=100_000, description="full-batch Adam steps")
    lr: float = Field(0.02, gt=0.0, le=1.0, description="Adam learning rate")
    repeats: int = Field(
        8,
        ge=1,
        le=1024,
        description="networks trained at once (seeds seed, seed+1, ...); the best on the training set is drawn",
    )
    view: Literal["pca", "units"] = Field(
        "pca", description="for widths > 2: PCA of each layer, or the two `units`"
    )
    units: unique_list(int, ge=0, le=255, min_length=2, max_length=2) = Field(
        [0, 1], description="the two units drawn when view=units (each < width)"
    )
    fold_tol: float = Field(
        20.0, gt=0.0, lt=180.0, description="angle (degrees) a mapped line must turn to count as a fold"
    )
    snapshots: int = Field(20, ge=2, le=60, description="frames of the training animation")

    FULL: ClassVar[dict] = {"n_points": 1000, "steps": 3000, "lr": 0.01, "repeats": 32}
    RENAMED: ClassVar[dict] = {"epochs": "steps", "restarts": "repeats"}

    @model_validator(mode="after")
    def _units_within_width(self):
        if self.view == "units" and max(self.units) >= self.width:
            raise ValueError(f"'units' {self.units}: each must be < width ({self.width}) when view=units")
        return self


def train(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, config: Config, ctx: RunContext) -> list:
    """Full-batch Adam on every network's cross-entropy; returns ≤ ``snapshots`` (step, parameters) pairs, the
    first before training and the last after it."""
    every = max(1, -(-config.steps // (config.snapshots - 1)))  # ≤ snapshots − 1 frames, then the final one
    weights = lambda: [p.detach().clone() for p in model.parameters()]
    history = [(0, weights())]

    def record(step: int, _loss: float) -> None:  # called after update `step`: the state after step + 1 steps
        if (step + 1) % every == 0 or step + 1 == config.steps:
            history.append((step + 1, weights()))

    fit(model, lambda _: cross_entropy(model(x), y).sum(), config.steps, lr=config.lr, callback=record,
        progress=ctx.progress, description="training")
    return history


def fold_metrics(depth: int, point_stages, line_stages, fold_tol: float) -> dict[str, float]:
    """``folds_layer<l>`` (grid lines after layer l's non-linearity; the last layer is linear) and
    ``dead_fraction_layer<l>`` (training points, hidden layers)."""
    metrics = {}
    for l in range(1, depth + 1):
        metrics[f"folds_layer{l}"] = mean_folds(line_stages[min(2 * l, len(line_stages) - 1)], fold_tol)
        if l < depth:
            metrics[f"dead_fraction_layer{l}"] = dead_fraction(point_stages[2 * l])
    return metrics


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    x, y = plane(config.task, config.n_points, config.noise, seed=ctx.seed)
    x_test, y_test = plane(config.task, config.n_points, config.noise, seed=ctx.seed + 10_000)
    sizes = [2] + [config.width] * config.hidden_layers + [2]
    model = BatchedMLP(sizes, config.activation, seeds=config.repeats, seed=ctx.seed)
    lines = grid_lines(LO, HI, lines=13, points=120)

    ctx.log(f"training {config.repeats} networks {sizes} for {config.steps} steps")
    history = train(model, x, y, config, ctx)

    with torch.no_grad():
        train_acc = accuracy(model(x), y)
        test_acc = accuracy(model(x_test), y_test)
    best = int(train_acc.argmax())
    ctx.note(
        f"{config.repeats} networks trained from seeds {ctx.seed}–{ctx.seed + config.repeats - 1}; "
        f"training accuracies: median {train_acc.median():.3f}, best {train_acc[best]:.3f} (seed {ctx.seed + best}, "
        f"drawn below); {(train_acc >= 0.9).float().mean():.0%} of them reach 0.9."
    )
    point_stages, line_stages = stages(model, best, x), stages(model, best, lines)
    metrics = {
        "acc": test_acc[best].item(),
        "train_acc": train_acc[best].item(),
        **fold_metrics(model.depth, point_stages, line_stages, config.fold_tol),
        "median_train_acc": train_acc.median().item(),
    }

    names = stage_names(model)
    views = [projector(p, config.view, config.units) for p in point_stages]
    views[0] = (views[0][0], ("x₁", "x₂"))
    flat_points = [f(p) for (f, _), p in zip(views, point_stages)]
    flat_lines = [f(l) for (f, _), l in zip(views, line_stages)]
    pc, lc = position_colors(x.numpy()), position_colors(lines.numpy())
    ctx.save_figure("layers", planes.layer_strip(model, names, views, flat_points, flat_lines, y, pc, lc, metrics))
    ctx.save_figure("decision", planes.decision_figure(model, best, x, y, metrics["train_acc"]))
    ctx.save_figure("colors", planes.color_key_figure())
    planes.layers_gif(ctx.figure_path("layers.gif"), names, flat_points, flat_lines, y, pc, lc)
    planes.training_gif(ctx.figure_path("training.gif"), model, best, history, x, y, lines, pc, lc)
    ctx.save_model(model.to_sequential(best))
    ctx.save_arrays(
        x=x.numpy(),
        y=y.numpy(),
        grid=lines.numpy(),
        train_acc=train_acc.numpy(),
        acc=test_acc.numpy(),
        **{f"stage{i}": p.numpy() for i, p in enumerate(flat_points)},
    )
    return metrics
