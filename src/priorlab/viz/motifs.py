"""Figures of the motifs experiment: example sequences, sample efficiency of shared vs unshared detectors, letters
with the hand-set template detections, and hand-set beside learned templates."""

from __future__ import annotations

import numpy as np
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


def scores_figure(example, amplitude, n_train):
    """``example`` from ``motifs.detector_scores``: two sequences (class 1, class 0) and, along each, the score of the
    motif-as-kernel detector and of the learned detector channel, with the maximum marked."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 2, figsize=(12, 6.4), sharex=True, sharey="row")
    k, start = example["k"], example["start"]
    pos = np.arange(example["matched"].shape[1])
    rows = (("matched", "motif as kernel: Σ_j m_j x_(i+j)", "C3"),
            ("learned", f"learned shared detector, channel {example['channel']} (ReLU)", "C2"))
    for col, title in enumerate(("class 1: motif planted", "class 0: noise only")):
        x = example["x"][col]
        axes[0, col].plot(x, "-o", ms=3, color="gray")
        axes[0, col].set_title(title, fontsize=10)
        for row, (key, label, color) in enumerate(rows, start=1):
            score = example[key][col]
            top = int(np.argmax(score))
            ax = axes[row, col]
            ax.plot(pos, score, "-", color=color, lw=1.5, label="score at window start i")
            ax.plot(top, score[top], "*", ms=14, color="k", label=f"max: {score[top]:.1f} at i = {top}")
            ax.axvline(top, color="k", lw=0.6, ls=":")
            ax.set_ylabel("score", fontsize=9)
            ax.legend(fontsize=8, loc="best", framealpha=0.9)
            if col == 0:
                ax.set_title(label, fontsize=9, loc="left")
        if col == 0:
            axes[0, 0].axvspan(start - 0.5, start + k - 0.5, color="gold", alpha=0.35)
            for ax in axes[1:, 0]:  # the score of window start i: the motif's window starts at `start`
                ax.axvspan(start - 0.5, start + 0.5, color="gold", alpha=0.5)
    axes[0, 0].set_ylabel("sequence x")
    for ax in axes[-1]:
        ax.set_xlabel("position i")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle(f"One detector slid along the sequence, then max (motif {MOTIF} × {amplitude:g}, shaded; in the "
                 f"score rows its window start); learned detector trained on {n_train} sequences", fontsize=10)
    fig.tight_layout()
    return fig


def decision_figure(images, ends, corners, n_end, n_corner, labels):
    """C vs D by summing detections: a 'C' and a 'D' (``images`` [2, H, W]) with their endpoint/corner maps
    (``ends``, ``corners`` [2, H, W]), and every test letter's counts ``n_end``, ``n_corner`` [N] with its true letter
    ``labels`` [N], with the rule 'D when corners > endpoints'."""
    import matplotlib.pyplot as plt

    n_end, n_corner, labels = np.asarray(n_end), np.asarray(n_corner), np.asarray(labels)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    for ax, cls in zip(axes[:2], (0, 1)):
        img = np.asarray(images[cls])
        cols = np.flatnonzero(img.any(0))
        lo, hi = max(cols.min() - 2, 0), min(cols.max() + 3, img.shape[1])
        ax.imshow(img[:, lo:hi], cmap="gray_r", vmin=0, vmax=1.5)
        for mask, color, name in ((ends[cls], "red", "endpoints"), (corners[cls], "limegreen", "corners")):
            r, c = np.nonzero(np.asarray(mask))
            ax.scatter(c - lo, r, s=60, facecolors="none", edgecolors=color, linewidths=2,
                       label=f"{name}: {int(mask.sum())}")
        n_c, n_e = int(np.asarray(corners[cls]).sum()), int(np.asarray(ends[cls]).sum())
        decided = "D" if n_c > n_e else "C"
        ax.set_title(f"'{'CD'[cls]}': {n_c} corners vs {n_e} endpoints → '{decided}'", fontsize=9)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = axes[2]
    rng = np.random.default_rng(0)
    for cls, color in ((0, "C0"), (1, "C1")):
        sel = labels == cls
        jx, jy = rng.uniform(-0.2, 0.2, (2, sel.sum()))
        ax.scatter(n_end[sel] + jx, n_corner[sel] + jy, s=8, alpha=0.4, color=color, label=f"true '{'CD'[cls]}'")
    top = max(n_end.max(), n_corner.max()) + 1
    ax.plot([-0.5, top], [-0.5, top], "k--", lw=1, label="corners = endpoints")
    ax.fill_between([-0.5, top], [-0.5, top], top, color="C1", alpha=0.07)
    acc = float(((n_corner > n_end).astype(int) == labels).mean())
    ax.set(xlabel="endpoint detections (summed over the image)", ylabel="corner detections (summed)",
           xlim=(-0.5, top), ylim=(-0.5, top), xticks=range(int(top) + 1), yticks=range(int(top) + 1),
           title=f"{len(labels)} test letters: 'D' above the line; accuracy {acc:.3f}")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def samples_figure(train_sizes, curves, repeats):
    """Test accuracy against training-set size: ``curves["shared"]``, ``curves["dense"]`` [size, repeat]; mean and,
    with more than one seed, the 95% bootstrap CI over seeds."""
    import matplotlib.pyplot as plt

    from priorlab.stats import mean_ci

    fig, ax = plt.subplots(figsize=(5.6, 4))
    for key, fmt, label in (("shared", "-o", "shared detector + max (convolution)"),
                            ("dense", "-s", "unshared detector per position + max")):
        acc = np.asarray(curves[key])
        line, = ax.plot(train_sizes, acc.mean(1), fmt, label=label)
        if repeats > 1:
            ci = np.array([tuple(mean_ci(a, seed=0))[1:] for a in acc])
            ax.fill_between(train_sizes, ci[:, 0], ci[:, 1], color=line.get_color(), alpha=0.2)
    ax.set_xscale("log", base=2)
    ax.set_xticks(train_sizes, [str(n) for n in train_sizes])
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("training sequences")
    what = f"mean and 95% CI of {repeats} seeds" if repeats > 1 else "1 seed"
    ax.set_ylabel(f"test accuracy ({what})")
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
