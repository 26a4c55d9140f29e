"""Motif detection: a shared detector slid along a sequence vs unshared ones, and "C" vs "D" at unseen positions."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, unique_list
from priorlab.context import RunContext
from priorlab.data.motifs import MOTIF, letters, motif_sequences
from priorlab.nets.motifs import ConvTemplates, SlidingDetector, classify_by_templates, dense_classifier
from priorlab.train.loop import fit, random_batches
from priorlab.viz import motifs as figures

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
    length: int = Field(32, ge=8, le=4096, description="sequence length (longer than the motif)")
    amplitude: float = Field(2.0, gt=0.0, le=100.0, description="motif amplitude (noise SD is 1)")
    train_sizes: unique_list(int, ge=2, le=100_000) = Field(
        [8, 16, 32, 64, 128, 256], description="training-set sizes"
    )
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


BATCH_SIZE = 64  # minibatch of every training run (drawn with replacement)


def train(model: nn.Module, x, y, config: Config, seed: int) -> nn.Module:
    """Minibatch Adam on the cross-entropy; the batches are drawn from a generator seeded with ``seed``."""
    batches = random_batches(len(x), BATCH_SIZE, config.steps, torch.Generator().manual_seed(seed))
    fit(model, lambda idx: F.cross_entropy(model(x[idx]), y[idx]), batches, lr=config.lr)
    return model


def evaluate(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def sharing_curves(config: Config, ctx: RunContext) -> dict[str, list[float]]:
    """(a) Test accuracy per training-set size (mean over repeats), a shared vs an unshared detector."""
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
                model = SlidingDetector(config.length, len(MOTIF), config.detectors, shared)
                accs.append(evaluate(train(model, x, y, config, seed), x_test, y_test))
            curves[name].append(float(np.mean(accs)))
    return curves


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    # (a) shared vs unshared detectors
    curves = sharing_curves(config, ctx)
    metrics = {
        f"acc_{name}_n{n}": curves[name][i] for i, n in enumerate(config.train_sizes) for name in ("shared", "dense")
    }

    # (b) letters: train on the left half of the canvas, test on the right half
    x_tr, y_tr = letters(config.n_letters, region="left", seed=ctx.seed)
    x_te, y_te = letters(config.n_test, region="right", seed=ctx.seed + 99_999)
    metrics["acc_templates_seen"] = (classify_by_templates(x_tr) == y_tr).float().mean().item()
    metrics["acc_templates_unseen"] = (classify_by_templates(x_te) == y_te).float().mean().item()
    torch.manual_seed(ctx.seed)
    conv = train(ConvTemplates(config.channels), x_tr, y_tr, config, ctx.seed)
    metrics["acc_conv_seen"] = evaluate(conv, x_tr, y_tr)
    metrics["acc_conv_unseen"] = evaluate(conv, x_te, y_te)
    torch.manual_seed(ctx.seed)
    mlp = train(dense_classifier(x_tr[0].numel()), x_tr, y_tr, config, ctx.seed)
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
    x_ex, y_ex = motif_sequences(4, config.length, amplitude=config.amplitude, seed=ctx.seed + 7)
    ctx.save_figure("sequences", figures.sequences_figure(x_ex, y_ex, config.amplitude))
    ctx.save_figure("samples", figures.samples_figure(config.train_sizes, curves, config.repeats))
    ctx.save_figure("letters", figures.letters_figure(x_tr[:4], x_te[:4], y_tr[:4], y_te[:4]))
    ctx.save_figure("templates", figures.templates_figure(conv.conv.weight.detach()))
    ctx.save_model(conv, name="model")
    ctx.save_arrays(
        train_sizes=np.array(config.train_sizes),
        acc_shared=curves["shared"],
        acc_dense=curves["dense"],
        conv_kernels=conv.conv.weight.detach().numpy(),
    )
    return metrics
