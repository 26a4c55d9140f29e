"""Figures of `twocat` (Guest's two-category toy): within/between-category correlation and RDMs per layer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from priorlab.viz.rdm import plot_rdm_strip


def _per_layer_axes(axes):
    from matplotlib.ticker import MaxNLocator

    for a in axes:
        a.set_xlabel("layer (0 = input)")
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.spines[["top", "right"]].set_visible(False)


def plot_correlation(cases: Sequence[tuple[str, dict]], title: str):
    """Left: mean within- and between-category r per layer (band: SD over networks), one line style per case
    (solid: the configured weights, dashed: the chaotic case); right: 1 − r within a category on a log scale.
    cases: (name, measures) with measures["within"], ["between"]: [networks, layers], layer 0 the input."""
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for (case, m), style in zip(cases, ("o-", "s--")):
        layers = np.arange(m["within"].shape[1])
        for key, name, colour in (("within", "within category", "tab:green"),
                                  ("between", "between categories", "tab:purple")):
            mean, sd = m[key].mean(0), m[key].std(0)
            ax.plot(layers, mean, style, ms=3, color=colour, label=f"{name}, {case}")
            ax.fill_between(layers, mean - sd, mean + sd, color=colour, alpha=0.15)
        ax2.plot(layers, (1 - m["within"]).mean(0), style, ms=3, color="tab:green", label=case)
    ax.set(ylabel="mean Pearson r between items (band: SD over nets)", title=title)
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    ax2.set(ylabel="mean 1 − r within a category", yscale="log", title="Within-category dissimilarity (log scale)")
    ax2.legend(frameon=False, fontsize=8)
    _per_layer_axes((ax, ax2))
    fig.tight_layout()
    return fig


def plot_distances(cases: Sequence[tuple[str, dict]], title: str):
    """Per layer: the mean norm of a representation, the mean Euclidean distance within and between categories
    (log scale), and their ratio — does the representation shrink, or do the members merge? One line style per case."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for (case, m), style in zip(cases, ("o-", "s--")):
        layers = np.arange(m["norm"].shape[1])
        axes[0].plot(layers, m["norm"].mean(0), style, ms=3, color="k", label=case)
        axes[1].plot(layers, m["within_dist"].mean(0), style, ms=3, color="tab:green", label=f"within, {case}")
        axes[1].plot(layers, m["between_dist"].mean(0), style, ms=3, color="tab:purple", label=f"between, {case}")
        axes[2].plot(layers, (m["within_dist"] / m["between_dist"]).mean(0), style, ms=3, color="tab:blue",
                     label=case)
    axes[0].set(ylabel="mean norm ‖h‖ of an item", title="Size of the representation", ylim=(0, None))
    axes[1].set(ylabel="mean Euclidean distance", yscale="log", title="Distances within and between categories")
    axes[2].set(ylabel="within / between distance", ylim=(0, 1.1), title="Members relative to categories")
    for a in axes:
        a.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    _per_layer_axes(axes)
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    return fig


def plot_strips(rdms: Sequence[np.ndarray], layers: Sequence[int], cats: np.ndarray, title: str, within_title: str):
    """Two strips of the RDMs at `layers` (0 = input): all items (category boundaries drawn), and the first
    category's members alone, rank-transformed."""
    titles = [f"layer {layer}" if layer else "input" for layer in layers]
    everything = plot_rdm_strip(rdms, titles, cats)
    everything.suptitle(title, y=1.02)
    members = cats == cats[0]
    first = plot_rdm_strip([d[members][:, members] for d in rdms], titles, rank=True)
    first.suptitle(within_title, y=1.02)
    return everything, first


def plot_rdm_vs_input(overall: np.ndarray, within: np.ndarray):
    """Spearman r of each layer's RDM with the input RDM: all items, and within a category (mean over categories)."""
    import matplotlib.pyplot as plt

    layers = np.arange(overall.shape[1])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(layers, overall.mean(0), "o-", ms=3, label="all items")
    ax.plot(layers, within.mean(0), "s-", ms=3, label="within a category (mean over categories)")
    ax.set(
        xlabel="layer (0 = input)",
        ylabel="Spearman r with the input RDM",
        title="How much of the input's similarity structure each layer keeps",
        ylim=(-0.05, 1.05),
    )
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
