"""Figures of `theory`: simulated random networks beside the mean-field correlation map, and the phase diagram."""

from __future__ import annotations

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

    rows = [distinct_panels(theory[a], settings) for a in range(len(activations))]
    n_a, cols = len(activations), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_a, cols, figsize=(2.6 * cols + 0.5, 2.5 * n_a + 0.6), squeeze=False, sharey=True)
    layers = np.arange(1, theory.shape[-1] + 1)
    colours = plt.cm.viridis(np.linspace(0.1, 0.8, len(c0s)))
    for a, act in enumerate(activations):
        for col in range(cols):
            ax = axes[a, col]
            if col >= len(rows[a]):
                ax.axis("off")
                continue
            s, same = rows[a][col]
            for c, c0 in enumerate(c0s):
                e = empirical[a, s, c]
                ax.plot(layers, theory[a, s, c], color=colours[c], lw=1.5, label=f"theory, c0={c0:g}")
                ax.errorbar(layers, e.mean(0), yerr=e.std(0), fmt="o", ms=2.5, color=colours[c], elinewidth=0.6,
                            label=f"simulation, c0={c0:g}")
            ax.set_title(f"{act}, " + _setting_title(settings, [s, *same]), fontsize=8)
            ax.set_ylim(-0.05, 1.05)
            if col == 0:
                ax.set_ylabel("correlation of pre-activations")
            ax.set_xlabel("weight layer")
            ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2 * len(c0s), frameon=False)
    return fig


def distinct_panels(theory: np.ndarray, settings: Sequence[tuple[float, float]], tol: float = 1e-9):
    """The settings whose correlation maps (theory [s, c, layer]) differ, each with the later settings that give the
    same map (ReLU and linear nets without bias do not depend on σ_w): [(setting, [same settings])]."""
    kept: list[tuple[int, list[int]]] = []
    for s in range(len(settings)):
        for k, same in kept:
            if np.abs(theory[s] - theory[k]).max() <= tol:
                same.append(s)
                break
        else:
            kept.append((s, []))
    return kept


def _setting_title(settings, group: list[int]) -> str:
    sws = [settings[s][0] for s in group]
    sb = settings[group[0]][1]
    sw = f"σ_w={sws[0]:g}" if len(sws) == 1 else "σ_w=" + "/".join(f"{w:g}" for w in sws) + " (same map)"
    return f"{sw}, σ_b={sb:g}"


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
    from matplotlib.ticker import NullFormatter, NullLocator

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    mesh = ax.pcolormesh(sws, sbs, chi, norm=LogNorm(0.25, 4), cmap="coolwarm", shading="auto")
    bar = fig.colorbar(mesh, ax=ax, label="χ₁ for tanh (<1 ordered, >1 chaotic)")
    bar.ax.yaxis.set_minor_locator(NullLocator())
    bar.ax.yaxis.set_minor_formatter(NullFormatter())
    bar.set_ticks([0.25, 0.5, 1, 2, 4], labels=["0.25", "0.5", "1", "2", "4"])
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
        ms=12,
        label="Guest & Love: N(0,1) weights, width 100 (σ_w=10)",
    )
    ax.plot(
        [1], [0], "P", color="lime", mec="k", ms=10, label="fan-in N(0,1/100) and blog 0.1·N(0,1) (σ_w=1)"
    )
    ax.set(
        xscale="log",
        xlabel="σ_w (weights N(0, σ_w²/fan_in))",
        ylabel="σ_b (biases N(0, σ_b²))",
        title="Order/chaos phase diagram of deep random networks",
        xlim=(0.5, 14),
        ylim=(-0.05, 1.5),
    )
    ax.set_xticks([0.5, 1, 2, 5, 10], ["0.5", "1", "2", "5", "10"])
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.55, -0.14), ncol=2, frameon=False)
    return fig
