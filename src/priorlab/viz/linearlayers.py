"""Figures of the linearlayers experiment: the input map's singular values, and error / alignment against depth."""

from __future__ import annotations

import numpy as np


def spectrum(svals: np.ndarray, k: int, title: str):
    """svals [L, seed, d]: singular values of the end-to-end input matrix, each divided by its largest; one curve
    per number of extra linear layers (mean over seeds, band min–max). A dashed line marks the index dimension k."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    rel = svals / svals[..., :1]
    idx = np.arange(1, svals.shape[2] + 1)
    for depth in range(svals.shape[0]):
        line = ax.plot(idx, rel[depth].mean(0), marker="o", ms=3, label=f"L = {depth}")[0]
        ax.fill_between(idx, rel[depth].min(0), rel[depth].max(0), color=line.get_color(), alpha=0.15)
    ax.axvline(k + 0.5, color="k", ls="--", lw=1, label=f"k = {k}")
    ax.set_yscale("log")
    ax.set(xlabel="singular value index", ylabel="σ_i / σ_1", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def by_depth(values: dict[str, np.ndarray], ylabel: str, title: str, log: bool = False, chance: float | None = None,
             ci: dict[str, tuple[np.ndarray, np.ndarray]] | None = None):
    """values {label: [L, seed]}: mean and every seed against L, and the 95% CI of the mean as a band where ci
    {label: (low [L], high [L])} gives it (more than one seed); y from 0 unless log."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for label, v in values.items():
        depths = np.arange(v.shape[0])
        line = ax.plot(depths, v.mean(1), marker="o", label=label)[0]
        if ci is not None and label in ci:
            ax.fill_between(depths, *ci[label], color=line.get_color(), alpha=0.2, lw=0,
                            label=f"{label}: 95% CI of the mean")
        for s in range(v.shape[1]):
            ax.plot(depths, v[:, s], color=line.get_color(), alpha=0.25, lw=0.8)
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":", label="random subspace (k/d)")
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xticks(np.arange(next(iter(values.values())).shape[0]))
    ax.set(xlabel="extra linear layers L", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
