"""Figures of the locality experiment: class maps on the sheet, the prior, spatial variance, smoothness, pruning,
the cost sweep. Each function takes arrays and returns a matplotlib figure."""

from __future__ import annotations

import numpy as np

COLORS = {"control": "tab:blue", "locality": "tab:orange"}


def class_maps_figure(maps: dict[str, np.ndarray], side: int, title: str):
    """Per-class mean maps [classes, side*side] of each network (a row each, one colour scale per row)."""
    import matplotlib.pyplot as plt

    k = next(iter(maps.values())).shape[0]
    fig, axes = plt.subplots(len(maps), k, figsize=(1.5 * k + 1, 3.6), squeeze=False)
    for row, (kind, cm) in enumerate(maps.items()):
        for c in range(k):
            ax = axes[row, c]
            im = ax.imshow(cm[c].reshape(side, side), cmap="hot", interpolation="nearest", vmin=0,
                           vmax=np.nanmax(cm))
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(f"class {c}", fontsize=9)
        axes[row, 0].set_ylabel(kind)
        fig.colorbar(im, ax=list(axes[row]), fraction=0.015, pad=0.01, label="mean activation")
    fig.suptitle(title)
    return fig


def prior_figure(prior: np.ndarray, in_side: tuple[int, int], side: int, title: str):
    """The prior P [n_out, n_in] seen by the centre unit and the corner unit of a side x side sheet."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
    for ax, (name, unit) in zip(axes, [("centre unit", (side // 2) * side + side // 2), ("corner unit", 0)]):
        im = ax.imshow(prior[unit].reshape(in_side), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"prior P for the {name}")
        ax.set_xlabel("input unit column"), ax.set_ylabel("input unit row")
    fig.colorbar(im, ax=list(axes), label="P (fraction transmitted)")
    fig.suptitle(title)
    return fig


def spatial_variance_figure(var_class: dict[str, np.ndarray], uniform: float):
    """Spatial variance of each class-mean map, bars of mean ± SD over seeds (``var_class[kind]``: [seeds, classes]);
    dashed: the variance of a uniform map."""
    import matplotlib.pyplot as plt

    k = next(iter(var_class.values())).shape[1]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.38
    for i, (kind, v) in enumerate(var_class.items()):
        ax.bar(np.arange(k) + (i - 0.5) * width, np.nanmean(v, 0), width, yerr=np.nanstd(v, 0), label=kind,
               color=COLORS[kind], capsize=2)
    ax.axhline(uniform, color="grey", ls="--", lw=1, label="uniform map")
    lo = np.nanmin([np.nanmin(v) for v in var_class.values()])
    ax.set_ylim(max(0, 0.8 * lo), None)
    ax.set_xticks(range(k)), ax.set_xlabel("class"), ax.set_ylabel("spatial variance (grid units²)")
    n_seeds = len(next(iter(var_class.values())))
    ax.set_title(f"Spatial variance of class-mean maps (mean ± SD over {n_seeds} seeds)")
    ax.legend(fontsize=8)
    return fig


def smoothness_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], smoothness: dict[str, float],
                      shuffled: float):
    """|Δ preference| against distance (``curves[kind]``: bin centres [bins] and curves [seeds, bins], mean drawn)
    with each network's smoothness in the legend and the shuffled control in the title."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for kind, (centres, c) in curves.items():
        ax.plot(centres, np.nanmean(c, 0), "o-", color=COLORS[kind],
                label=f"{kind} (smoothness {smoothness[kind]:.2f})")
    ax.set_xlabel("distance between units (grid units)"), ax.set_ylabel("|Δ preference| (1 − r of class tuning)")
    ax.set_title(f"Tuning difference vs distance (shuffled positions: smoothness {shuffled:.2f})")
    ax.legend(fontsize=8)
    return fig


def sparsity_figure(keep: np.ndarray, sparsity: dict[str, np.ndarray]):
    """Test accuracy (mean ± SD over seeds; ``sparsity[kind]``: [seeds, len(keep)]) against the kept fraction."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for kind, c in sparsity.items():
        c = np.asarray(c)
        ax.errorbar(keep, c.mean(0), yerr=c.std(0), marker="o", capsize=3, color=COLORS[kind], label=kind)
    ax.set_xscale("log"), ax.set_xlabel("fraction of sheet connections kept (largest |W ⊙ P|)")
    ax.set_ylabel("test accuracy"), ax.set_title("Accuracy after pruning the sheet layer")
    ax.legend(fontsize=8)
    return fig


def sweep_figure(rows: list[dict], control_smoothness: float, n_seeds: int):
    """Accuracy, spatial variance and smoothness against prior strength, a line per cost (``rows``: the cost
    sweep's table rows); dashed: the control."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
    for (ax, key, ctl_key, label) in zip(
        axes, ["accuracy", "spatial variance", "smoothness"], ["control accuracy", "control variance", None],
        ["test accuracy", "spatial variance (images)", "smoothness"],
    ):
        for cost in dict.fromkeys(r["cost"] for r in rows):
            cells = [r for r in rows if r["cost"] == cost]
            ax.plot([r["strength"] for r in cells], [r[key] for r in cells], "o-", label=cost)
        ref = rows[0][ctl_key] if ctl_key else control_smoothness
        ax.axhline(ref, color=COLORS["control"], ls="--", lw=1, label="control")
        ax.set_xlabel("prior strength (P = g(d)^strength)"), ax.set_ylabel(label)
    axes[0].legend(fontsize=8, title="cost")
    fig.suptitle(f"Cost sweep ({n_seeds} seed{'s' if n_seeds > 1 else ''} per point; control: the same seeds)")
    return fig
