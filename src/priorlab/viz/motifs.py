"""Figures of the motifs experiment: example sequences, sample efficiency of shared vs unshared detectors, letters
with the hand-set template detections, and hand-set beside learned templates."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from priorlab.data.motifs import MOTIF
from priorlab.nets.motifs import hand_templates, template_detections


def sequences_figure(x, y, amplitude):
    """Example sequences ``x`` [4, length] with labels ``y``; the planted motif (``amplitude`` × MOTIF) shaded."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(x), 1, figsize=(7, 5), sharex=True)
    kernel = amplitude * torch.tensor(MOTIF)
    for ax, xi, yi in zip(axes, x, y):
        ax.plot(xi.numpy(), "-o", ms=3)
        if yi:
            start = int(torch.argmax(F.conv1d(xi[None, None], kernel[None, None]).squeeze()))
            ax.axvspan(start - 0.5, start + len(MOTIF) - 0.5, color="gold", alpha=0.4)
        ax.set_ylabel(f"class {int(yi)}")
    axes[0].set_title(f"Sequences; class 1 carries the motif {MOTIF} × {amplitude} (shaded)")
    axes[-1].set_xlabel("position")
    fig.tight_layout()
    return fig


def samples_figure(train_sizes, curves, repeats):
    """Test accuracy against training-set size: ``curves["shared"]`` and ``curves["dense"]`` (means of ``repeats``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4))
    ax.plot(train_sizes, curves["shared"], "-o", label="shared detector + max (convolution)")
    ax.plot(train_sizes, curves["dense"], "-s", label="unshared detector per position + max")
    ax.set_xscale("log", base=2)
    ax.set_xticks(train_sizes, [str(n) for n in train_sizes])
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("training sequences")
    ax.set_ylabel(f"test accuracy (mean of {repeats} seeds)")
    ax.set_title("Weight sharing and sample efficiency")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def letters_figure(x_tr, x_te, y_tr, y_te):
    """Training-half and test-half letters (one row each) with the hand-set template detections."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(x_tr), figsize=(3.2 * len(x_tr), 3.6))
    for row, (xs, ys, where) in enumerate(
        ((x_tr, y_tr, "train (left half)"), (x_te, y_te, "test (right half)"))
    ):
        ends, corners = template_detections(xs)
        for ax, img, yi, e, c in zip(axes[row], xs, ys, ends, corners):
            ax.imshow(img[0], cmap="gray_r", vmin=0, vmax=1.5)
            for mask, color in ((e, "red"), (c, "limegreen")):
                r, cc = torch.nonzero(mask, as_tuple=True)
                ax.scatter(cc, r, s=30, facecolors="none", edgecolors=color, linewidths=1.5)
            ax.axvline(img.shape[-1] / 2 - 0.5, color="gray", ls=":", lw=0.8)
            ax.set_title(f"{where}: '{'CD'[int(yi)]}'", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Letters and hand-set template detections (red: endpoints, green: corners)")
    fig.tight_layout()
    return fig


def templates_figure(learned):
    """The hand-set templates (top) and the learned convolution's kernels ``learned`` [C, 1, 3, 3] (bottom)."""
    import matplotlib.pyplot as plt

    hand, names = hand_templates()
    cols = max(len(hand), len(learned))
    fig, axes = plt.subplots(2, cols, figsize=(1.6 * cols, 3.6), squeeze=False)
    for row, (kernels, titles) in enumerate(
        ((hand, names), (learned, [f"learned {i + 1}" for i in range(len(learned))]))
    ):
        for i in range(cols):
            ax = axes[row, i]
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= len(kernels):
                ax.axis("off")
                continue
            k = kernels[i, 0]
            lim = k.abs().max().item()
            ax.imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(titles[i], fontsize=8)
    fig.suptitle("Templates (red positive, blue negative): hand-set (top), learned convolution (bottom)")
    fig.tight_layout()
    return fig
