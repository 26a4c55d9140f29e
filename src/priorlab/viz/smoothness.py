"""Figures of `smoothness` (Guest & Love 2017, Fig. 2A): r to the undistorted item per coding scheme."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def plot_smoothness(
    mean: np.ndarray, sd: np.ndarray, labels: Sequence[str], sd_step: float, weights: str, repeats: int
) -> tuple[object, object]:
    """Two figures: r against the distortion level, one curve per coding scheme (darker = simpler) beside the
    identity's 1/√(1+σ²); and r at the last level per scheme, mean ± SD over repeats.

    mean, sd: [schemes, levels] over repeats; weights: how the weight scale is named in the titles."""
    import matplotlib.pyplot as plt

    n_models, n_levels = mean.shape
    levels, last = np.arange(n_levels), n_levels - 1
    colours = plt.cm.Greens(np.linspace(0.95, 0.3, n_models))  # darker = simpler

    curves, ax = plt.subplots(figsize=(9, 4.5))
    for m in range(n_models):
        ax.plot(levels, mean[m], color=colours[m], lw=2, label=labels[m])
    sigma = levels * sd_step
    ax.plot(levels, 1 / np.sqrt(1 + sigma**2), "k--", lw=1, label="1/√(1+σ²)")
    ax.set(
        xlabel=f"level of distortion k (noise SD = {sd_step:.2f}·k)",
        ylabel="Pearson r to the undistorted item",
        ylim=(min(0, mean.min() - 0.02), 1.03),
        title=f"Smoothness of {n_models} coding schemes ({weights}, {repeats} runs)",
    )
    ax.set_xticks(levels[:: max(1, len(levels) // 20)])
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, title="model")
    ax.spines[["top", "right"]].set_visible(False)

    bars, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(np.arange(1, n_models + 1), mean[:, last], yerr=sd[:, last], color=colours, edgecolor="k", lw=0.5)
    ax.set(
        xlabel="coding scheme (model)",
        ylabel=f"r at level {last}",
        title=f"r at distortion level {last} per coding scheme ({weights}; mean ± SD over runs)",
        xticks=np.arange(1, n_models + 1),
    )
    ax.spines[["top", "right"]].set_visible(False)
    return curves, bars
