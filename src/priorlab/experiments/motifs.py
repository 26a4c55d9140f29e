"""Motif detection: a shared detector slid along a sequence vs unshared ones, and "C" vs "D" at unseen positions."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, UserError
from priorlab.context import RunContext
from priorlab.data.motifs import MOTIF, letters, motif_sequences
from priorlab.errors import check_finite

DESCRIPTION = (
    "Motif detection: shared vs unshared detectors on sequences; C vs D templates at unseen positions"
)
ORDER = 52
CITATION = (
    "A deep learning course lecture: slide one shared detector along a sequence and take the max; endpoint and "
    "corner templates tell 'C' from 'D' wherever the letter sits (STUDIES.md §5)."
)
FIGURES = {
    "sequences": "Example sequences; the planted motif (class 1) is shaded.",
    "samples": "Test accuracy against the number of training sequences: one detector shared across positions, then "
    "max, vs a separate (unshared) detector per position with the same 5-sample receptive field, then max.",
    "letters": "Letters from the training half (left) and the never-seen test half (right) of the canvas, with the "
    "hand-set template detections: endpoints (red) and corners (green).",
    "templates": "Top: the hand-set 3×3 templates (endpoint, four corners). Bottom: the learned convolution's kernels.",
}
DEMO = [{}]


class Config(BaseConfig):
    # (a) sequences
    length: int = Field(32, ge=8, le=4096, description="sequence length")
    amplitude: float = Field(2.0, gt=0.0, le=100.0, description="motif amplitude (noise SD is 1)")
    train_sizes: list[int] = Field([8, 16, 32, 64, 128, 256], min_length=1, description="training-set sizes")
    detectors: int = Field(4, ge=1, le=256, description="detector channels (shared: one kernel each)")
    # (b) letters
    n_letters: int = Field(400, ge=10, le=100_000, description="training letters (left half of the canvas)")
    n_test: int = Field(1000, ge=10, le=100_000, description="test sequences / test letters (right half)")
    channels: int = Field(6, ge=1, le=256, description="learned convolution's channels (3×3 kernels)")
    # both
    steps: int = Field(300, ge=1, le=100_000, description="Adam steps per model")
    lr: float = Field(0.02, gt=0.0, le=1.0, description="Adam learning rate")
    repeats: int = Field(3, ge=1, le=1000, description="seeds per training-set size (accuracies averaged)")

    FULL: ClassVar[dict] = {
        "train_sizes": [8, 16, 32, 64, 128, 256, 512, 1024],
        "repeats": 10,
        "n_letters": 2000,
        "steps": 1000,
    }


# ----------------------------------------------------------------------------------------------
# models


class SlidingDetector(nn.Module):
    """Detectors of ``k`` samples at every position of a sequence, ReLU, max over positions, then a linear read-out.

    ``shared=True``: one kernel per channel slid along the sequence (a convolution). ``shared=False``: every
    position has its own kernel (a locally connected layer: same receptive field, no sharing).
    """

    def __init__(self, length: int, k: int, channels: int, shared: bool):
        super().__init__()
        positions = 1 if shared else length - k + 1
        self.k = k
        self.weight = nn.Parameter(torch.randn(positions, channels, k) / k**0.5)
        self.bias = nn.Parameter(torch.zeros(positions, channels))
        self.readout = nn.Linear(channels, 2)

    def forward(self, x):
        windows = x.unfold(1, self.k, 1)  # [N, P, k]
        responses = (
            torch.einsum("npk,pck->npc", windows, self.weight.expand(windows.shape[1], -1, -1)) + self.bias
        )
        return self.readout(torch.relu(responses).amax(1))


class ConvTemplates(nn.Module):
    """Learned 3×3 templates cross-correlated with the image, ReLU, max over the image, linear read-out."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.readout = nn.Linear(channels, 2)

    def forward(self, x):
        return self.readout(torch.relu(self.conv(x)).amax((2, 3)))


def fit(model: nn.Module, x, y, steps: int, lr: float, batch: int = 64, seed: int = 0) -> nn.Module:
    """Minibatch Adam on the cross-entropy."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(len(x), (min(batch, len(x)),), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        check_finite(loss.item(), step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


def evaluate(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


# ----------------------------------------------------------------------------------------------
# hand-set templates


def hand_templates() -> tuple[torch.Tensor, list[str]]:
    """Five 3×3 templates [5, 1, 3, 3]: an endpoint (+3 centre, −1 around) and four right-angled corners
    (+1 on the centre and its two arms, −1 on the other neighbours)."""
    endpoint = -torch.ones(3, 3)
    endpoint[1, 1] = 3
    corners = []
    for dr, dc in ((1, 1), (1, -1), (-1, 1), (-1, -1)):  # arms: down/up and right/left
        k = -torch.ones(3, 3)
        k[1, 1] = k[1 + dr, 1] = k[1, 1 + dc] = 1
        corners.append(k)
    names = ["endpoint", "corner ┌", "corner ┐", "corner └", "corner ┘"]
    return torch.stack([endpoint, *corners])[:, None], names


def template_detections(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-correlate, threshold: endpoint map [N, H, W] (response ≥ 2) and corner map (any corner response ≥ 3)."""
    kernels, _ = hand_templates()
    responses = F.conv2d(images, kernels, padding=1)
    return responses[:, 0] >= 2, (responses[:, 1:] >= 3).any(1)


def classify_by_templates(images: torch.Tensor) -> torch.Tensor:
    """Sum the detections: 'D' (1) when corners outnumber endpoints, else 'C' (0)."""
    ends, corners = template_detections(images)
    return (corners.sum((1, 2)) > ends.sum((1, 2))).long()


# ----------------------------------------------------------------------------------------------


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    k = len(MOTIF)
    if config.length < k + 1:
        raise UserError(f"invalid 'length' {config.length}: must exceed the motif length {k}")
    if min(config.train_sizes) < 2:
        raise UserError("invalid 'train_sizes': every size must be ≥ 2")

    metrics: dict[str, float] = {}
    # (a) shared vs unshared detectors
    x_test, y_test = motif_sequences(
        config.n_test, config.length, amplitude=config.amplitude, seed=ctx.seed + 99_999
    )
    curves = {"shared": [], "dense": []}
    for n in ctx.progress(config.train_sizes, description="training sizes"):
        for name, shared in (("shared", True), ("dense", False)):
            accs = []
            for r in range(config.repeats):
                seed = ctx.seed + r
                x, y = motif_sequences(n, config.length, amplitude=config.amplitude, seed=seed)
                torch.manual_seed(seed)
                model = SlidingDetector(config.length, k, config.detectors, shared)
                accs.append(evaluate(fit(model, x, y, config.steps, config.lr, seed=seed), x_test, y_test))
            curves[name].append(float(np.mean(accs)))
            metrics[f"acc_{name}_n{n}"] = curves[name][-1]

    # (b) letters: train on the left half of the canvas, test on the right half
    x_tr, y_tr = letters(config.n_letters, region="left", seed=ctx.seed)
    x_te, y_te = letters(config.n_test, region="right", seed=ctx.seed + 99_999)
    metrics["acc_templates_seen"] = (classify_by_templates(x_tr) == y_tr).float().mean().item()
    metrics["acc_templates_unseen"] = (classify_by_templates(x_te) == y_te).float().mean().item()
    torch.manual_seed(ctx.seed)
    conv = fit(ConvTemplates(config.channels), x_tr, y_tr, config.steps, config.lr, seed=ctx.seed)
    metrics["acc_conv_seen"] = evaluate(conv, x_tr, y_tr)
    metrics["acc_conv_unseen"] = evaluate(conv, x_te, y_te)
    torch.manual_seed(ctx.seed)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(x_tr[0].numel(), 64), nn.ReLU(), nn.Linear(64, 2))
    fit(mlp, x_tr, y_tr, config.steps, config.lr, seed=ctx.seed)
    metrics["acc_mlp_seen"] = evaluate(mlp, x_tr, y_tr)
    metrics["acc_mlp_unseen"] = evaluate(mlp, x_te, y_te)

    ctx.table(
        "Letters: accuracy on the training half (seen) and the other half (unseen positions)",
        [
            {"model": m, "seen": metrics[f"acc_{m}_seen"], "unseen": metrics[f"acc_{m}_unseen"]}
            for m in ("templates", "conv", "mlp")
        ],
    )
    ctx.note(
        f"(a) {config.repeats} seeds per size, tested on {config.n_test} fresh sequences of length {config.length}. "
        f"(b) {config.n_letters} training letters inside the left half of a 20×40 canvas, {config.n_test} test letters "
        "inside the right half; 'mlp' is a fully connected network given the same training set, for contrast."
    )
    ctx.save_figure("sequences", _sequences_figure(config, ctx.seed))
    ctx.save_figure("samples", _samples_figure(config, curves))
    ctx.save_figure("letters", _letters_figure(x_tr[:4], x_te[:4], y_tr[:4], y_te[:4]))
    ctx.save_figure("templates", _templates_figure(conv))
    ctx.save_model(conv, name="model")
    ctx.save_arrays(
        train_sizes=np.array(config.train_sizes),
        acc_shared=curves["shared"],
        acc_dense=curves["dense"],
        conv_kernels=conv.conv.weight.detach().numpy(),
    )
    return metrics


# ----------------------------------------------------------------------------------------------
# figures


def _sequences_figure(config, seed):
    import matplotlib.pyplot as plt

    x, y = motif_sequences(4, config.length, amplitude=config.amplitude, seed=seed + 7)
    fig, axes = plt.subplots(4, 1, figsize=(7, 5), sharex=True)
    kernel = config.amplitude * torch.tensor(MOTIF)
    for ax, xi, yi in zip(axes, x, y):
        ax.plot(xi.numpy(), "-o", ms=3)
        if yi:
            start = int(torch.argmax(F.conv1d(xi[None, None], kernel[None, None]).squeeze()))
            ax.axvspan(start - 0.5, start + len(MOTIF) - 0.5, color="gold", alpha=0.4)
        ax.set_ylabel(f"class {int(yi)}")
    axes[0].set_title(f"Sequences; class 1 carries the motif {MOTIF} × {config.amplitude} (shaded)")
    axes[-1].set_xlabel("position")
    fig.tight_layout()
    return fig


def _samples_figure(config, curves):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4))
    ax.plot(config.train_sizes, curves["shared"], "-o", label="shared detector + max (convolution)")
    ax.plot(config.train_sizes, curves["dense"], "-s", label="unshared detector per position + max")
    ax.set_xscale("log", base=2)
    ax.set_xticks(config.train_sizes, [str(n) for n in config.train_sizes])
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("training sequences")
    ax.set_ylabel(f"test accuracy (mean of {config.repeats} seeds)")
    ax.set_title("Weight sharing and sample efficiency")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _letters_figure(x_tr, x_te, y_tr, y_te):
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


def _templates_figure(conv):
    import matplotlib.pyplot as plt

    hand, names = hand_templates()
    learned = conv.conv.weight.detach()
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
