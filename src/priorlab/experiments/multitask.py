"""One frozen random network, many tasks: each task is a bias vector (or a mask over hidden units).

All tasks share W1 ~ N(0, 1/d) (frozen). Task k owns a frozen random head W2ᵏ ~ N(0, 1/N) and learns

    bias:  its hidden biases b1ᵏ and output bias b2ᵏ   (priorlab.regimes.apply(net, "bias_only"))
    mask:  scores over hidden units, of which the top `keep` fraction stay on (edge-popup's straight-through
           estimator, applied to units instead of weights), and its output bias b2ᵏ; b1 stays 0.

Because the heads are random and frozen, a task lives entirely in its bias vector (or mask). Swapping it is the
test: task A's head read through task B's biases should fall to chance on task A.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from sklearn.metrics import balanced_accuracy_score
from torch import nn

from priorlab.config import BaseConfig, UserError, Widths
from priorlab.context import RunContext
from priorlab.data.digits import digits
from priorlab.experiments import biasonly
from priorlab.experiments.biasonly import one_hidden, train
from priorlab.regimes import apply

DESCRIPTION = (
    "One frozen random network, several digit tasks: each task is its own bias vector (vs a unit mask)"
)
ORDER = 42
CITATION = biasonly.CITATION  # the same study
FIGURES = {
    "accuracy": "Balanced test accuracy of each task against hidden width: learned biases (solid) and learned "
    "unit masks (dashed); dotted lines mark chance.",
    "switch": "Balanced accuracy on the head's task (rows) when the hidden layer uses another task's bias vector or "
    "mask (columns), at the largest width: the diagonal is the trained pairing.",
}
DEMO = [{}]

# name -> (number of classes, label map from the digit)
TASKS = {
    "digit": (10, lambda y: y),
    "parity": (2, lambda y: y % 2),
    "small": (2, lambda y: (y < 5).long()),
    "is7": (2, lambda y: (y == 7).long()),
    "mod3": (3, lambda y: y % 3),
    "prime": (2, lambda y: ((y == 2) | (y == 3) | (y == 5) | (y == 7)).long()),
}
METHODS = ("bias", "mask")


class Config(BaseConfig):
    tasks: list[Literal["digit", "parity", "small", "is7", "mod3", "prime"]] = Field(
        ["digit", "parity", "small", "is7"], min_length=2, max_length=6, description="tasks on the digits"
    )
    widths: Widths = Field([256, 1024], min_length=1, max_length=12, description="hidden widths N")
    methods: list[Literal["bias", "mask"]] = Field(
        list(METHODS), min_length=1, max_length=2, description="what each task learns"
    )
    steps: int = Field(300, ge=1, le=1_000_000, description="full-batch Adam steps per task")
    lr: float = Field(0.05, gt=0, le=10, description="Adam learning rate")
    keep: float = Field(0.5, gt=0, lt=1, description="mask: fraction of hidden units kept on")

    FULL: ClassVar[dict] = {"widths": [64, 256, 1024, 4096]}


class UnitMask(nn.Module):
    """h -> h * m with m the indicator of the top `keep` fraction of `scores`; gradients pass straight through to
    the scores (m + s - s.detach()), as edge-popup does for weights."""

    def __init__(self, units: int, keep: float, seed: int):
        super().__init__()
        self.k = max(1, round(keep * units))
        self.scores = nn.Parameter(torch.rand(units, generator=torch.Generator().manual_seed(seed)))

    def mask(self) -> torch.Tensor:
        m = torch.zeros_like(self.scores)
        m[self.scores.topk(self.k).indices] = 1.0
        return m + self.scores - self.scores.detach()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * self.mask()


def task_net(
    method: str, width: int, classes: int, shared: torch.Tensor, seed: int, keep: float
) -> nn.Sequential:
    """A one-hidden-layer net on the frozen first-layer weight `shared` [width, d], with its own zero hidden bias
    and its own random frozen head; only this task's biases (or mask scores) and output bias learn."""
    net = one_hidden(shared.shape[1], width, classes, seed)
    net[0].weight = shared
    if method == "bias":
        return apply(net, "bias_only")
    net = apply(nn.Sequential(net[0], net[1], UnitMask(width, keep, seed), net[2]), "frozen")
    net[2].scores.requires_grad_(True)
    net[3].bias.requires_grad_(True)
    return net


def balanced_weights(y: torch.Tensor, classes: int) -> torch.Tensor:
    """Cross-entropy class weights n / (C n_c): the loss of a balanced data set."""
    counts = torch.bincount(y, minlength=classes).float().clamp_min(1)
    return len(y) / (classes * counts)


@torch.no_grad()
def balanced_acc(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(balanced_accuracy_score(y.numpy(), net(x).argmax(1).numpy()))


@torch.no_grad()
def switched(nets: list[nn.Sequential], method: str, x: torch.Tensor, ys: list[torch.Tensor]) -> np.ndarray:
    """acc[a, b]: task a's head and output bias, task b's hidden biases (or mask), scored on task a."""
    k = len(nets)
    acc = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            probe = _swap(nets[a], nets[b], method)
            acc[a, b] = balanced_acc(probe, x, ys[a])
    return acc


def _swap(head_net: nn.Sequential, other: nn.Sequential, method: str) -> nn.Sequential:
    """head_net with the hidden-layer part of `other` (its biases, or its mask)."""
    if method == "bias":
        return nn.Sequential(other[0], head_net[1], head_net[2])
    return nn.Sequential(head_net[0], head_net[1], other[2], head_net[3])


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    if len(set(cfg.tasks)) != len(cfg.tasks) or len(set(cfg.methods)) != len(cfg.methods):
        raise UserError("'tasks' and 'methods' must not repeat an entry")
    split = digits(seed=cfg.seed)
    ys_train = [TASKS[t][1](split.y_train) for t in cfg.tasks]
    ys_test = [TASKS[t][1](split.y_test) for t in cfg.tasks]
    classes = [TASKS[t][0] for t in cfg.tasks]
    d = split.x_train.shape[1]
    widths = sorted(cfg.widths)

    acc = np.zeros((len(cfg.methods), len(widths), len(cfg.tasks)))
    swaps = {}
    jobs = [(m, j) for j in range(len(widths)) for m in range(len(cfg.methods))]
    for m, j in ctx.progress(jobs, description="training"):
        method, width = cfg.methods[m], widths[j]
        # the one random W1, frozen and shared by every task
        shared = one_hidden(d, width, 1, ctx.seed)[0].weight
        nets = []
        for k in range(len(cfg.tasks)):
            net = task_net(method, width, classes[k], shared, ctx.seed + 1 + k, cfg.keep)
            loss = nn.CrossEntropyLoss(weight=balanced_weights(ys_train[k], classes[k]))
            train(net, split.x_train, ys_train[k], cfg.steps, cfg.lr, loss)
            acc[m, j, k] = balanced_acc(net, split.x_test, ys_test[k])
            nets.append(net)
        if j == len(widths) - 1:
            swaps[method] = switched(nets, method, split.x_test, ys_test)
            ctx.save_model(
                {f"{t}.{n}": p for t, net in zip(cfg.tasks, nets) for n, p in net.state_dict().items()},
                f"{method}_nets",
            )

    metrics: dict[str, float] = {}
    top = widths[-1]
    for k, task in enumerate(cfg.tasks):
        metrics[f"chance_{task}"] = 1 / classes[k]
        for m, method in enumerate(cfg.methods):
            prefix = "task_acc" if method == "bias" else "mask_acc"
            metrics[f"{prefix}_{task}"] = float(acc[m, -1, k])
            for j, w in enumerate(widths):
                metrics[f"{prefix}_{task}_w{w}"] = float(acc[m, j, k])
    for method, s in swaps.items():
        off = s[~np.eye(len(s), dtype=bool)]
        metrics[f"switched_acc_{method}"] = float(off.mean())  # mean over (head, other task's biases) pairs
    rows = [
        {
            "task": task,
            "classes": classes[k],
            "chance": round(1 / classes[k], 3),
            **{f"{method} (w{top})": round(float(acc[m, -1, k]), 4) for m, method in enumerate(cfg.methods)},
            **{
                f"{method}, swapped (mean)": round(float(np.delete(swaps[method][k], k).mean()), 4)
                for method in cfg.methods
            },
        }
        for k, task in enumerate(cfg.tasks)
    ]
    ctx.table(f"Balanced test accuracy per task at width {top}, own vs another task's biases / mask", rows)
    ctx.save_arrays(widths=np.array(widths), acc=acc, **{f"switch_{m}": s for m, s in swaps.items()})
    _figures(cfg, ctx, widths, acc, swaps, classes)
    return metrics


def _figures(cfg, ctx, widths, acc, swaps, classes) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, task in enumerate(cfg.tasks):
        for m, method in enumerate(cfg.methods):
            ax.plot(
                widths,
                acc[m, :, k],
                "-o" if method == "bias" else "--s",
                color=f"C{k}",
                ms=4,
                label=f"{task} ({method})",
            )
        ax.axhline(1 / classes[k], color=f"C{k}", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set(
        xlabel="hidden width N",
        ylabel="balanced test accuracy",
        ylim=(0, 1.02),
        title="One frozen random network, one bias vector (or mask) per task",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ctx.save_figure("accuracy", fig)

    fig, axes = plt.subplots(
        1, len(swaps), figsize=(4.6 * len(swaps), 4.2), squeeze=False, layout="constrained"
    )
    for ax, (method, s) in zip(axes[0], swaps.items()):
        im = ax.imshow(s, vmin=0, vmax=1, cmap="viridis")
        for (a, b), v in np.ndenumerate(s):
            ax.text(b, a, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.6 else "k", fontsize=8)
        ax.set_xticks(range(len(cfg.tasks)), cfg.tasks, rotation=45)
        ax.set_yticks(range(len(cfg.tasks)), cfg.tasks)
        ax.set(
            xlabel=f"hidden-layer {'biases' if method == 'bias' else 'mask'} of task",
            ylabel="head (and scored task)",
            title=f"{method}, width {widths[-1]}",
        )
    fig.colorbar(im, ax=axes[0].tolist(), label="balanced accuracy", shrink=0.8)
    ctx.save_figure("switch", fig)
