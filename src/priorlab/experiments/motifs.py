"""Motif detection: a shared detector slid along a sequence vs unshared ones, and "C" vs "D" at unseen positions."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, LearningRate, Steps, unique_list
from priorlab.context import RunContext
from priorlab.data.motifs import MOTIF, letters, motif_sequences
from priorlab.nets.motifs import (
    ConvTemplates,
    SlidingDetector,
    classify_by_templates,
    dense_classifier,
    template_detections,
)
from priorlab.stats.claims import Claim
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
QUESTION = (
    "Does one detector slid along a sequence (then max) learn to find a motif from fewer examples than separate "
    "detectors per position, and do endpoint and corner templates tell 'C' from 'D' at positions never seen?"
)
KEY_FIGURE = "scores"
FIGURES = {
    "scores": "The detector slid along a sequence: its score at every position (top, the motif itself as the "
    "kernel; bottom, the learned shared detector's channel that votes most for class 1), the maximum marked; the "
    "planted motif is shaded. Left a class-1 sequence, right a class-0 one (no motif: a lower maximum).",
    "decision": "C vs D by summing detections: each test letter's number of endpoint detections against its number "
    "of corner detections (jittered; colour = the true letter); 'D' where corners outnumber endpoints (above the "
    "line). Left: two test letters with their detections and counts.",
    "sequences": "Example sequences; the planted motif (class 1) is shaded.",
    "samples": "Test accuracy against the number of training sequences: one detector shared across positions, then "
    "max, vs a separate (unshared) detector per position with the same 5-sample receptive field, then max.",
    "letters": "Letters from the training half (left) and the never-seen test half (right) of the canvas, with the "
    "hand-set template detections: endpoints (red) and corners (green).",
    "templates": "Top: the hand-set 3×3 templates (endpoint, four corners). Bottom: the learned convolution's kernels.",
}
DEMO = [{}]
SOURCE = "deep learning course lecture (STUDIES.md §5)"


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
    steps: Steps = Field(300, description="Adam steps per model")
    lr: LearningRate = Field(0.02, description="Adam learning rate")
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


def sharing_curves(config: Config, ctx: RunContext) -> tuple[dict[str, np.ndarray], nn.Module]:
    """(a) Test accuracy [size, repeat] of a shared vs an unshared detector; and the shared detector trained on the
    largest set (first seed), for the score figure."""
    x_test, y_test = held_out_sequences(config, ctx.seed)
    curves = {"shared": np.zeros((len(config.train_sizes), config.repeats)), "dense": None}
    curves["dense"] = np.zeros_like(curves["shared"])
    kept = None
    for i, n in enumerate(ctx.progress(config.train_sizes, description="training sizes")):
        for name, shared in (("shared", True), ("dense", False)):
            for r in range(config.repeats):
                seed = ctx.seed + r
                x, y = motif_sequences(n, config.length, amplitude=config.amplitude, seed=seed)
                torch.manual_seed(seed)
                with ctx.timed("train"):
                    model = train(SlidingDetector(config.length, len(MOTIF), config.detectors, shared), x, y, config,
                                  seed)
                curves[name][i, r] = evaluate(model, x_test, y_test)
                if shared and r == 0 and i == len(config.train_sizes) - 1:
                    kept = model
    return curves, kept


def held_out_sequences(config: Config, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return motif_sequences(config.n_test, config.length, amplitude=config.amplitude, seed=seed + 99_999)


@torch.no_grad()
def detector_scores(config: Config, model: SlidingDetector, seed: int) -> tuple[dict, dict[str, float]]:
    """Scores along the test sequences: the motif itself as the kernel (cross-correlation) and the learned shared
    detector's channel with the largest class-1 vote; the planted starts (from the noise-free draw of the same
    sequences); how often each score's maximum lands on the planted motif (within 2 positions)."""
    x, y = held_out_sequences(config, seed)
    clean, _ = motif_sequences(config.n_test, config.length, amplitude=config.amplitude, noise=0.0, seed=seed + 99_999)
    motif = torch.tensor(MOTIF)
    starts = F.conv1d(clean[:, None], motif[None, None])[:, 0].argmax(-1)
    vote = model.readout.weight[1] - model.readout.weight[0]
    channel = int(vote.argmax())
    windows = x.unfold(1, len(MOTIF), 1)  # [N, P, k]
    learned = torch.relu(windows @ model.weight[0, channel] + model.bias[0, channel])
    matched = windows @ motif
    ones = y == 1
    hits = {name: ((s.argmax(-1) - starts).abs() <= 2)[ones].float().mean().item()
            for name, s in (("motif", matched), ("learned", learned))}
    i1, i0 = int(torch.nonzero(ones)[0]), int(torch.nonzero(~ones)[0])
    example = {"x": x[[i1, i0]].numpy(), "start": int(starts[i1]), "matched": matched[[i1, i0]].numpy(),
               "learned": learned[[i1, i0]].numpy(), "channel": channel, "k": len(MOTIF)}
    return example, {"motif_hit_rate": hits["motif"], "learned_hit_rate": hits["learned"]}


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    # (a) shared vs unshared detectors
    curves, detector = sharing_curves(config, ctx)
    metrics = {
        f"acc_{name}_n{n}": float(curves[name][i].mean())
        for i, n in enumerate(config.train_sizes)
        for name in ("shared", "dense")
    }
    example, hits = detector_scores(config, detector, ctx.seed)
    metrics.update(hits)
    metrics["sharing_advantage_smallest"] = metrics[f"acc_shared_n{config.train_sizes[0]}"] - metrics[
        f"acc_dense_n{config.train_sizes[0]}"]

    # (b) letters: train on the left half of the canvas, test on the right half
    conv, letter_sets = letter_models(config, ctx, metrics)
    x_tr, y_tr, x_te, y_te = letter_sets
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
    ends, corners = template_detections(x_te)
    x_ex, y_ex = motif_sequences(4, config.length, amplitude=config.amplitude, seed=ctx.seed + 7)
    shown = [int(torch.nonzero(y_te == cls)[0]) for cls in (0, 1)]  # the decision figure's 'C' and 'D'
    ctx.save_model(conv, name="model")
    ctx.save_arrays(
        train_sizes=np.array(config.train_sizes),
        acc_shared=curves["shared"],
        acc_dense=curves["dense"],
        conv_kernels=conv.conv.weight.detach().numpy(),
        endpoints_test=ends.sum((1, 2)).numpy(),
        corners_test=corners.sum((1, 2)).numpy(),
        labels_test=y_te.numpy(),
        decision_images=x_te[shown, 0].numpy(), decision_endpoints=ends[shown].numpy(),
        decision_corners=corners[shown].numpy(),
        **{f"scores_{key}": example[key] for key in ("x", "matched", "learned")},
        scores_meta=np.array([example["start"], example["channel"], example["k"]]),
        sequences_x=x_ex.numpy(), sequences_y=y_ex.numpy(),
        letters_train=x_tr[:4].numpy(), letters_test=x_te[:4].numpy(),
        letters_train_y=y_tr[:4].numpy(), letters_test_y=y_te[:4].numpy(),
    )
    return metrics


def draw(config: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure of a run from its arrays."""
    t = torch.from_numpy
    if ctx.draws("scores"):
        start, channel, k = (int(v) for v in arrays["scores_meta"])
        example = {key: arrays[f"scores_{key}"] for key in ("x", "matched", "learned")}
        ctx.save_figure("scores", figures.scores_figure({**example, "start": start, "channel": channel, "k": k},
                                                        config.amplitude, config.train_sizes[-1]))
    if ctx.draws("decision"):
        ctx.save_figure("decision", figures.decision_figure(
            arrays["decision_images"], arrays["decision_endpoints"], arrays["decision_corners"],
            arrays["endpoints_test"], arrays["corners_test"], arrays["labels_test"]))
    if ctx.draws("sequences"):
        ctx.save_figure("sequences", figures.sequences_figure(t(arrays["sequences_x"]), t(arrays["sequences_y"]),
                                                              config.amplitude))
    if ctx.draws("samples"):
        curves = {"shared": arrays["acc_shared"], "dense": arrays["acc_dense"]}
        ctx.save_figure("samples", figures.samples_figure(config.train_sizes, curves, config.repeats))
    if ctx.draws("letters"):
        ctx.save_figure("letters", figures.letters_figure(*(t(arrays[f"letters_{k}"]) for k in (
            "train", "test", "train_y", "test_y"))))
    if ctx.draws("templates"):
        ctx.save_figure("templates", figures.templates_figure(t(arrays["conv_kernels"])))


def letter_models(config: Config, ctx: RunContext, metrics: dict) -> tuple[nn.Module, tuple]:
    """(b) Hand-set templates, a learned convolution and a dense contrast on left-half letters, tested on the right
    half; accuracies into ``metrics``."""
    x_tr, y_tr = letters(config.n_letters, region="left", seed=ctx.seed)
    x_te, y_te = letters(config.n_test, region="right", seed=ctx.seed + 99_999)
    metrics["acc_templates_seen"] = (classify_by_templates(x_tr) == y_tr).float().mean().item()
    metrics["acc_templates_unseen"] = (classify_by_templates(x_te) == y_te).float().mean().item()
    torch.manual_seed(ctx.seed)
    with ctx.timed("train"):
        conv = train(ConvTemplates(config.channels), x_tr, y_tr, config, ctx.seed)
    metrics["acc_conv_seen"] = evaluate(conv, x_tr, y_tr)
    metrics["acc_conv_unseen"] = evaluate(conv, x_te, y_te)
    torch.manual_seed(ctx.seed)
    with ctx.timed("train"):
        mlp = train(dense_classifier(x_tr[0].numel()), x_tr, y_tr, config, ctx.seed)
    metrics["acc_mlp_seen"] = evaluate(mlp, x_tr, y_tr)
    metrics["acc_mlp_unseen"] = evaluate(mlp, x_te, y_te)
    return conv, (x_tr, y_tr, x_te, y_te)


def setup(config: Config) -> str:
    return (
        f"(a) Sequences of {config.length} N(0, 1) samples, half with the motif {MOTIF} × {config.amplitude:g} at a "
        f"random position; {config.detectors} detector channels of {len(MOTIF)} samples, shared (a convolution) or one "
        f"per position, ReLU, max, linear read-out; {config.repeats} seeds per training-set size "
        f"({', '.join(map(str, config.train_sizes))}), {config.steps} Adam steps, tested on {config.n_test} fresh "
        f"sequences. (b) {config.n_letters} 'C'/'D' letters in the left half of a 20×40 canvas for training, "
        f"{config.n_test} in the right half for testing: hand-set templates, a learned 3×3 convolution "
        f"({config.channels} channels), a fully connected contrast."
    )


def claims(config: Config) -> list[Claim]:
    small = config.train_sizes[0]
    return [
        Claim(f"sliding one detector and taking the max finds the motif: with the motif as the kernel, the max lands "
              f"on it (±2) in ≥ 90% of class-1 sequences (amplitude {config.amplitude:g})", SOURCE, "motif_hit_rate",
              (0.9, 1.0), applies=True if config.amplitude >= 2 else
              "below amplitude 2 the noise's maximum often beats the motif's score (the lecture's claim is for a "
              "clear motif)"),
        Claim(f"weight sharing learns from fewer examples: at {small} training sequences the shared detector is "
              "ahead of one detector per position by ≥ 0.05", SOURCE, "sharing_advantage_smallest", (0.05, 1.0)),
        Claim("endpoint and corner templates, detections summed, tell C from D at positions never seen in training",
              SOURCE, "acc_templates_unseen", (0.95, 1.0)),
        Claim("the same templates learned as a 3×3 convolution (then max) work at unseen positions", SOURCE,
              "acc_conv_unseen", (0.95, 1.0)),
        Claim("contrast: a fully connected network trained on the same letters has no shift invariance (chance, "
              "0.5 ± 0.1, at unseen positions)", SOURCE, "acc_mlp_unseen", 0.5, 0.1),
    ]
