"""Figures of the convolution tour (conv): convolution vs cross-correlation in 1-D and 2-D, output lengths against
stride, and a shared kernel's gradient as the sum of its copies'."""

from __future__ import annotations

import numpy as np


def conv1d_figure(x, w, mine):
    """Signal ``x``, kernel ``w`` and ``mine["conv1d"]``, ``mine["corr1d"]`` (valid parts) one above the other."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(7, 5.2), sharex=True)
    axes[0].plot(x.numpy(), "-o", ms=3, color="gray")
    axes[0].set_ylabel("input x")
    axes[0].set_title(f"kernel w = {w.tolist()}")
    k = len(w)
    pos = np.arange(k - 1, len(x))
    axes[1].plot(pos, mine["conv1d"], "-o", ms=3, label="convolution Σ w_j x_(i−j)")
    axes[1].set_ylabel("convolution")
    axes[2].plot(
        np.arange(len(x) - k + 1),
        mine["corr1d"],
        "-o",
        ms=3,
        color="C1",
        label="cross-correlation Σ w_j x_(i+j)",
    )
    axes[2].set_ylabel("cross-corr.")
    axes[2].set_xlabel("position i")
    for ax in axes[1:]:
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def conv2d_figure(x, w, mine):
    """Image, kernel, ``mine["conv2d"]`` and ``mine["corr2d"]`` side by side."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(11, 3))
    panels = [
        (x.numpy(), "input"),
        (w.numpy(), "kernel"),
        (mine["conv2d"], "convolution (kernel flipped)"),
        (mine["corr2d"], "cross-correlation (= conv2d)"),
    ]
    for ax, (img, title) in zip(axes, panels):
        lim = np.abs(img).max()
        ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"{title}\n{img.shape[0]}×{img.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def sizes_figure(n, kernel, strides, sizes, marks):
    """Output length against stride: ``sizes[(padding, dilation)] = (formula lengths, torch lengths)`` at ``strides``;
    ``marks[stride]`` (padding 0, dilation 1) are annotated for strides 1 and 2."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.8, 4))
    for i, ((p, d), (ours, theirs)) in enumerate(sizes.items()):
        ax.plot(strides, ours, "-", color=f"C{i}", label=f"padding {p}, dilation {d}")
        ax.plot(strides, theirs, "o", color=f"C{i}", ms=4)
    for s, dy in ((1, -0.15), (2, 0.1)):
        size = marks[s]
        ax.annotate(
            f"{size} (padding 0, stride {s})",
            (s, size),
            xytext=(s + 0.25, size + dy * n),
            fontsize=8,
            arrowprops={"arrowstyle": "->", "lw": 0.6},
        )
    ax.set_xticks(strides)
    ax.set_xlabel("stride")
    ax.set_ylabel("output length")
    ax.set_title(f"Output length, input {n}, kernel {kernel} (lines: formula, dots: torch)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def sharing_figure(grad_u, grad_copies):
    """The shared kernel's gradient [k] (bars) beside its per-position copies' gradients [P, k] (stacked)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    k = len(grad_u)
    pos, neg = np.zeros(k), np.zeros(k)
    for g in grad_copies.numpy():
        base = np.where(g >= 0, pos, neg)
        ax.bar(
            np.arange(k) - 0.2, g, 0.35, bottom=base, color="lightsteelblue", edgecolor="white", linewidth=0.3
        )
        pos, neg = pos + np.clip(g, 0, None), neg + np.clip(g, None, 0)
    ax.bar(np.arange(k) + 0.2, grad_u.numpy(), 0.35, color="C3", label="∂L/∂u (shared kernel)")
    ax.scatter(
        np.arange(k) - 0.2,
        grad_copies.sum(0).numpy(),
        marker="_",
        s=300,
        color="k",
        label="Σ over positions of ∂L/∂w_p (copies)",
        zorder=3,
    )
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xticks(range(k), [f"u{j}" for j in range(k)])
    ax.set_ylabel("gradient")
    ax.set_title("Weight sharing: the shared kernel's gradient is the sum of its copies'")
    ax.legend(fontsize=8)
    return fig
