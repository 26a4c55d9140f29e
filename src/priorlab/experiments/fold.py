"""Folding the plane: watch every layer of a narrow network map a 2-D task, before and after its non-linearity."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from priorlab.config import BaseConfig, UserError
from priorlab.context import RunContext
from priorlab.data.planes import grid_lines, plane
from priorlab.probe.folding import dead_fraction, mean_folds
from priorlab.train.batched_mlp import BatchedMLP, accuracy, train_classifier

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

LO, HI = -1.3, 1.3  # the input window drawn and gridded


class Config(BaseConfig):
    task: Literal["spiral", "circles", "xor", "moons", "gaussians"] = Field("spiral", description="2-D task")
    n_points: int = Field(
        400, ge=20, le=100_000, description="training points (a test set of the same size is drawn)"
    )
    noise: float = Field(0.05, ge=0.0, le=1.0, description="SD of the Gaussian jitter added to the points")
    width: int = Field(2, ge=2, le=256, description="units in every hidden layer")
    hidden_layers: int = Field(4, ge=1, le=12, description="hidden layers (layers in all = hidden + 2)")
    activation: Literal["relu", "tanh", "leaky_relu", "sigmoid"] = Field("relu", description="non-linearity")
    epochs: int = Field(1500, ge=1, le=100_000, description="full-batch Adam steps")
    lr: float = Field(0.02, gt=0.0, le=1.0, description="Adam learning rate")
    restarts: int = Field(
        8,
        ge=1,
        le=1024,
        description="networks trained at once (seeds seed, seed+1, ...); the best on the training set is drawn",
    )
    view: Literal["pca", "units"] = Field(
        "pca", description="for widths > 2: PCA of each layer, or the two `units`"
    )
    units: list[int] = Field(
        [0, 1], min_length=2, max_length=2, description="the two units drawn when view=units"
    )
    fold_tol: float = Field(
        20.0, gt=0.0, lt=180.0, description="angle (degrees) a mapped line must turn to count as a fold"
    )
    snapshots: int = Field(20, ge=2, le=60, description="frames of the training animation")

    FULL: ClassVar[dict] = {"n_points": 1000, "epochs": 3000, "lr": 0.01, "restarts": 32}


# ----------------------------------------------------------------------------------------------
# colours and projections


def position_colors(xy: np.ndarray) -> np.ndarray:
    """RGB for input positions [..., 2]: red grows to the right, blue upwards (a 2-D colour key)."""
    uv = np.clip((xy - LO) / (HI - LO), 0, 1)
    u, v = uv[..., 0], uv[..., 1]
    return np.stack(
        [0.1 + 0.85 * u, 0.25 + 0.5 * (1 - np.abs(u - v)) * (1 - 0.5 * (u + v)), 0.1 + 0.85 * v], -1
    )


def projector(h: torch.Tensor, view: str, units: list[int]):
    """A map from a layer's space to the plane, fitted on the data points' activations ``h`` [N, D]."""
    d = h.shape[-1]
    if d == 2:
        return (lambda z: z), ("unit 1", "unit 2")
    if view == "units":
        return (lambda z: z[..., units]), (f"unit {units[0] + 1}", f"unit {units[1] + 1}")
    mean = h.mean(0)
    _, s, vt = torch.linalg.svd(h - mean, full_matrices=False)
    basis = vt[:2].T
    share = (s[:2] ** 2).sum() / (s**2).sum().clamp_min(1e-12)
    return (lambda z: (z - mean) @ basis), (f"PC 1 ({share:.0%} of var. in PC1+2)", "PC 2")


# ----------------------------------------------------------------------------------------------


def stages(model: BatchedMLP, s: int, x: torch.Tensor) -> list[torch.Tensor]:
    """Network ``s``'s view of ``x`` [..., 2]: input, then (affine, non-linearity) per hidden layer, then output."""
    flat = x.reshape(-1, 2)
    with torch.no_grad():
        _, layers = model(flat, layers=True)
    out = [flat]
    for l in range(model.depth - 1):
        out += [layers.pre[l][s], layers.post[l][s]]
    out.append(layers.pre[-1][s])
    return [t.reshape(*x.shape[:-1], t.shape[-1]) for t in out]


def stage_names(model: BatchedMLP) -> list[str]:
    act = model.activation
    names = ["input"]
    for l in range(1, model.depth):
        names += [f"layer {l}: affine", f"layer {l}: {act}"]
    return names + [f"layer {model.depth}: output logits"]


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    if config.view == "units" and max(config.units) >= config.width:
        raise UserError(f"invalid 'units' {config.units}: each must be < width ({config.width})")
    if min(config.units) < 0 or config.units[0] == config.units[1]:
        raise UserError(f"invalid 'units' {config.units}: two different unit indices ≥ 0")

    x, y = plane(config.task, config.n_points, config.noise, seed=ctx.seed)
    x_test, y_test = plane(config.task, config.n_points, config.noise, seed=ctx.seed + 10_000)
    sizes = [2] + [config.width] * config.hidden_layers + [2]
    model = BatchedMLP(sizes, config.activation, seeds=config.restarts, seed=ctx.seed)

    lines = grid_lines(LO, HI, lines=13, points=120)
    every = max(1, -(-config.epochs // (config.snapshots - 1)))  # ≤ snapshots − 1 frames, then the final one
    history: list[tuple[int, list[torch.Tensor]]] = []

    def snapshot(epoch, m):
        history.append((epoch, [p.detach().clone() for p in m.parameters()]))

    ctx.log(f"training {config.restarts} networks {sizes} for {config.epochs} epochs")
    train_classifier(model, x, y, config.epochs, config.lr, callback=snapshot, every=every)
    with torch.no_grad():
        train_acc = accuracy(model(x), y)
        test_acc = accuracy(model(x_test), y_test)
    best = int(train_acc.argmax())
    ctx.note(
        f"{config.restarts} networks trained from seeds {ctx.seed}–{ctx.seed + config.restarts - 1}; "
        f"training accuracies: median {train_acc.median():.3f}, best {train_acc[best]:.3f} (seed {ctx.seed + best}, "
        f"drawn below); {(train_acc >= 0.9).float().mean():.0%} of them reach 0.9."
    )

    point_stages = stages(model, best, x)
    line_stages = stages(model, best, lines)
    names = stage_names(model)
    views = [projector(p, config.view, config.units) for p in point_stages]
    views[0] = (views[0][0], ("x₁", "x₂"))
    flat_points = [f(p) for (f, _), p in zip(views, point_stages)]
    flat_lines = [f(l) for (f, _), l in zip(views, line_stages)]

    metrics = {"accuracy": test_acc[best].item(), "train_accuracy": train_acc[best].item()}
    for l in range(1, model.depth + 1):
        output = line_stages[
            min(2 * l, len(line_stages) - 1)
        ]  # after the non-linearity; the last layer is linear
        metrics[f"folds_layer{l}"] = mean_folds(output, config.fold_tol)
        if l < model.depth:
            metrics[f"dead_fraction_layer{l}"] = dead_fraction(point_stages[2 * l])
    metrics["median_train_accuracy"] = train_acc.median().item()

    point_colors, line_colors = position_colors(x.numpy()), position_colors(lines.numpy())
    ctx.save_figure(
        "layers", _strip(model, names, views, flat_points, flat_lines, y, point_colors, line_colors, metrics)
    )
    ctx.save_figure("decision", _decision(model, best, x, y, metrics["train_accuracy"]))
    ctx.save_figure("colors", _color_key())
    _layers_gif(ctx.figure_path("layers.gif"), names, flat_points, flat_lines, y, point_colors, line_colors)
    _training_gif(
        ctx.figure_path("training.gif"), model, best, history, x, y, lines, point_colors, line_colors
    )

    ctx.save_model(model.to_sequential(best))
    ctx.save_arrays(
        x=x.numpy(),
        y=y.numpy(),
        grid=lines.numpy(),
        train_accuracy=train_acc.numpy(),
        test_accuracy=test_acc.numpy(),
        **{f"stage{i}": p.numpy() for i, p in enumerate(flat_points)},
    )
    return metrics


# ----------------------------------------------------------------------------------------------
# figures


class PlaneView:
    """Grid lines (each segment coloured by its input position) and data points (marker = class) on one axes;
    ``update`` moves them without redrawing, which keeps the animations cheap."""

    def __init__(self, ax, y, pc, lc, point_size=6):
        from matplotlib.collections import LineCollection

        self.ax, self.classes = ax, [np.asarray(y) == c for c in (0, 1)]
        self.lines = LineCollection([], colors=lc[:, :-1].reshape(-1, 3), linewidths=0.6, alpha=0.55)
        ax.add_collection(self.lines)
        self.points = [
            ax.scatter(
                np.zeros(m.sum()),
                np.zeros(m.sum()),
                c=pc[m],
                s=point_size,
                marker=marker,
                linewidths=0.7,
                zorder=3,
            )
            for m, marker in zip(self.classes, ("o", "x"))
        ]

    def update(self, pts, lns):
        pts, lns = np.asarray(pts), np.asarray(lns)
        self.lines.set_segments(np.stack([lns[:, :-1], lns[:, 1:]], 2).reshape(-1, 2, 2))
        for scatter, m in zip(self.points, self.classes):
            scatter.set_offsets(pts[m])
        # frame the data points (the grid runs on beyond them); a collapsed direction still gets some room
        lo, hi = pts.min(0), pts.max(0)
        span = np.maximum(hi - lo, 0.1 * (hi - lo).max() + 1e-6)
        mid = (lo + hi) / 2
        self.ax.set_xlim(mid[0] - 0.6 * span[0], mid[0] + 0.6 * span[0])
        self.ax.set_ylim(mid[1] - 0.6 * span[1], mid[1] + 0.6 * span[1])


def _strip(model, names, views, pts, lns, y, pc, lc, metrics):
    import matplotlib.pyplot as plt

    n_cols = model.depth + 1  # input, hidden layers, output
    fig, axes = plt.subplots(2, n_cols, figsize=(3.0 * n_cols, 6.4), squeeze=False)
    for col in range(n_cols):
        if col == 0:
            cells = [(0, 0)]
        elif col < model.depth:
            cells = [(0, 2 * col - 1), (1, 2 * col)]
        else:
            cells = [(0, len(names) - 1)]
        for row, i in cells:
            ax = axes[row, col]
            PlaneView(ax, y, pc, lc).update(pts[i], lns[i])
            title = names[i]
            if i > 0 and (i % 2 == 0 or i == len(names) - 1):
                l = col
                title += f"\nfolds {metrics[f'folds_layer{l}']:.1f}"
                if f"dead_fraction_layer{l}" in metrics:
                    title += f", dead {metrics[f'dead_fraction_layer{l}']:.0%}"
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(views[i][1][0], fontsize=8)
            ax.set_ylabel(views[i][1][1], fontsize=8)
            ax.tick_params(labelsize=7)
        if len(cells) == 1:
            axes[1, col].axis("off")
    axes[1, 0].text(
        0.5,
        0.5,
        "top: after the affine map\nbottom: after the non-linearity\n\ncolour = input position\n"
        "o class 0, x class 1",
        ha="center",
        va="center",
        fontsize=9,
        transform=axes[1, 0].transAxes,
    )
    sizes = "→".join(str(s) for s in model.sizes)
    fig.suptitle(
        f"How each layer maps the input plane ({model.depth + 1} layers: {sizes}; "
        f"test accuracy {metrics['accuracy']:.3f})"
    )
    fig.tight_layout()
    return fig


def _probability_grid(model, s, n=150):
    g = torch.linspace(LO, HI, n)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    with torch.no_grad():
        p = torch.softmax(model(torch.stack([xx, yy], -1).reshape(-1, 2))[s], -1)[:, 1]
    return xx.numpy(), yy.numpy(), p.reshape(n, n).numpy()


def _decision_panel(ax, model, s, x, y):
    xx, yy, p = _probability_grid(model, s)
    ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(xx, yy, p, levels=[0.5], colors="k", linewidths=1)
    for cls, color in ((0, "tab:blue"), (1, "tab:red")):
        m = y == cls
        ax.scatter(x[m, 0], x[m, 1], s=5, c=color, label=f"class {cls}")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_aspect("equal")


def _decision(model, s, x, y, acc):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.6))
    _decision_panel(ax, model, s, x, y)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"Decision regions (P(class 1), black: 0.5)\ntraining accuracy {acc:.3f}")
    return fig


def _color_key():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.4, 3.2))
    g = np.linspace(LO, HI, 100)
    xx, yy = np.meshgrid(g, g)
    ax.imshow(position_colors(np.stack([xx, yy], -1)), origin="lower", extent=(LO, HI, LO, HI))
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title("Colour of each input position")
    return fig


def _layers_gif(path, names, pts, lns, y, pc, lc, max_frames=48):
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    steps = max(2, (max_frames - 4) // (len(pts) - 1))
    frames = [(i, t) for i in range(len(pts) - 1) for t in np.linspace(0, 1, steps, endpoint=False)]
    frames += [(len(pts) - 2, 1.0)] * 4  # hold the output
    fig, ax = plt.subplots(figsize=(4, 4), dpi=72)
    ax.set_xticks([])
    ax.set_yticks([])
    view = PlaneView(ax, y, pc, lc, point_size=8)

    def draw(frame):
        i, t = frame
        mix = lambda a: (1 - t) * a[i].numpy() + t * a[i + 1].numpy()
        view.update(mix(pts), mix(lns))
        ax.set_title(names[i] if t < 0.5 else names[i + 1], fontsize=10)

    FuncAnimation(fig, draw, frames=frames).save(path, writer=PillowWriter(fps=8))
    plt.close(fig)


def _training_gif(path, model, s, history, x, y, lines, pc, lc):
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    final = [p.detach().clone() for p in model.parameters()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.6, 3.8), dpi=72)
    image = left.imshow(
        np.zeros((2, 2)), origin="lower", extent=(LO, HI, LO, HI), cmap="RdBu_r", vmin=0, vmax=1
    )
    for cls, color in ((0, "tab:blue"), (1, "tab:red")):
        left.scatter(x[y == cls, 0], x[y == cls, 1], s=6, c=color, edgecolors="k", linewidths=0.3)
    left.set_xlabel("x₁")
    left.set_ylabel("x₂")
    right.set_xlabel("logit class 0")
    right.set_ylabel("logit class 1")
    right.set_title(f"layer {model.depth}: output logits", fontsize=10)
    view = PlaneView(right, y, pc, lc)

    def draw(k):
        epoch, params = history[k]
        with torch.no_grad():
            for p, v in zip(model.parameters(), params):
                p.copy_(v)
            acc = accuracy(model(x), y)[s].item()
        image.set_data(_probability_grid(model, s, n=80)[2])
        left.set_title(f"epoch {epoch}: P(class 1), accuracy {acc:.2f}", fontsize=10)
        view.update(stages(model, s, x)[-1], stages(model, s, lines)[-1])

    FuncAnimation(fig, draw, frames=range(len(history))).save(path, writer=PillowWriter(fps=5))
    plt.close(fig)
    with torch.no_grad():
        for p, v in zip(model.parameters(), final):
            p.copy_(v)
