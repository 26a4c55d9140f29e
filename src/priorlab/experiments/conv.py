"""A checked tour of convolution: convolution vs cross-correlation, output sizes, and shared-kernel gradients."""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from priorlab.config import BaseConfig, unique_list
from priorlab.context import RunContext
from priorlab.viz import convolution

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
    strides: unique_list(int, ge=1, le=1000) = Field([1, 2, 3, 4], description="strides in the table")
    paddings: unique_list(int, ge=0, le=1000) = Field([0, 1, 2], description="paddings in the table")
    dilations: unique_list(int, ge=1, le=1000) = Field([1, 2], description="dilations in the table")


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
    ctx.save_figure("conv1d", convolution.conv1d_figure(x1, w1, mine))
    ctx.save_figure("conv2d", convolution.conv2d_figure(x2, w2, mine))
    ctx.save_figure("sizes", sizes_figure(config))
    ctx.save_figure("sharing", convolution.sharing_figure(grad_u, grad_copies))
    return metrics


def _err(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max())


def sizes_figure(config: Config):
    """Formula and torch output lengths at every stride up to the largest configured, per padding and dilation."""
    strides = np.arange(1, max(config.strides) + 1)
    sizes = {
        (p, d): (
            [output_size(config.n, config.kernel, s, p, d) for s in strides],
            [torch_output_size(config.n, config.kernel, s, p, d) for s in strides],
        )
        for p, d in itertools.product(config.paddings, config.dilations)
    }
    marks = {s: output_size(config.n, config.kernel, s) for s in (1, 2)}
    return convolution.sizes_figure(config.n, config.kernel, strides, sizes, marks)
