"""A checked tour of convolution: convolution vs cross-correlation, output sizes, and shared-kernel gradients."""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from priorlab.config import BaseConfig, UserError
from priorlab.context import RunContext

DESCRIPTION = (
    "Convolution tour: convolution vs cross-correlation, output sizes, shared-kernel gradients (all checked)"
)
ORDER = 53
CITATION = (
    "A deep learning course lecture: convolution y_i = Σ_j w_j x_(i−j) vs the cross-correlation libraries compute, "
    "y_i = Σ_j w_j x_(i+j); stride and padding (input 100, kernel 5: 96 at stride 1, 48 at stride 2); weight sharing "
    "adds the gradients of the shared copies (STUDIES.md §5)."
)
FIGURES = {
    "conv1d": "A signal, an asymmetric kernel, and the two operations: convolution (kernel flipped) and "
    "cross-correlation (what torch.nn.functional.conv1d computes).",
    "conv2d": "The same in 2-D on a small image with an asymmetric kernel.",
    "sizes": "Output length against stride for the configured input and kernel, one line per padding and dilation; "
    "dots: torch's actual output lengths.",
    "sharing": "The gradient of a shared kernel (bars) equals the sum over positions of the gradients of per-position "
    "copies (stacked segments, one per position).",
}
DEMO = [{}]


class Config(BaseConfig):
    n: int = Field(100, ge=1, le=100_000, description="input length for the output-size table")
    kernel: int = Field(5, ge=1, le=1000, description="kernel size for the output-size table")
    strides: list[int] = Field([1, 2, 3, 4], min_length=1, description="strides in the table")
    paddings: list[int] = Field([0, 1, 2], min_length=1, description="paddings in the table")
    dilations: list[int] = Field([1, 2], min_length=1, description="dilations in the table")


# ----------------------------------------------------------------------------------------------
# the definitions, written out as loops


def convolve1d(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Convolution, 'valid' part: y_i = Σ_j w_j x_(i−j) for i = k−1 … n−1 (every x index in range)."""
    n, k = len(x), len(w)
    return np.array([sum(w[j] * x[i - j] for j in range(k)) for i in range(k - 1, n)])


def correlate1d(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cross-correlation, 'valid' part: y_i = Σ_j w_j x_(i+j) for i = 0 … n−k."""
    n, k = len(x), len(w)
    return np.array([sum(w[j] * x[i + j] for j in range(k)) for i in range(n - k + 1)])


def convolve2d(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """2-D convolution, 'valid' part: y_(a,b) = Σ_(i,j) w_(i,j) x_(a−i, b−j)."""
    (h, v), (kh, kv) = x.shape, w.shape
    return np.array(
        [
            [sum(w[i, j] * x[a - i, b - j] for i in range(kh) for j in range(kv)) for b in range(kv - 1, v)]
            for a in range(kh - 1, h)
        ]
    )


def correlate2d(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """2-D cross-correlation, 'valid' part: y_(a,b) = Σ_(i,j) w_(i,j) x_(a+i, b+j)."""
    (h, v), (kh, kv) = x.shape, w.shape
    return np.array(
        [
            [sum(w[i, j] * x[a + i, b + j] for i in range(kh) for j in range(kv)) for b in range(v - kv + 1)]
            for a in range(h - kh + 1)
        ]
    )


def output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution: ⌊(n + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1 (0 if the kernel
    does not fit)."""
    return max(0, (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1)


def torch_output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """What torch.nn.functional.conv1d actually returns (0 when it refuses an input that is too small)."""
    try:
        x = torch.zeros(1, 1, n)
        return F.conv1d(x, torch.zeros(1, 1, k), stride=stride, padding=padding, dilation=dilation).shape[-1]
    except RuntimeError:
        return 0


def shared_gradients(
    x: torch.Tensor, u: torch.Tensor, upstream: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of L = Σ_i upstream_i · y_i for y = cross-correlation of ``x`` [n] with the shared kernel ``u`` [k].

    Returns (the shared kernel's gradient [k], the per-position copies' gradients [P, k]): the weights as a
    transformation w = H(u) that copies u to every position; the copies' gradients are taken with u's copies as
    separate leaves.
    """
    k = len(u)
    u = u.detach().requires_grad_(True)
    y = F.conv1d(x[None, None], u[None, None])[0, 0]
    (grad_u,) = torch.autograd.grad((upstream * y).sum(), u)
    copies = (
        u.detach().expand(len(upstream), k).clone().requires_grad_(True)
    )  # w = H(u): one copy per position
    windows = x.unfold(0, k, 1)  # [P, k]
    y_copies = (windows * copies).sum(1)
    (grad_copies,) = torch.autograd.grad((upstream * y_copies).sum(), copies)
    return grad_u, grad_copies


# ----------------------------------------------------------------------------------------------


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    for key in ("strides", "dilations"):
        if min(getattr(config, key)) < 1:
            raise UserError(f"invalid '{key}' {getattr(config, key)}: every value must be ≥ 1")
    if min(config.paddings) < 0:
        raise UserError(f"invalid 'paddings' {config.paddings}: every value must be ≥ 0")

    gen = torch.Generator().manual_seed(ctx.seed)
    x1 = torch.randn(40, generator=gen, dtype=torch.float64)
    w1 = torch.tensor([1.0, 0.5, 0.0, -0.5, -2.0], dtype=torch.float64)  # asymmetric: flipping matters
    x2 = torch.randn(12, 14, generator=gen, dtype=torch.float64)
    w2 = torch.randn(3, 4, generator=gen, dtype=torch.float64)

    torch_corr1 = F.conv1d(x1[None, None], w1[None, None])[0, 0].numpy()
    torch_conv1 = F.conv1d(x1[None, None], w1.flip(0)[None, None])[0, 0].numpy()
    torch_corr2 = F.conv2d(x2[None, None], w2[None, None])[0, 0].numpy()
    torch_conv2 = F.conv2d(x2[None, None], w2.flip(0, 1)[None, None])[0, 0].numpy()
    mine = {
        "conv1d": convolve1d(x1.numpy(), w1.numpy()),
        "corr1d": correlate1d(x1.numpy(), w1.numpy()),
        "conv2d": convolve2d(x2.numpy(), w2.numpy()),
        "corr2d": correlate2d(x2.numpy(), w2.numpy()),
    }
    metrics = {
        "err_conv1d_vs_torch_flipped": _err(mine["conv1d"], torch_conv1),
        "err_corr1d_vs_torch": _err(mine["corr1d"], torch_corr1),
        "err_conv2d_vs_torch_flipped": _err(mine["conv2d"], torch_conv2),
        "err_corr2d_vs_torch": _err(mine["corr2d"], torch_corr2),
        "err_conv1d_vs_numpy_convolve": _err(mine["conv1d"], np.convolve(x1.numpy(), w1.numpy(), "valid")),
        "diff_conv1d_vs_corr1d": _err(mine["conv1d"], mine["corr1d"]),
    }

    rows, mismatches = [], 0
    for s, p, d in itertools.product(config.strides, config.paddings, config.dilations):
        ours, theirs = (
            output_size(config.n, config.kernel, s, p, d),
            torch_output_size(config.n, config.kernel, s, p, d),
        )
        mismatches += ours != theirs
        rows.append({"stride": s, "padding": p, "dilation": d, "formula": ours, "torch": theirs})
    metrics["size_mismatches"] = mismatches
    metrics["out_size_stride1"] = output_size(config.n, config.kernel, 1)
    metrics["out_size_stride2"] = output_size(config.n, config.kernel, 2)
    ctx.table(f"Output length for input {config.n}, kernel {config.kernel}", rows)

    upstream = torch.randn(len(x1) - len(w1) + 1, generator=gen, dtype=torch.float64)
    grad_u, grad_copies = shared_gradients(x1, w1, upstream)
    metrics["err_shared_grad_vs_sum"] = (grad_u - grad_copies.sum(0)).abs().max().item()

    ctx.note(
        "Every number named err_* is the largest absolute difference between a loop written from the definition and "
        "torch (or numpy.convolve); diff_conv1d_vs_corr1d shows that the two operations differ for an asymmetric "
        "kernel. size_mismatches counts rows of the table where the formula and torch disagree."
    )
    ctx.save_figure("conv1d", _conv1d_figure(x1, w1, mine))
    ctx.save_figure("conv2d", _conv2d_figure(x2, w2, mine))
    ctx.save_figure("sizes", _sizes_figure(config))
    ctx.save_figure("sharing", _sharing_figure(grad_u, grad_copies))
    return metrics


def _err(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max())


# ----------------------------------------------------------------------------------------------
# figures


def _conv1d_figure(x, w, mine):
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


def _conv2d_figure(x, w, mine):
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


def _sizes_figure(config):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.8, 4))
    strides = np.arange(1, max(config.strides) + 1)
    for i, (p, d) in enumerate(itertools.product(config.paddings, config.dilations)):
        ours = [output_size(config.n, config.kernel, s, p, d) for s in strides]
        theirs = [torch_output_size(config.n, config.kernel, s, p, d) for s in strides]
        ax.plot(strides, ours, "-", color=f"C{i}", label=f"padding {p}, dilation {d}")
        ax.plot(strides, theirs, "o", color=f"C{i}", ms=4)
    for s, dy in ((1, -0.15), (2, 0.1)):
        size = output_size(config.n, config.kernel, s)
        ax.annotate(
            f"{size} (padding 0, stride {s})",
            (s, size),
            xytext=(s + 0.25, size + dy * config.n),
            fontsize=8,
            arrowprops={"arrowstyle": "->", "lw": 0.6},
        )
    ax.set_xticks(strides)
    ax.set_xlabel("stride")
    ax.set_ylabel("output length")
    ax.set_title(f"Output length, input {config.n}, kernel {config.kernel} (lines: formula, dots: torch)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def _sharing_figure(grad_u, grad_copies):
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
