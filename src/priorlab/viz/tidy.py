"""Figures of tidy per-layer tables (``layer, network, measure, value, ci_low, ci_high``), e.g. ``Result.table``."""

from __future__ import annotations

import math


def plot_layer_table(table, measures: list[str] | None = None, title: str = ""):
    """One panel per measure, the layers in table order on x, one line per network (with its interval shaded
    where ci_low/ci_high are given). Returns the Figure."""
    import matplotlib.pyplot as plt

    chosen = list(dict.fromkeys(table["measure"])) if measures is None else list(measures)
    missing = [m for m in chosen if m not in set(table["measure"])]
    if missing or not chosen:
        raise ValueError(f"measures: {missing or chosen} not in the table (it has {sorted(set(table['measure']))})")
    layers = list(dict.fromkeys(table["layer"]))
    pos = {name: i for i, name in enumerate(layers)}
    cols = min(len(chosen), 3)
    rows = math.ceil(len(chosen) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, measure in zip(axes.flat, chosen):
        part = table[table["measure"] == measure]
        for network, sub in part.groupby("network", sort=False):
            x = [pos[n] for n in sub["layer"]]
            ax.plot(x, sub["value"], marker="o", ms=3, label=str(network))
            if {"ci_low", "ci_high"} <= set(sub) and sub["ci_low"].notna().any():
                ax.fill_between(x, sub["ci_low"], sub["ci_high"], alpha=0.2)
        ax.set_title(measure)
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels(layers, rotation=60, ha="right", fontsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(chosen):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
