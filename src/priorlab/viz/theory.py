"""Figures of `theory`: simulated random networks beside the mean-field correlation map, and the phase diagram."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def plot_correlation_maps(
    activations: Sequence[str],
    settings: Sequence[tuple[float, float]],
    c0s: Sequence[float],
    empirical: np.ndarray,
    theory: np.ndarray,
    title: str,
):
    """One panel per activation × (σ_w, σ_b): simulated correlation per layer (markers, bars = SD over networks)
    and the correlation map (lines), one colour per c0. empirical: [a, s, c, net, layer]; theory: [a, s, c, layer]."""
    import matplotlib.pyplot as plt

    n_a, n_s = len(activations), len(settings)
    fig, axes = plt.subplots(n_a, n_s, figsize=(2.6 * n_s + 0.5, 2.5 * n_a + 0.6), squeeze=False, sharey=True)
    layers = np.arange(1, theory.shape[-1] + 1)
    colours = plt.cm.viridis(np.linspace(0.1, 0.8, len(c0s)))
    for (a, act), (s, (sw, sb)) in itertools.product(enumerate(activations), enumerate(settings)):
        ax = axes[a, s]
        for c, c0 in enumerate(c0s):
            e = empirical[a, s, c]
            ax.plot(layers, theory[a, s, c], color=colours[c], lw=1.5, label=f"theory, c0={c0:g}")
            ax.errorbar(
                layers,
                e.mean(0),
                yerr=e.std(0),
                fmt="o",
                ms=2.5,
                color=colours[c],
                elinewidth=0.6,
                label=f"simulation, c0={c0:g}",
            )
        ax.set_title(f"{act}, σ_w={sw:g}, σ_b={sb:g}", fontsize=9)
        ax.set_ylim(-0.05, 1.05)
        if s == 0:
            ax.set_ylabel("correlation of pre-activations")
        if a == n_a - 1:
            ax.set_xlabel("weight layer")
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2 * len(c0s), frameon=False)
    return fig


def plot_phase_diagram(
    sws: np.ndarray,
    sbs: np.ndarray,
    chi: np.ndarray,
    sb_line: np.ndarray,
    tanh_line: np.ndarray,
    simulated: Sequence[tuple[float, float]],
):
    """χ₁ for tanh over the (σ_w, σ_b) grid (chi: [len(sbs), len(sws)]), the χ₁ = 1 lines for tanh (σ_w =
    tanh_line at σ_b = sb_line) and ReLU (σ_w = √2), the simulated settings, and Guest & Love's weight scales."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    mesh = ax.pcolormesh(sws, sbs, chi, norm=LogNorm(0.25, 4), cmap="coolwarm", shading="auto")
    fig.colorbar(mesh, ax=ax, label="χ₁ for tanh (<1 ordered, >1 chaotic)")
    ax.plot(tanh_line, sb_line, "k-", lw=2, label="χ₁ = 1, tanh")
    ax.axvline(np.sqrt(2), color="k", ls="--", lw=1.5, label="χ₁ = 1, ReLU (σ_w = √2)")
    ax.plot(
        [g[0] for g in simulated], [g[1] for g in simulated], "o", mfc="w", mec="k", ms=5, label="simulated settings"
    )
    ax.plot(
        [10],
        [0],
        "*",
        color="gold",
        mec="k",
        ms=16,
        clip_on=False,
        label="Guest & Love: N(0,1) weights, width 100 (σ_w=10)",
    )
    ax.plot(
        [1], [0], "P", color="lime", mec="k", ms=12, clip_on=False, label="fan-in N(0,1/100) and blog 0.1·N(0,1) (σ_w=1)"
    )
    ax.set(
        xscale="log",
        xlabel="σ_w (weights N(0, σ_w²/fan_in))",
        ylabel="σ_b (biases N(0, σ_b²))",
        title="Order/chaos phase diagram of deep random networks",
        xlim=(0.5, 14),
        ylim=(0, 1.5),
    )
    ax.set_xticks([0.5, 1, 2, 5, 10], ["0.5", "1", "2", "5", "10"])
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.55, -0.14), ncol=2, frameon=False)
    return fig
