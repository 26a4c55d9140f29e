"""Folding the plane: watch every layer of a narrow network map a 2-D task, before and after its non-linearity."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field, field_validator, model_validator

from priorlab.config import BaseConfig, LearningRate, Steps, unique_list
from priorlab.context import RunContext
from priorlab.data.planes import grid_lines, plane
from priorlab.nets.batched_mlp import ACTIVATIONS, BatchedMLP, accuracy, cross_entropy, stage_names, stages
from priorlab.probe.folding import dead_fraction, mean_folds
from priorlab.stats.claims import Claim
from priorlab.stats.intervals import ci_text, with_ci, with_wilson
from priorlab.train.loop import fit
from priorlab.viz import planes
from priorlab.viz.planes import HI, LO, class_colors, position_colors, projector

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
    "layers_success": "The same strip for the first network of `successes` (by default the same 2-unit layers with "
    "tanh, the best of the seeds): a network that does fold the classes apart.",
    "separable": "The last hidden layer of the configured network and of each success, points by class, with the line "
    "a linear classifier (logistic regression) draws between the classes and its accuracy.",
    "seeds": "Training accuracy of every seed of each network (dots), the mean with its 95% bootstrap CI over seeds "
    "(bar) and the success threshold 0.9 (dotted); the label gives the success rate with its 95% Wilson interval.",
    "decision": "Decision regions of the trained network in the input plane, with the training points.",
    "colors": "The colour key: each input position's colour, used in every other figure.",
    "layers.gif": "The data points and grid moving through the layers, one stage after another.",
    "training.gif": "Training: decision regions (left) and the output layer's image of the plane (right), per epoch.",
}
DEMO = [{}]
QUESTION = (
    "Does a network of 2-unit layers fold the plane until the classes are linearly separable at the output, and how "
    "often does such a narrow network train at all?"
)
KEY_FIGURE = "separable"
SOURCE = "the deep learning course lecture on what layers do (STUDIES.md §5)"
SUCCESS = 0.9  # training accuracy that counts a seed as trained


class Config(BaseConfig):
    task: Literal["spiral", "circles", "xor", "moons", "gaussians"] = Field("spiral", description="2-D task")
    n_points: int = Field(
        400, ge=20, le=100_000, description="training points (a test set of the same size is drawn)"
    )
    noise: float = Field(0.05, ge=0.0, le=1.0, description="SD of the Gaussian jitter added to the points")
    width: int = Field(2, ge=2, le=256, description="units in every hidden layer")
    hidden_layers: int = Field(4, ge=1, le=12, description="hidden layers (layers in all = hidden + 2)")
    activation: Literal["relu", "tanh", "leaky_relu", "sigmoid"] = Field("relu", description="non-linearity")
    steps: Steps = Field(1500, description="full-batch Adam steps")
    lr: LearningRate = Field(0.02, description="Adam learning rate")
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
    successes: list[str] = Field(
        ["tanh:2", "tanh:8"],
        description="networks trained beside, as activation:width (same depth and task, best of repeats); the "
        "first is drawn layer by layer and its last hidden layer tested for linear separability",
    )

    FULL: ClassVar[dict] = {"n_points": 1000, "steps": 3000, "lr": 0.01, "repeats": 32}
    RENAMED: ClassVar[dict] = {"epochs": "steps", "restarts": "repeats"}

    @field_validator("successes")
    @classmethod
    def _successes_ok(cls, v):
        for spec in v:
            act, _, width = str(spec).partition(":")
            if act not in ACTIVATIONS or not width.isdigit() or not 2 <= int(width) <= 256:
                raise ValueError(f"'{spec}' is not activation:width with activation in {list(ACTIVATIONS)}, "
                                 "2 ≤ width ≤ 256")
        return v

    @model_validator(mode="after")
    def _units_within_width(self):
        if self.view == "units" and max(self.units) >= self.width:
            raise ValueError(f"'units' {self.units}: each must be < width ({self.width}) when view=units")
        return self


def setup(config: Config) -> str:
    others = ", ".join(f"{a} width {w}" for a, w in successes_of(config))
    return (
        f"'{config.task}' task, {config.n_points} training and {config.n_points} test points; {config.repeats} seeds "
        f"each of {config.hidden_layers} hidden layers of {config.width} {config.activation} units"
        + (f", and beside them the same depth with {others}" if others else "")
        + f"; {config.steps} full-batch Adam steps, the best seed on the training set drawn."
    )


def claims(config: Config) -> list[Claim]:
    narrow_relu = config.width == 2 and config.activation == "relu"
    out = [
        Claim("2-unit ReLU layers train badly: the median seed stays below 0.9 training accuracy", SOURCE,
              "median_train_acc", (0.5, 0.9),
              applies=True if narrow_relu else "the lecture's claim is about 2-unit ReLU layers"),
    ]
    if config.successes:
        act, width = successes_of(config)[0]
        out.append(Claim(f"the classes become linearly separable at the last hidden layer (lecture Fig. 4), here of "
                         f"the drawn success ({act}, width {width}): linear-classifier accuracy ≥ 0.95", SOURCE,
                         "separable_output", (0.95, 1.0)))
    out += [
        Claim(f"a wider network trains more easily: {act} width {width} reaches training accuracy ≥ 0.95", SOURCE,
              f"success_{act}{width}_train_acc", (0.95, 1.0))
        for act, width in successes_of(config) if width > config.width
    ]
    return out


def successes_of(config: Config) -> list[tuple[str, int]]:
    return [(spec.split(":")[0], int(spec.split(":")[1])) for spec in config.successes]


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


def linear_separability(h: torch.Tensor, y: torch.Tensor, steps: int = 300) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Accuracy of a logistic-regression line (hyperplane) fitted to the points ``h`` [N, D] and labels ``y``: is
    the layer linearly separable? Returns (accuracy, w [D], b) in the coordinates of ``h``."""
    mean, sd = h.mean(0), h.std(0).clamp_min(1e-6)
    z = (h - mean) / sd
    w = torch.zeros(h.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    target = y.float()
    fit([w, b], lambda _: torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, target), steps, lr=0.1)
    with torch.no_grad():
        acc = ((z @ w + b > 0).long() == y).float().mean().item()
        return acc, w / sd, b - (w / sd) @ mean


def last_hidden(model: BatchedMLP, s: int, x: torch.Tensor) -> torch.Tensor:
    """Network ``s``'s last hidden layer (after its non-linearity) for the points ``x``."""
    return stages(model, s, x)[-2]


def train_networks(sizes_act: list[tuple[list[int], str]], x, y, config: Config, ctx: RunContext):
    """Train ``repeats`` networks per (sizes, activation); returns [(model, training accuracies [repeats], history)]."""
    out = []
    for sizes, act in sizes_act:
        model = BatchedMLP(sizes, act, seeds=config.repeats, seed=ctx.seed)
        ctx.log(f"training {config.repeats} {act} networks {sizes} for {config.steps} steps")
        history = train(model, x, y, config, ctx)
        with torch.no_grad():
            out.append((model, accuracy(model(x), y), history))
    return out


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    x, y = plane(config.task, config.n_points, config.noise, seed=ctx.seed)
    x_test, y_test = plane(config.task, config.n_points, config.noise, seed=ctx.seed + 10_000)
    hidden = lambda width: [2] + [width] * config.hidden_layers + [2]
    nets = [(hidden(config.width), config.activation)] + [(hidden(w), a) for a, w in successes_of(config)]
    (model, train_acc, history), *others = train_networks(nets, x, y, config, ctx)

    with torch.no_grad():
        test_acc = accuracy(model(x_test), y_test)
    best = int(train_acc.argmax())
    ctx.note(
        f"{config.repeats} networks trained from seeds {ctx.seed}–{ctx.seed + config.repeats - 1}; "
        f"training accuracies: median {train_acc.median():.3f}, best {train_acc[best]:.3f} (seed {ctx.seed + best}, "
        f"drawn below); {(train_acc >= SUCCESS).float().mean():.0%} of them reach {SUCCESS:g}."
    )
    lines = grid_lines(LO, HI, lines=13, points=120)
    point_stages, line_stages = stages(model, best, x), stages(model, best, lines)
    metrics = {
        "acc": test_acc[best].item(),
        "train_acc": train_acc[best].item(),
        **fold_metrics(model.depth, point_stages, line_stages, config.fold_tol),
        "median_train_acc": train_acc.median().item(),
        "separable_last_hidden": linear_separability(point_stages[-2], y)[0],
    }
    panels = [(f"{config.activation}, width {config.width} (configured)", point_stages[-2],
               *linear_separability(point_stages[-2], y))]
    for (act, width), (other, acc, _) in zip(successes_of(config), others):
        s = int(acc.argmax())
        sep = linear_separability(last_hidden(other, s, x), y)
        with torch.no_grad():
            metrics[f"success_{act}{width}_acc"] = accuracy(other(x_test), y_test)[s].item()
        metrics[f"success_{act}{width}_train_acc"] = acc[s].item()
        metrics[f"success_{act}{width}_separable"] = sep[0]
        panels.append((f"{act}, width {width} (best of {config.repeats})", last_hidden(other, s, x), *sep))
    if others:
        act, width = successes_of(config)[0]
        metrics["separable_output"] = metrics[f"success_{act}{width}_separable"]
    seeds = over_seeds(ctx, config, metrics, train_acc, others)
    flat_points = _figures(ctx, config, model, best, history, x, y, lines, metrics, others, panels)
    if config.repeats > 1:
        from priorlab.viz.separable import seeds_figure

        ctx.save_figure("seeds", seeds_figure(seeds, SUCCESS))
    ctx.save_model(model.to_sequential(best))
    ctx.save_arrays(x=x.numpy(), y=y.numpy(), grid=lines.numpy(), train_acc=train_acc.numpy(), acc=test_acc.numpy(),
                    **{f"stage{i}": p.numpy() for i, p in enumerate(flat_points)})
    return metrics


def over_seeds(ctx: RunContext, config: Config, metrics: dict, train_acc: torch.Tensor, others: list) -> list:
    """``success_rate`` (seeds reaching training accuracy 0.9, Wilson interval) and ``mean_train_acc`` (bootstrap CI
    over seeds), each with ``_n``, for the configured network and as ``success_<act><width>_…`` for the others, and
    their table; returns the rows [(label, training accuracies, {metric: value})] for the seeds figure."""
    rows = [(f"{config.activation}, width {config.width}", train_acc, "")]
    rows += [(f"{act}, width {width}", acc, f"success_{act}{width}_")
             for (act, width), (_, acc, _) in zip(successes_of(config), others)]
    for _, acc, prefix in rows:
        with_wilson(metrics, f"{prefix}success_rate", int((acc >= SUCCESS).sum()), acc.numel())
        with_ci(metrics, f"{prefix}mean_train_acc", acc, seed=config.seed)
    ctx.table(f"Over the {config.repeats} seeds: success rate (training accuracy ≥ {SUCCESS:g}) [95% Wilson interval] "
              "and mean training accuracy [95% bootstrap CI] (n seeds)",
              [{"network": label, "success rate": ci_text(metrics, f"{prefix}success_rate", 2),
                "mean training accuracy": ci_text(metrics, f"{prefix}mean_train_acc"),
                "best seed": round(float(acc.max()), 3)} for label, acc, prefix in rows])
    return [(label, acc.numpy(), {k: metrics[f"{prefix}{k}"] for k in ("success_rate", "success_rate_ci_low",
             "success_rate_ci_high", "mean_train_acc", "mean_train_acc_ci_low", "mean_train_acc_ci_high")
             if f"{prefix}{k}" in metrics}) for label, acc, prefix in rows]


def _strip(ctx, name, config, model, s, x, y, lines, metrics):
    """The layer strip of network ``s`` of ``model``; returns the flat point and line stages drawn."""
    point_stages, line_stages = stages(model, s, x), stages(model, s, lines)
    views = [projector(p, config.view, config.units) for p in point_stages]
    views[0] = (views[0][0], ("x₁", "x₂"))
    flat_points = [f(p) for (f, _), p in zip(views, point_stages)]
    flat_lines = [f(l) for (f, _), l in zip(views, line_stages)]
    pc, lc = class_colors(y.numpy()), position_colors(lines.numpy())
    names = stage_names(model)
    ctx.save_figure(name, planes.layer_strip(model, names, views, flat_points, flat_lines, y, pc, lc, metrics))
    return names, flat_points, flat_lines, pc, lc


def _figures(ctx, config, model, best, history, x, y, lines, metrics, others, panels) -> list:
    """Every figure; returns the drawn network's flat point stages (saved as arrays)."""
    from priorlab.viz.separable import separable_figure

    names, flat_points, flat_lines, pc, lc = _strip(ctx, "layers", config, model, best, x, y, lines, metrics)
    if others:
        other, acc, _ = others[0]
        s = int(acc.argmax())
        pts, lns = stages(other, s, x), stages(other, s, lines)
        act, width = successes_of(config)[0]
        success = {"acc": metrics[f"success_{act}{width}_acc"], **fold_metrics(other.depth, pts, lns, config.fold_tol)}
        _strip(ctx, "layers_success", config, other, s, x, y, lines, success)
    ctx.save_figure("separable", separable_figure(panels, y))
    ctx.save_figure("decision", planes.decision_figure(model, best, x, y, metrics["train_acc"]))
    ctx.save_figure("colors", planes.color_key_figure())
    planes.layers_gif(ctx.figure_path("layers.gif"), names, flat_points, flat_lines, y, pc, lc)
    planes.training_gif(ctx.figure_path("training.gif"), model, best, history, x, y, lines, pc, lc)
    return flat_points
