"""The last hidden layer of 2-D task networks (fold) with the line a linear classifier draws between the classes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from priorlab.viz.planes import CLASS_RGB

# (title, last hidden layer [N, D], linear-classifier accuracy, w [D], b): one panel each
Panel = tuple[str, torch.Tensor, float, torch.Tensor, torch.Tensor]


def separable_figure(panels: Sequence[Panel], y: torch.Tensor):
    """One panel per network: its last hidden layer's points by class and the separating line w·h + b = 0.

    A 2-unit layer is drawn in its own coordinates; a wider one in the plane of the classifier's score w·h + b
    (horizontal, the line is x = 0) and the main direction of the rest (vertical)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.1), squeeze=False)
    y = np.asarray(y)
    for ax, (title, h, acc, w, b) in zip(axes[0], panels):
        pts, line, labels = _view(h.double(), w.double(), float(b))
        for c, marker in ((0, "o"), (1, "x")):
            m = y == c
            ax.scatter(pts[m, 0], pts[m, 1], s=8, color=CLASS_RGB[c], marker=marker, linewidths=0.8,
                       label=f"class {c}")
        lo, hi = pts.min(0), pts.max(0)
        pad = 0.08 * np.maximum(hi - lo, 0.1 * (hi - lo).max() + 1e-3)
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax.plot(*line(ax.get_xlim(), ax.get_ylim()), "k-", lw=1.5, label="linear classifier")
        ax.set(xlabel=labels[0], ylabel=labels[1])
        ax.set_title(f"{title}\nlinear classifier accuracy {acc:.3f}", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle("The last hidden layer: can a line separate the classes?")
    fig.tight_layout()
    return fig


def _view(h: torch.Tensor, w: torch.Tensor, b: float):
    """Points in the drawn plane [N, 2], a function (xlim, ylim) -> the separating line's (xs, ys), axis labels."""
    if h.shape[1] == 2:
        def line(xlim, ylim):
            if abs(w[1]) > abs(w[0]):  # y = −(w0 x + b) / w1
                xs = np.array(xlim)
                return xs, -(w[0].item() * xs + b) / w[1].item()
            ys = np.array(ylim)
            return -(w[1].item() * ys + b) / w[0].item(), ys

        return h.numpy(), line, ("unit 1", "unit 2")
    score = h @ w + b
    rest = h - torch.outer(h @ w, w) / (w @ w).clamp_min(1e-12)
    rest = rest - rest.mean(0)
    _, _, vt = torch.linalg.svd(rest, full_matrices=False)
    pts = torch.stack([score, rest @ vt[0]], 1).numpy()
    return pts, (lambda xlim, ylim: (np.zeros(2), np.array(ylim))), ("classifier score w·h + b", "main other direction")


def seeds_figure(rows, threshold: float):
    """fold ``seeds``: one row per network, rows [(label, training accuracies [seeds], stats)] with stats holding
    ``success_rate`` and ``mean_train_acc`` and, where there are CIs, their ``_ci_low`` / ``_ci_high``: every seed
    as a dot, the mean with its 95% CI as an error bar, the threshold as a dotted line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 0.8 + 0.75 * len(rows)))
    rng = np.random.default_rng(0)
    ticks = []
    for i, (label, acc, st) in enumerate(rows):
        ys = i + rng.uniform(-0.15, 0.15, len(acc))
        ax.scatter(acc, ys, s=14, color=f"C{i}", alpha=0.6, lw=0)
        mean = st["mean_train_acc"]
        xerr = None
        if "mean_train_acc_ci_low" in st:
            xerr = np.clip([[mean - st["mean_train_acc_ci_low"]], [st["mean_train_acc_ci_high"] - mean]], 0, None)
        ax.errorbar([mean], [i], xerr=xerr, fmt="D", color="k", ms=5, capsize=4)
        rate = f"success {st['success_rate']:.2f}"
        if "success_rate_ci_low" in st:
            rate += f" [{st['success_rate_ci_low']:.2f}, {st['success_rate_ci_high']:.2f}]"
        ticks.append(f"{label}\n{rate}")
    ax.axvline(threshold, color="gray", ls=":", lw=1)
    ax.set_yticks(range(len(rows)), ticks, fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(min(0.45, min(float(np.min(a)) for _, a, _ in rows) - 0.02), 1.01)
    ax.set_xlabel(f"training accuracy of each seed (◆ mean, 95% CI; success: ≥ {threshold:g})")
    ax.set_title(f"{len(rows[0][1])} seeds per network", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
