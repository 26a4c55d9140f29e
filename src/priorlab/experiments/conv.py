"""A checked tour of convolution: convolution vs cross-correlation, output sizes, and shared-kernel gradients."""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from priorlab.config import BaseConfig, unique_list
from priorlab.context import RunContext
from priorlab.data.motifs import letters
from priorlab.stats.claims import Claim
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
QUESTION = (
    "What does a convolution layer compute: convolution y_i = Σ_j w_j x_(i−j) or the cross-correlation "
    "y_i = Σ_j w_j x_(i+j), how long is its output under stride and padding, and how does a shared kernel learn?"
)
KEY_FIGURE = "impulse"
FIGURES = {
    "impulse": "An impulse δ (one 1, the rest 0) through both operations: convolution returns the kernel w itself, "
    "cross-correlation returns w reversed (output index i = window start; valid part).",
    "conv1d": "A signal, the asymmetric kernel w and w flipped, and the outputs at aligned output indices (i = the "
    "window's first input sample): convolution (line), cross-correlation with the flipped kernel (dots, on the line) "
    "and cross-correlation with w itself (what torch.nn.functional.conv1d computes; different).",
    "conv2d": "2-D on a letter: a horizontal-gradient (Sobel) kernel; convolution and cross-correlation have "
    "opposite signs at every edge, because flipping this kernel negates it. One colour scale for both outputs.",
    "windows": "Sliding windows: the input cells (padding cells hatched), each output's window as a bar, for stride "
    "1 and 2 without and with padding; the output length is the number of bars and matches torch's.",
    "sizes": "Output length against stride for the configured input and kernel, one line per padding and dilation; "
    "dots: torch's actual output lengths.",
    "sharing": "The gradient of a shared kernel (bars) equals the sum over positions of the gradients of per-position "
    "copies (stacked segments, one per position).",
}
DEMO = [{}]
SOURCE = "deep learning course lecture (STUDIES.md §5)"
LECTURE_N, LECTURE_K = 100, 5  # the lecture's example: input 100, kernel 5


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
# worked examples for the figures


def impulse_responses(w: np.ndarray) -> dict[str, np.ndarray]:
    """An impulse δ of length 2k + 1 (the 1 at position k) through both operations (valid parts, k + 2 outputs),
    with what the definitions predict: convolution gives [0, w, 0], cross-correlation [0, w reversed, 0]."""
    k = len(w)
    delta = np.zeros(2 * k + 1)
    delta[k] = 1.0
    zero = np.zeros(1)
    return {
        "x": delta,
        "conv": convolve1d(delta, w),
        "corr": correlate1d(delta, w),
        "conv_expected": np.concatenate([zero, w, zero]),
        "corr_expected": np.concatenate([zero, w[::-1], zero]),
    }


def window_starts(n: int, k: int, stride: int, padding: int) -> list[int]:
    """First input index of each output's window (−padding … in the unpadded input's coordinates)."""
    return [-padding + stride * i for i in range(output_size(n, k, stride, padding))]


SOBEL_X = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])  # flipped: negated


def letter_example(seed: int) -> dict[str, np.ndarray]:
    """A letter on a 16 × 16 canvas, the Sobel kernel, and both 2-D operations ('valid' parts)."""
    images, labels = letters(1, height=16, width=16, sizes=(11, 11), seed=seed)
    x = images[0, 0].double().numpy()
    return {"x": x, "w": SOBEL_X, "conv": convolve2d(x, SOBEL_X), "corr": correlate2d(x, SOBEL_X),
            "letter": "CD"[int(labels[0])]}


# ----------------------------------------------------------------------------------------------


def definitions_vs_torch(x1, w1, x2, w2, letter) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The loops against torch (cross-correlation; convolution = the flipped kernel) and numpy."""
    t = lambda a: torch.as_tensor(a)[None, None]
    torch_corr1 = F.conv1d(t(x1), t(w1))[0, 0].numpy()
    torch_conv1 = F.conv1d(t(x1), t(w1).flip(-1))[0, 0].numpy()
    torch_corr2 = F.conv2d(t(x2), t(w2))[0, 0].numpy()
    torch_conv2 = F.conv2d(t(x2), t(w2).flip(-1, -2))[0, 0].numpy()
    mine = {
        "conv1d": convolve1d(x1.numpy(), w1.numpy()),
        "corr1d": correlate1d(x1.numpy(), w1.numpy()),
        "corr1d_flipped": correlate1d(x1.numpy(), w1.flip(0).numpy()),
        "conv2d": convolve2d(x2.numpy(), w2.numpy()),
        "corr2d": correlate2d(x2.numpy(), w2.numpy()),
    }
    metrics = {
        "err_conv1d_vs_torch_flipped": _err(mine["conv1d"], torch_conv1),
        "err_corr1d_vs_torch": _err(mine["corr1d"], torch_corr1),
        "err_conv1d_vs_corr1d_flipped": _err(mine["conv1d"], mine["corr1d_flipped"]),
        "err_conv2d_vs_torch_flipped": _err(mine["conv2d"], torch_conv2),
        "err_corr2d_vs_torch": _err(mine["corr2d"], torch_corr2),
        "err_conv2d_letter_vs_torch_flipped": _err(
            letter["conv"], F.conv2d(t(letter["x"]), t(letter["w"]).flip(-1, -2))[0, 0].numpy()
        ),
        "err_conv1d_vs_numpy_convolve": _err(mine["conv1d"], np.convolve(x1.numpy(), w1.numpy(), "valid")),
        "diff_conv1d_vs_corr1d": _err(mine["conv1d"], mine["corr1d"]),
    }
    return metrics, mine


def size_table(config: Config, ctx: RunContext) -> dict[str, float]:
    """Formula against torch for every stride × padding × dilation of the config (a table on the page)."""
    rows, mismatches = [], 0
    for s, p, d in itertools.product(config.strides, config.paddings, config.dilations):
        ours = output_size(config.n, config.kernel, s, p, d)
        theirs = torch_output_size(config.n, config.kernel, s, p, d)
        mismatches += ours != theirs
        rows.append({"stride": s, "padding": p, "dilation": d, "formula": ours, "torch": theirs})
    ctx.table(f"Output length for input {config.n}, kernel {config.kernel}", rows)
    return {
        "size_mismatches": mismatches,
        "out_size_stride1": torch_output_size(config.n, config.kernel, 1),
        "out_size_stride2": torch_output_size(config.n, config.kernel, 2),
    }


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    gen = torch.Generator().manual_seed(ctx.seed)
    x1 = torch.randn(40, generator=gen, dtype=torch.float64)
    w1 = torch.tensor([1.0, 0.5, 0.0, -0.5, -2.0], dtype=torch.float64)  # asymmetric: flipping matters
    x2 = torch.randn(12, 14, generator=gen, dtype=torch.float64)
    w2 = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    letter = letter_example(ctx.seed)
    metrics, mine = definitions_vs_torch(x1, w1, x2, w2, letter)
    imp = impulse_responses(w1.numpy())
    metrics["err_impulse_conv_vs_w"] = _err(imp["conv"], imp["conv_expected"])
    metrics["err_impulse_corr_vs_w_reversed"] = _err(imp["corr"], imp["corr_expected"])
    metrics.update(size_table(config, ctx))

    upstream = torch.randn(len(x1) - len(w1) + 1, generator=gen, dtype=torch.float64)
    grad_u, grad_copies = shared_gradients(x1, w1, upstream)
    metrics["err_shared_grad_vs_sum"] = (grad_u - grad_copies.sum(0)).abs().max().item()

    ctx.note(
        "Every number named err_* is the largest absolute difference between a loop written from the definition and "
        "torch (or numpy.convolve, or the impulse response the definition predicts); diff_conv1d_vs_corr1d shows that "
        "the two operations differ for an asymmetric kernel. size_mismatches counts rows of the table where the "
        "formula and torch disagree; out_size_* are torch's output lengths at padding 0."
    )
    _, _, windows = window_example()
    metrics["window_mismatches"] = sum(len(v) != torch_output_size(*WINDOWS, s, p) for (s, p), v in windows.items())
    ctx.save_arrays(x1=x1.numpy(), w1=w1.numpy(), grad_u=grad_u.numpy(), grad_copies=grad_copies.numpy(),
                    **{k: mine[k] for k in ("conv1d", "corr1d", "corr1d_flipped")},
                    **{f"letter_{k}": letter[k] for k in ("x", "conv", "corr")},
                    letter_label=np.array("CD".index(letter["letter"])))
    return metrics


WINDOWS = (8, 3)  # the sliding-window figure's input length and kernel


def window_example() -> tuple[int, int, dict[tuple[int, int], list[int]]]:
    """(n, k, {(stride, padding): window starts}) of the sliding-window figure: stride 1 and 2, padding 0 and 1."""
    n, k = WINDOWS
    return n, k, {(s, p): window_starts(n, k, s, p) for p in (0, 1) for s in (1, 2)}


def draw(config: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure of the tour from the run's arrays; the impulse, windows and sizes figures are the definitions
    and formulas applied again (cheap and exact)."""
    w1 = arrays["w1"]
    if ctx.draws("impulse"):
        ctx.save_figure("impulse", convolution.impulse_figure(impulse_responses(w1), w1))
    if ctx.draws("conv1d"):
        ctx.save_figure("conv1d", convolution.conv1d_figure(arrays["x1"], w1, arrays))
    if ctx.draws("conv2d"):
        letter = {k: arrays[f"letter_{k}"] for k in ("x", "conv", "corr")}
        ctx.save_figure("conv2d", convolution.conv2d_figure({**letter, "w": SOBEL_X,
                                                             "letter": "CD"[int(arrays["letter_label"])]}))
    if ctx.draws("windows"):
        ctx.save_figure("windows", convolution.windows_figure(*window_example()))
    if ctx.draws("sizes"):
        ctx.save_figure("sizes", sizes_figure(config))
    if ctx.draws("sharing"):
        ctx.save_figure("sharing", convolution.sharing_figure(arrays["grad_u"], arrays["grad_copies"]))


def setup(config: Config) -> str:
    return (
        "Loops written from the definitions against torch.nn.functional.conv1d/conv2d and numpy.convolve (float64): "
        "a 40-sample Gaussian signal with the kernel (1, 0.5, 0, −0.5, −2), a 12 × 14 image with a random 3 × 4 "
        "kernel, an impulse, and a letter with a Sobel kernel; output lengths for input "
        f"{config.n}, kernel {config.kernel} at strides {config.strides} × paddings {config.paddings} × dilations "
        f"{config.dilations} ({len(config.strides) * len(config.paddings) * len(config.dilations)} rows); the "
        "gradient of a kernel shared over 36 positions against the sum of its copies'."
    )


def claims(config: Config) -> list[Claim]:
    lecture = config.n == LECTURE_N and config.kernel == LECTURE_K
    why = f"the lecture's numbers are for input {LECTURE_N}, kernel {LECTURE_K} (this run: {config.n}, {config.kernel})"
    exact = 1e-10  # float64 round-off of a few dozen products
    return [
        Claim("convolution of an impulse returns the kernel w", SOURCE, "err_impulse_conv_vs_w", 0.0, exact),
        Claim("cross-correlation of an impulse returns w reversed", SOURCE, "err_impulse_corr_vs_w_reversed", 0.0,
              exact),
        Claim("libraries compute cross-correlation: torch's conv1d with the flipped kernel is the convolution",
              SOURCE, "err_conv1d_vs_torch_flipped", 0.0, exact),
        Claim("the same in 2-D (kernel flipped along both axes)", SOURCE, "err_conv2d_vs_torch_flipped", 0.0, exact),
        Claim("input 100, kernel 5: output 96 at stride 1", SOURCE, "out_size_stride1", 96, 0,
              applies=True if lecture else why),
        Claim("input 100, kernel 5: output 48 at stride 2", SOURCE, "out_size_stride2", 48, 0,
              applies=True if lecture else why),
        Claim("output length ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1 for every stride, padding and dilation in the table "
              "(rows where torch disagrees)", SOURCE, "size_mismatches", 0, 0),
        Claim("weight sharing: the shared kernel's gradient is the sum of its copies' gradients", SOURCE,
              "err_shared_grad_vs_sum", 0.0, exact),
    ]


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
