"""Figures of the convolution tour (conv): convolution vs cross-correlation in 1-D and 2-D, output lengths against
stride, and a shared kernel's gradient as the sum of its copies'."""

from __future__ import annotations

import numpy as np


def impulse_figure(imp, w):
    """``imp`` from ``conv.impulse_responses``: the impulse, then both operations' outputs beside the kernel w and
    w reversed (hollow markers: what the definition predicts)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    x = imp["x"]
    axes[0].stem(np.arange(len(x)), x, basefmt="k-")
    axes[0].set(title="input: an impulse δ at position " + str(int(np.argmax(x))), xlabel="input index",
                xticks=np.arange(len(x)))
    out = np.arange(len(imp["conv"]))
    for ax, key, name, color in ((axes[1], "conv", "convolution Σ w_j δ_(i−j)", "C0"),
                                 (axes[2], "corr", "cross-correlation Σ w_j δ_(i+j)", "C1")):
        ax.stem(out, imp[key], linefmt=color, markerfmt=color + "o", basefmt="k-", label="output")
        ax.plot(out, imp[f"{key}_expected"], "s", mfc="none", mec="k", ms=11,
                label="w" if key == "conv" else "w reversed")
        ax.set(title=name, xlabel="output index i (window start)", xticks=out)
        ax.legend(fontsize=8, loc="best")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.axhline(0, color="0.5", lw=0.6)
    fig.suptitle(f"Impulse response, kernel w = {[round(float(v), 2) for v in w]}: convolution gives w, "
                 "cross-correlation gives w reversed", fontsize=10)
    fig.tight_layout()
    return fig


def conv1d_figure(x, w, mine):
    """Signal ``x``; kernel ``w`` and w flipped; ``mine["conv1d"]``, ``mine["corr1d_flipped"]`` and ``mine["corr1d"]``
    at the same output indices i = 0 … n − k (output i uses the window x_i … x_(i+k−1))."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11, 6.2))
    grid = fig.add_gridspec(2, 4)
    ax_x = fig.add_subplot(grid[0, :3])
    ax_w = fig.add_subplot(grid[0, 3])
    ax_y = fig.add_subplot(grid[1, :], sharex=ax_x)
    xs, w = np.asarray(x), np.asarray(w)
    k = len(w)
    ax_x.plot(xs, "-o", ms=3, color="gray")
    ax_x.axvspan(-0.5, k - 0.5, color="gold", alpha=0.35, label=f"window of output i = 0 (x_0 … x_{k - 1})")
    ax_x.set(ylabel="input x", title="signal", xlabel="input index")
    ax_x.legend(fontsize=8, loc="upper right")
    j = np.arange(k)
    ax_w.bar(j - 0.2, w, 0.4, label="w")
    ax_w.bar(j + 0.2, w[::-1], 0.4, label="w flipped")
    ax_w.set(xticks=j, xlabel="j", title="kernel")
    ax_w.legend(fontsize=8)
    out = np.arange(len(xs) - k + 1)
    ax_y.plot(out, mine["conv1d"], "-", lw=2.5, color="C0", alpha=0.6, label="convolution Σ w_j x_(i+k−1−j)")
    ax_y.plot(out, mine["corr1d_flipped"], "o", ms=4, color="C3", label="cross-correlation with w flipped")
    ax_y.plot(out, mine["corr1d"], "--s", ms=3, color="C1", lw=1, label="cross-correlation with w (torch conv1d)")
    ax_y.set(xlabel="output index i (window x_i … x_(i+k−1))", ylabel="output",
             title="Outputs at aligned indices: convolution = cross-correlation with the flipped kernel")
    ax_y.legend(fontsize=8, loc="upper right", ncol=3)
    for ax in (ax_x, ax_w, ax_y):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def conv2d_figure(letter):
    """``letter`` from ``conv.letter_example``: the image, the kernel (values written), its convolution and its
    cross-correlation on one colour scale, each with a colourbar."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.9), layout="constrained")
    im = axes[0].imshow(letter["x"], cmap="gray_r", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[0], shrink=0.8, label="pixel")
    w = letter["w"]
    lim_w = np.abs(w).max()
    im = axes[1].imshow(w, cmap="RdBu_r", vmin=-lim_w, vmax=lim_w)
    for (a, b), v in np.ndenumerate(w):
        axes[1].text(b, a, f"{v:g}", ha="center", va="center", fontsize=11)
    fig.colorbar(im, ax=axes[1], shrink=0.8, label="weight")
    lim = max(np.abs(letter["conv"]).max(), np.abs(letter["corr"]).max())
    for ax, key, title in ((axes[2], "conv", "convolution (kernel flipped)"),
                           (axes[3], "corr", "cross-correlation (= torch conv2d)")):
        im = ax.imshow(letter[key], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"{title}\n{letter[key].shape[0]}×{letter[key].shape[1]} (valid)", fontsize=9)
    fig.colorbar(im, ax=list(axes[2:]), shrink=0.8, label="output (one scale)")
    axes[0].set_title(f"input: the letter '{letter['letter']}', {letter['x'].shape[0]}×{letter['x'].shape[1]}",
                      fontsize=9)
    axes[1].set_title("kernel: Sobel (horizontal gradient)\nflipped, it is negated", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def windows_figure(n, k, windows):
    """Sliding windows: ``windows[(stride, padding)]`` = first input index of each output's window, for an input of
    ``n`` cells and a kernel of ``k``; one panel per setting, padding cells hatched, one bar per output."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows = -(-len(windows) // 2)
    tallest = max(len(v) for v in windows.values())
    fig, axes = plt.subplots(rows, 2, figsize=(13, rows * (0.3 * tallest + 1.4)), squeeze=False)
    for ax in axes.flat[len(windows):]:
        ax.axis("off")
    for ax, ((stride, pad), starts) in zip(axes.flat, windows.items()):
        for c in range(-pad, n + pad):
            inside = 0 <= c < n
            ax.add_patch(Rectangle((c, 0), 1, 1, fc="lightsteelblue" if inside else "white", ec="k",
                                   hatch=None if inside else "///", lw=0.8))
            ax.text(c + 0.5, 0.5, f"x{c}" if inside else "0", ha="center", va="center", fontsize=8)
        for i, s in enumerate(starts):
            y = -0.5 - 0.45 * i
            ax.add_patch(Rectangle((s + 0.05, y), k - 0.1, 0.32, fc=f"C{i % 10}", alpha=0.7))
            ax.text(s + k + 0.1, y + 0.16, f"y{i}", va="center", fontsize=7)
        ax.set_xlim(-pad - 0.5, n + pad + 2)
        ax.set_ylim(-0.6 - 0.45 * tallest, 1.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"stride {stride}, padding {pad}: {len(starts)} outputs = ⌊({n} + 2·{pad} − {k})/{stride}⌋ + 1",
                     fontsize=9, loc="left")
    fig.suptitle(f"A kernel of {k} sliding over {n} inputs", fontsize=10)
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

    grad_u, grad_copies = np.asarray(grad_u), np.asarray(grad_copies)
    fig, ax = plt.subplots(figsize=(6, 4))
    k = len(grad_u)
    pos, neg = np.zeros(k), np.zeros(k)
    for g in grad_copies:
        base = np.where(g >= 0, pos, neg)
        ax.bar(
            np.arange(k) - 0.2, g, 0.35, bottom=base, color="lightsteelblue", edgecolor="white", linewidth=0.3
        )
        pos, neg = pos + np.clip(g, 0, None), neg + np.clip(g, None, 0)
    ax.bar(np.arange(k) + 0.2, grad_u, 0.35, color="C3", label="∂L/∂u (shared kernel)")
    ax.scatter(
        np.arange(k) - 0.2,
        grad_copies.sum(0),
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
