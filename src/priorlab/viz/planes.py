"""Figures of 2-D tasks mapped through narrow networks (fold, foldsweep): the layer strip, decision regions, the colour
key, the layer and training animations, and success / dead-point plots.

Points and grid lines are coloured by their position in the input window [LO, HI]² (:func:`position_colors`); a layer
with more than two units is drawn through :func:`projector` (its two principal components, or two chosen units).
"""

from __future__ import annotations

import numpy as np
import torch

from priorlab.nets.batched_mlp import BatchedMLP, accuracy, stage_names, stages

LO, HI = -1.3, 1.3  # the input window drawn and gridded


def position_colors(xy: np.ndarray) -> np.ndarray:
    """RGB for input positions [..., 2]: red grows to the right, blue upwards (a 2-D colour key)."""
    uv = np.clip((xy - LO) / (HI - LO), 0, 1)
    u, v = uv[..., 0], uv[..., 1]
    return np.stack(
        [0.1 + 0.85 * u, 0.25 + 0.5 * (1 - np.abs(u - v)) * (1 - 0.5 * (u + v)), 0.1 + 0.85 * v], -1
    )


CLASS_RGB = np.array([[0.12, 0.47, 0.71], [0.84, 0.15, 0.16]])  # class 0 blue, class 1 red


def class_colors(y: np.ndarray) -> np.ndarray:
    """RGB per point from its class (0 blue, 1 red): the points' colours in the layer strips."""
    return CLASS_RGB[np.asarray(y).astype(int)]


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


def strip_views(point_stages, line_stages, view: str, units: list[int]):
    """The stages of one network drawn in the plane: (flat points, flat lines, views), each stage through the
    :func:`projector` fitted on its points (the input in its own coordinates)."""
    views = [projector(p, view, units) for p in point_stages]
    views[0] = (views[0][0], ("x₁", "x₂"))
    return ([f(p) for (f, _), p in zip(views, point_stages)], [f(l) for (f, _), l in zip(views, line_stages)],
            views)


# ----------------------------------------------------------------------------------------------
# a drawn network as arrays and back (fold saves its drawn networks, ``draw`` rebuilds them)


def net_arrays(j: int, model: BatchedMLP, s: int) -> dict[str, np.ndarray]:
    """Network ``s`` of ``model`` as arrays ``net<j>_w<l>`` [in, out] and ``net<j>_b<l>`` [1, out]."""
    return {f"net{j}_{n[0]}{n.split('.')[1]}": t[s].detach().numpy() for n, t in model.named_parameters()}


def history_arrays(prefix: str, history: list, s: int) -> dict[str, np.ndarray]:
    """Network ``s``'s parameters at each frame of ``history`` [(step, parameters)]: <prefix>w<l>, <prefix>b<l> as
    [frames, ...]."""
    depth = len(history[0][1]) // 2
    names = [f"{prefix}{k}{l}" for k in "wb" for l in range(depth)]
    return {n: np.stack([params[i][s].numpy() for _, params in history]) for i, n in enumerate(names)}


def net_from_arrays(arrays: dict, j: int, sizes: list[int], act: str, frame: int | None = None) -> BatchedMLP:
    """Network ``j`` of :func:`net_arrays` as a one-network BatchedMLP (at ``frame`` of its saved history if given)."""
    model = BatchedMLP(sizes, act, seeds=1)
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            name = f"{'wb'[i // model.depth]}{i % model.depth}"
            v = arrays[f"net{j}_{name}"] if frame is None else arrays[f"net{j}_hist_{name}"][frame]
            p.copy_(torch.as_tensor(np.asarray(v), dtype=p.dtype)[None])
    return model


# ----------------------------------------------------------------------------------------------


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


def layer_strip(model, names, views, pts, lns, y, pc, lc, metrics):
    """One column per layer of network ``model`` (a BatchedMLP): its stages ``pts``/``lns`` (points, grid lines)
    drawn through ``views`` (from :func:`projector`); titles read ``folds_layer<l>``, ``dead_fraction_layer<l>`` and
    ``acc`` from ``metrics``."""
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
        "top: after the affine map\nbottom: after the non-linearity\n\npoints: o class 0 (blue), x class 1 "
        "(red)\ngrid lines: colour = input position",
        ha="center",
        va="center",
        fontsize=9,
        transform=axes[1, 0].transAxes,
    )
    sizes = "→".join(str(s) for s in model.sizes)
    fig.suptitle(
        f"How each layer maps the input plane ({model.depth + 1} layers: {sizes}; "
        f"test accuracy {metrics['acc']:.3f})"
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


def decision_figure(model, s, x, y, acc):
    """Network ``s``'s decision regions in the input window, with the training points."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.6))
    _decision_panel(ax, model, s, x, y)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"Decision regions (P(class 1), black: 0.5)\ntraining accuracy {acc:.3f}")
    return fig


def color_key_figure():
    """The colour of each input position (the key to every other figure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.4, 3.2))
    g = np.linspace(LO, HI, 100)
    xx, yy = np.meshgrid(g, g)
    ax.imshow(position_colors(np.stack([xx, yy], -1)), origin="lower", extent=(LO, HI, LO, HI))
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title("Colour of each input position")
    return fig


def layers_gif(path, names, pts, lns, y, pc, lc, max_frames=48):
    """Points and grid moving from one stage to the next (≤ ``max_frames`` frames), written to ``path``."""
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


def training_gif(path, model, s, history, x, y, lines, pc, lc):
    """Training of network ``s``: ``history`` = [(step, parameters)], written to ``path``; the model is restored."""
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


def success_figure(rates, widths, depths, activations, threshold, title, ci=None):
    """Success rate against width: ``rates[(activation, width, depth)]``, one line per depth and activation, with
    error bars from ``ci[(activation, width, depth)] = (low, high)`` (the Wilson interval) where given. Lines are
    nudged sideways (a few percent of the width) so that their error bars do not hide each other."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4))
    styles = {"relu": "-", "tanh": "--", "leaky_relu": "-.", "sigmoid": ":"}
    lines = [(depth, act) for depth in depths for act in activations]
    for k, (depth, act) in enumerate(lines):
        i = depths.index(depth)
        rate = np.array([rates[act, w, depth] for w in widths])
        xs = np.array(widths, dtype=float) * 2 ** (0.06 * (k - (len(lines) - 1) / 2)) if ci else widths
        yerr = None
        if ci:
            lo, hi = np.array([ci[act, w, depth] for w in widths]).T
            yerr = np.clip([rate - lo, hi - rate], 0, None)
        ax.errorbar(xs, rate, yerr=yerr, fmt=styles[act], marker="o", capsize=3, color=f"C{i}",
                    label=f"{act}, {depth} hidden layers")
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("hidden-layer width (units)")
    ax.set_ylabel(f"success rate (train acc. ≥ {threshold})")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def dead_figure(results, widths, depths, threshold):
    """ReLU runs' worst-layer dead fractions against width: ``results[(activation, width, depth)] = (acc, dead)``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4))
    rng = np.random.default_rng(0)
    for (act, width, depth), (acc, dead) in results.items():
        if act != "relu":
            continue
        ok = (acc >= threshold).numpy()
        pos = np.log2(width) + 0.08 * (depths.index(depth) - (len(depths) - 1) / 2)
        for mask, color, label in ((~ok, "tab:red", "failed"), (ok, "tab:green", "succeeded")):
            jitter = rng.uniform(-0.04, 0.04, mask.sum())
            ax.scatter(pos + jitter, dead.numpy()[mask], s=14, c=color, alpha=0.6, label=label)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.set_xticks(np.log2(widths), [str(w) for w in widths])
    ax.set_xlabel("hidden-layer width (units)")
    ax.set_ylabel("dead-point fraction, worst layer")
    ax.set_title("ReLU runs: dead points in failed vs successful runs")
    ax.grid(alpha=0.3)
    return fig


def draw_fold(ctx, arrays: dict, nets: list, labels: list[str], view: str, units: list[int], threshold: float,
              seeds: bool) -> None:
    """Every fold figure from a run's arrays, through ``ctx`` (``draws``/``save_figure``/``figure_path``): the layer
    strips of the drawn networks (``layers``: the configured one, also in the decision regions and both animations;
    ``layers_success``: the first success), the separable panels (one per network of ``nets`` [(sizes, activation)],
    titled ``labels``), the colour key and, with ``seeds``, the spread over seeds."""
    from priorlab.viz.separable import seeds_figure, separable_figure

    x, lines = (torch.as_tensor(np.asarray(arrays[k]), dtype=torch.get_default_dtype()) for k in ("x", "grid"))
    y = torch.from_numpy(np.asarray(arrays["y"]))
    pc, lc = class_colors(y.numpy()), position_colors(lines.numpy())
    drawn = []
    for j, name in enumerate(("layers", "layers_success")[:len(nets)]):
        model, values = net_from_arrays(arrays, j, *nets[j]), np.asarray(arrays[f"strip{j}"], dtype=float)
        flat_points, flat_lines, views = strip_views(stages(model, 0, x), stages(model, 0, lines), view, units)
        names, d = stage_names(model), model.depth
        drawn.append((model, names, flat_points, flat_lines))
        metrics = {"acc": values[0], **{f"folds_layer{l}": values[l] for l in range(1, d + 1)},
                   **{f"dead_fraction_layer{l}": values[d + l] for l in range(1, d)}}
        if ctx.draws(name):
            ctx.save_figure(name, layer_strip(model, names, views, flat_points, flat_lines, y, pc, lc, metrics))
    model, names, flat_points, flat_lines = drawn[0]
    if ctx.draws("separable"):
        panels = [(label, stages(net_from_arrays(arrays, j, *nets[j]), 0, x)[-2], float(arrays["sep_acc"][j]),
                   torch.from_numpy(np.asarray(arrays[f"sep_w{j}"])), float(arrays["sep_b"][j]))
                  for j, label in enumerate(labels)]
        ctx.save_figure("separable", separable_figure(panels, y))
    if ctx.draws("decision"):
        ctx.save_figure("decision", decision_figure(model, 0, x, y, float(np.max(arrays["train_acc"]))))
    if ctx.draws("colors"):
        ctx.save_figure("colors", color_key_figure())
    if ctx.draws("layers"):
        layers_gif(ctx.figure_path("layers.gif"), names, flat_points, flat_lines, y, pc, lc)
    if ctx.draws("training"):
        history = [(int(s), list(net_from_arrays(arrays, 0, *nets[0], frame=i).parameters()))
                   for i, s in enumerate(np.asarray(arrays["history_steps"]).tolist())]
        training_gif(ctx.figure_path("training.gif"), model, 0, history, x, y, lines, pc, lc)
    if seeds and ctx.draws("seeds"):
        rows = [(label.rsplit(" (", 1)[0], arrays[f"seeds_acc{j}"], {k: float(v) for k, v in zip(SEED_STATS,
                 arrays["seeds_stats"][j]) if not np.isnan(v)}) for j, label in enumerate(labels)]
        ctx.save_figure("seeds", seeds_figure(rows, threshold))


SEED_STATS = ("success_rate", "success_rate_ci_low", "success_rate_ci_high", "mean_train_acc",
              "mean_train_acc_ci_low", "mean_train_acc_ci_high")  # the seeds figure's numbers, as fold saves them
