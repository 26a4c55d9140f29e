"""Folding the plane: watch every layer of a narrow network map a 2-D task, before and after its non-linearity."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from priorlab.config import BaseConfig, LearningRate, Steps, unique_list
from priorlab.context import RunContext, shared_time
from priorlab.data.planes import grid_lines, plane
from priorlab.errors import Diverged
from priorlab.nets.batched_mlp import ACTIVATIONS, BatchedMLP, accuracy, cross_entropy, stages
from priorlab.probe.folding import dead_fraction, mean_folds
from priorlab.stats.claims import Claim
from priorlab.stats.intervals import ci_text, with_ci, with_wilson
from priorlab.train.ensemble import Ensemble, from_modules
from priorlab.train.loop import fit, per_trial
from priorlab.viz import planes
from priorlab.viz.planes import HI, LO

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


def networks_of(config: Config) -> list[tuple[list[int], str]]:
    """(layer sizes, activation) of the configured network, then of each success."""
    hidden = lambda width: [2] + [width] * config.hidden_layers + [2]
    return [(hidden(config.width), config.activation)] + [(hidden(w), a) for a, w in successes_of(config)]


def snapshot_marks(config: Config) -> list[int]:
    """Steps done at each frame of the training animation after the first (before training): ≤ ``snapshots`` − 1
    multiples of one stride, then the last step."""
    every = max(1, -(-config.steps // (config.snapshots - 1)))
    return sorted(set(range(every, config.steps + 1, every)) | {config.steps})


def train_group(cfgs: list[Config], seeds: list[int], ctx: RunContext) -> list[list | Exception]:
    """Every network of the trials (their configs equal but for the seed) through the ensemble engine: per network
    (sizes, activation) one Ensemble of all trials' ``repeats`` members (trial seed S: members S, S+1, ...), full-batch
    Adam on each member's own cross-entropy on its trial's points. Per trial: [(model, training accuracies [repeats],
    history [(step, parameters)])] per network, or the Diverged of its first non-finite loss."""
    config, r, dtype = cfgs[0], cfgs[0].repeats, torch.get_default_dtype()
    data = [plane(config.task, config.n_points, config.noise, seed=s) for s in seeds]
    x = torch.stack([d[0].to(dtype) for d in data]).repeat_interleave(r, 0).to(ctx.device)  # [trials × repeats, N, 2]
    y = torch.stack([d[1] for d in data]).repeat_interleave(r, 0).to(ctx.device)
    out, diverged = [[] for _ in seeds], torch.full((len(seeds) * r,), -1)
    for sizes, act in networks_of(config):
        members = [BatchedMLP(sizes, act, seeds=1, seed=s + k).to(ctx.device) for s in seeds for k in range(r)]
        ctx.log(f"training {len(members)} {act} networks {sizes} for {config.steps} steps")
        frames, bad = _train_members(members, x, y, config, ctx)
        diverged = torch.where((diverged < 0) & (bad >= 0), bad, diverged)
        for g, (xg, yg) in enumerate(data):
            part = [(step, [t[g * r:(g + 1) * r, 0] for t in state.values()]) for step, state in frames]
            model = BatchedMLP(sizes, act, seeds=r, seed=seeds[g])
            with torch.no_grad():
                for p, v in zip(model.parameters(), part[-1][1]):
                    p.copy_(v)
                acc = accuracy(model(xg.to(dtype)), yg)
            out[g].append((model, acc, part))
    bad = [diverged[g * r:(g + 1) * r] for g in range(len(seeds))]
    return [Diverged(int(b[b >= 0].min())) if (b >= 0).any() else nets for b, nets in zip(bad, out)]


def _train_members(members: list[BatchedMLP], x, y, config: Config, ctx: RunContext):
    """Train one-network BatchedMLPs as one Ensemble, member k on ``x[k]``, ``y[k]``; returns the frames [(step,
    {name: [K, ...] on the CPU})] (before training, then at :func:`snapshot_marks`) and each member's first
    non-finite step [K] (−1: none)."""
    fwd, params, frozen, masks = from_modules(members)
    ens = Ensemble(lambda p, x, y: cross_entropy(fwd(p, x), y).sum(), params, frozen=frozen, masks=masks,
                   lr=config.lr, batch_dims=(0, 0))
    state = lambda: {n: t.cpu().clone() for n, t in ens.params.items()}
    frames, done, diverged = [(0, state())], 0, torch.full((len(members),), -1)
    for mark in ctx.progress(snapshot_marks(config), description="training"):
        d = ens.train(mark - done, x, y).diverged_at.cpu()
        diverged = torch.where((diverged < 0) & (d >= 0), d + done, diverged)
        frames.append((mark, state()))
        done = mark
    return frames, diverged


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    with ctx.timed("train"):
        (trained,) = train_group([config], [ctx.seed], ctx)
    if isinstance(trained, Exception):
        raise trained
    return report(config, ctx, trained)


def report(config: Config, ctx: RunContext, trained: list) -> dict[str, float]:
    """The metrics, note, table, weights and the arrays :func:`draw` needs of one trial's trained networks."""
    dtype = torch.get_default_dtype()
    x, y = plane(config.task, config.n_points, config.noise, seed=ctx.seed)
    x_test, y_test = plane(config.task, config.n_points, config.noise, seed=ctx.seed + 10_000)
    x, x_test = x.to(dtype), x_test.to(dtype)
    (model, train_acc, history), *others = trained
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
    }
    panels = [linear_separability(point_stages[-2], y)]
    metrics["separable_last_hidden"] = panels[0][0]
    strips = [_strip_values(metrics, model.depth)]
    nets = {**planes.net_arrays(0, model, best), **planes.history_arrays("net0_hist_", history, best)}
    for j, ((act, width), (other, acc, _)) in enumerate(zip(successes_of(config), others), 1):
        s = int(acc.argmax())
        sep = linear_separability(last_hidden(other, s, x), y)
        with torch.no_grad():
            metrics[f"success_{act}{width}_acc"] = accuracy(other(x_test), y_test)[s].item()
        metrics[f"success_{act}{width}_train_acc"] = acc[s].item()
        metrics[f"success_{act}{width}_separable"] = sep[0]
        panels.append(sep)
        nets.update(planes.net_arrays(j, other, s))
        if j == 1:
            pts, lns = stages(other, s, x), stages(other, s, lines)
            folds = fold_metrics(other.depth, pts, lns, config.fold_tol)
            strips.append(_strip_values({"acc": metrics[f"success_{act}{width}_acc"], **folds}, other.depth))
    if others:
        act, width = successes_of(config)[0]
        metrics["separable_output"] = metrics[f"success_{act}{width}_separable"]
    seeds = over_seeds(ctx, config, metrics, train_acc, others)
    ctx.save_model(model.to_sequential(best))
    flat_points = planes.strip_views(point_stages, line_stages, config.view, config.units)[0]
    ctx.save_arrays(
        x=x.numpy(), y=y.numpy(), grid=lines.numpy(), train_acc=train_acc.numpy(), acc=test_acc.numpy(),
        **{f"stage{i}": p.numpy() for i, p in enumerate(flat_points)}, **nets, history_steps=[s for s, _ in history],
        **{f"strip{j}": v for j, v in enumerate(strips)}, sep_acc=[p[0] for p in panels],
        sep_b=[float(p[2]) for p in panels], **{f"sep_w{j}": p[1].numpy() for j, p in enumerate(panels)},
        **{f"seeds_acc{j}": acc for j, (_, acc, _) in enumerate(seeds)},
        seeds_stats=[[st.get(k, np.nan) for k in planes.SEED_STATS] for _, _, st in seeds],
    )
    return metrics


def _strip_values(metrics: dict, depth: int) -> np.ndarray:
    """A layer strip's title numbers: test accuracy, folds per layer, dead fraction per hidden layer."""
    return np.array([metrics["acc"], *(metrics[f"folds_layer{l}"] for l in range(1, depth + 1)),
                     *(metrics[f"dead_fraction_layer{l}"] for l in range(1, depth))])


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
    return [(label, acc.numpy(), {k: metrics[f"{prefix}{k}"] for k in planes.SEED_STATS if f"{prefix}{k}" in metrics})
            for label, acc, prefix in rows]


def draw(config: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure of a run from its arrays (:func:`priorlab.viz.planes.draw_fold`)."""
    labels = [f"{config.activation}, width {config.width} (configured)"]
    labels += [f"{act}, width {width} (best of {config.repeats})" for act, width in successes_of(config)]
    planes.draw_fold(ctx, arrays, networks_of(config), labels, config.view, config.units, SUCCESS, config.repeats > 1)


# ----------------------------------------------------------------------------------------------
# sweeps: trials that differ only in the seed train together, one ensemble per network of all trials' repeats

BATCH_KEYS = ("seed",)


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Trials of one config but for the seed: every network of every trial trained at once (:func:`train_group`);
    yields each trial's metrics (or its exception) in order."""
    with shared_time(ctxs, "train"):
        trained = train_group(cfgs, [c.seed for c in ctxs], ctxs[0])
    yield from per_trial(report, cfgs, ctxs, trained)
