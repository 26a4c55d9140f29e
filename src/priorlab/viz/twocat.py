"""Figures of `twocat` (Guest's two-category toy): within/between-category correlation and RDMs per layer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from priorlab.viz.rdm import plot_rdm_strip


def plot_correlation(within: np.ndarray, between: np.ndarray, title: str):
    """Left: mean within- and between-category r per layer (band: SD over networks); right: 1 − r within a
    category on a log scale. within, between: [networks, layers] with layer 0 the input."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    layers = np.arange(within.shape[1])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for vals, name, colour in (
        (within, "within category", "tab:green"),
        (between, "between categories", "tab:purple"),
    ):
        m, s = vals.mean(0), vals.std(0)
        ax.plot(layers, m, "o-", ms=3, color=colour, label=name)
        ax.fill_between(layers, m - s, m + s, color=colour, alpha=0.15)
    ax.set(xlabel="layer (0 = input)", ylabel="mean Pearson r between items (band: SD over nets)", title=title)
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(0, 0.7))
    m = (1 - within).mean(0)
    ax2.plot(layers, m, "o-", ms=3, color="tab:green")
    ax2.set(
        xlabel="layer (0 = input)",
        ylabel="mean 1 − r within a category",
        yscale="log",
        title="Within-category dissimilarity (log scale)",
    )
    for a in (ax, ax2):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.spines[["top", "right"]].set_visible(False)
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
