"""RDM figures: a strip of heatmaps on one colour scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def plot_rdm_strip(
    rdms: Sequence[np.ndarray],
    titles: Sequence[str],
    labels: Sequence | None = None,
    vmax: float | None = None,
    rank: bool = False,
    cmap: str = "viridis",
):
    """A row of RDM heatmaps on one colour scale; category boundaries drawn when `labels` are given.

    rank: show each RDM's off-diagonal entries as percentiles (0–100), so panels with very different ranges
    of dissimilarity show their structure on one scale."""
    import matplotlib.pyplot as plt

    rdms = [rank_transform(d) if rank else np.asarray(d) for d in rdms]
    vmax = 100.0 if rank else vmax if vmax is not None else max(float(d.max()) for d in rdms) or 1.0
    fig, axes = plt.subplots(1, len(rdms), figsize=(2.6 * len(rdms) + 0.8, 2.9), squeeze=False)
    for ax, d, title in zip(axes[0], rdms, titles):
        im = ax.imshow(d, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if labels is not None:
            labels_arr = np.asarray(labels)
            edges = np.flatnonzero(labels_arr[1:] != labels_arr[:-1]) + 1
            for b in edges - 0.5:
                ax.axhline(b, color="w", lw=0.8)
                ax.axvline(b, color="w", lw=0.8)
            if len(edges) < 12:  # name the categories at the centre of their blocks
                starts, stops = np.r_[0, edges], np.r_[edges, len(labels_arr)]
                ax.set_yticks((starts + stops - 1) / 2, [str(labels_arr[i])[:10] for i in starts], fontsize=6)
    label = "dissimilarity (percentile)" if rank else "dissimilarity"
    fig.colorbar(im, ax=axes[0].tolist(), fraction=0.02, pad=0.02, label=label)
    return fig


def rank_transform(d) -> np.ndarray:
    """Off-diagonal entries of a square RDM replaced by their percentile (ties averaged); diagonal 0."""
    from scipy.stats import rankdata

    d = np.asarray(d, dtype=float)
    off = ~np.eye(len(d), dtype=bool)
    out = np.zeros_like(d)
    out[off] = (rankdata(d[off]) - 1) / max(off.sum() - 1, 1) * 100
    return out
