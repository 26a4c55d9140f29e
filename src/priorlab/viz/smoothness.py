"""Figures of `smoothness` (Guest & Love 2017, Fig. 2A): r to the undistorted item per coding scheme."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

STUDY_LEVEL = 19  # the distortion level the study quotes numbers at

# weights, mean, CI low, CI high [schemes, levels] (low/high None for one run), {model: r at level 19}
Panel = tuple[str, np.ndarray, np.ndarray | None, np.ndarray | None, Mapping[int, float]]


def _colours(n_models: int) -> np.ndarray:
    import matplotlib.pyplot as plt

    return plt.cm.Greens(np.linspace(0.95, 0.3, n_models))  # darker = simpler


def plot_curves(panels: Sequence[Panel], labels: Sequence[str], sd_step: float, repeats: int):
    """r against the distortion level, one panel per weight scale, one curve per coding scheme (darker = simpler, a
    band for the 95% CI over repeats where there is more than one) beside the identity's 1/√(1+σ²) and the study's
    numbers at level 19 (stars).

    panels: (weights, mean, low, high, study) with mean, low, high: [schemes, levels] (low, high None for one repeat)
    and study: {model (1-based): r at level 19}."""
    import matplotlib.pyplot as plt

    n_models, n_levels = panels[0][1].shape
    levels = np.arange(n_levels)
    colours = _colours(n_models)
    low = min(0, *((mean if lo is None else lo).min() - 0.02 for _, mean, lo, _, _ in panels))

    curves, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels) + 2.2, 4.6), sharey=True, squeeze=False)
    for ax, (weights, mean, lo, hi, study) in zip(axes[0], panels):
        for m in range(n_models):
            ax.plot(levels, mean[m], color=colours[m], lw=2, label=labels[m])
            if lo is not None:
                ax.fill_between(levels, lo[m], hi[m], color=colours[m], alpha=0.25, lw=0)
        sigma = levels * sd_step
        ax.plot(levels, 1 / np.sqrt(1 + sigma**2), "k--", lw=1, label="1/√(1+σ²)")
        if STUDY_LEVEL < n_levels:
            for m, r in study.items():
                ax.plot(STUDY_LEVEL, r, "*", ms=13, mfc=colours[m - 1], mec="crimson", mew=1.2, clip_on=False,
                        label="the study, k = 19" if m == min(study) else None)
                ax.annotate(f"study: model {m} ≈ {r:g}", (STUDY_LEVEL, r), xytext=(-8, 6),
                            textcoords="offset points", ha="right", fontsize=7, color="crimson")
        ax.set(xlabel=f"level of distortion k (noise SD = {sd_step:.2f}·k)", ylim=(low, 1.03),
               title=f"{weights} ({repeats} runs)")
        ax.set_xticks(levels[:: max(1, len(levels) // 10)])
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].set_ylabel("Pearson r to the undistorted item")
    handles, names = axes[0, 0].get_legend_handles_labels()
    axes[0, -1].legend(handles, names, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                       title="model")
    curves.suptitle(f"Smoothness of {n_models} coding schemes: unit vs fan-in weights")
    curves.tight_layout()
    return curves


def plot_last_level(panels: Sequence[Panel], repeats: int):
    """r at the last level per coding scheme, mean with 95% CI error bars (more than one repeat), one bar per weight
    scale, with the study's numbers; panels as for :func:`plot_curves`."""
    import matplotlib.pyplot as plt

    n_models, n_levels = panels[0][1].shape
    last, colours = n_levels - 1, _colours(n_models)
    bars, ax = plt.subplots(figsize=(8, 4.4))
    x = np.arange(1, n_models + 1)
    width = 0.8 / len(panels)
    for i, ((weights, mean, lo, hi, study), hatch) in enumerate(zip(panels, ("", "//"))):
        offset = (i - (len(panels) - 1) / 2) * width
        yerr = None if lo is None else np.clip([mean[:, last] - lo[:, last], hi[:, last] - mean[:, last]], 0, None)
        ax.bar(x + offset, mean[:, last], width, yerr=yerr, capsize=2, color=colours, edgecolor="k", lw=0.5,
               hatch=hatch, label=weights)
        if last == STUDY_LEVEL and study:
            ax.plot([m + offset for m in study], list(study.values()), "*", ms=11, color="crimson",
                    label=f"the study ({weights})")
    ax.set(xlabel="coding scheme (model)", ylabel=f"r at level {last}", xticks=x,
           title=f"r at distortion level {last} per coding scheme"
           + (f" (mean, 95% CI over {repeats} runs)" if repeats > 1 else " (one run)"))
    ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2)
    ax.spines[["top", "right"]].set_visible(False)
    return bars
