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

from priorlab.config import BaseConfig, LearningRate, Steps, Widths, unique_list
from priorlab.context import RunContext
from priorlab.data.digits import digits
from priorlab.experiments import biasonly
from priorlab.nets.onelayer import full_batch, one_hidden, task_net
from priorlab.stats.claims import Claim
from priorlab.stats.intervals import ci_text, mean_ci, with_ci
from priorlab.train.loop import fit
from priorlab.viz.regimes import state_space, task_switch

DESCRIPTION = (
    "One frozen random network, several digit tasks: each task is its own bias vector (vs a unit mask)"
)
ORDER = 42
CITATION = biasonly.CITATION  # the same study
QUESTION = "Can one frozen random network do several tasks, each task only a different bias vector on the same weights?"
KEY_FIGURE = "states"
SOURCE = "Williams et al. 2024 (STUDIES.md §3)"
FIGURES = {
    "accuracy": "Balanced test accuracy of each task against hidden width: learned biases (solid) and learned "
    "unit masks (dashed), the mean over seeds with its 95% bootstrap CI (error bars, with more than one seed); dotted "
    "lines mark chance.",
    "switch": "Balanced accuracy on the head's task (rows) when the hidden layer uses another task's bias vector or "
    "mask (columns), at the largest width (mean over seeds): the diagonal is the trained pairing.",
    "states": "The hidden layer's state space at the largest width: relu(W1 x + b1ᵏ) for the test images under each "
    "task's bias vector b1ᵏ (same W1), projected on the first two principal components of all tasks' activity "
    "together. Left: coloured by the bias vector in use; then one panel per task, coloured by that task's label.",
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
    tasks: unique_list(Literal["digit", "parity", "small", "is7", "mod3", "prime"], min_length=2, max_length=6) = (
        Field(["digit", "parity", "small", "is7"], description="tasks on the digits")
    )
    widths: Widths = Field([256, 1024], max_length=12, description="hidden widths N")
    methods: unique_list(Literal["bias", "mask"], max_length=2) = Field(
        list(METHODS), description="what each task learns"
    )
    steps: Steps = Field(300, description="full-batch Adam steps per task")
    lr: LearningRate = Field(0.05, description="Adam learning rate")
    keep: float = Field(0.5, gt=0, lt=1, description="mask: fraction of hidden units kept on")
    repeats: int = Field(1, ge=1, le=100, description="seeds: a fresh W1 and heads per repeat (CIs need >= 2)")

    FULL: ClassVar[dict] = {"widths": [64, 256, 1024, 4096], "repeats": 5}


def balanced_weights(y: torch.Tensor, classes: int) -> torch.Tensor:
    """Cross-entropy class weights n / (C n_c): the loss of a balanced data set."""
    counts = torch.bincount(y, minlength=classes).float().clamp_min(1)
    return len(y) / (classes * counts)


def train_task(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, classes: int, cfg: Config) -> None:
    """Full-batch Adam on class-balanced cross-entropy."""
    forward, loss = full_batch(net, x), nn.CrossEntropyLoss(weight=balanced_weights(y, classes))
    fit(net, lambda _: loss(forward(), y), cfg.steps, lr=cfg.lr)


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
    split = digits(seed=cfg.seed)
    ys_train = [TASKS[t][1](split.y_train) for t in cfg.tasks]
    ys_test = [TASKS[t][1](split.y_test) for t in cfg.tasks]
    classes = [TASKS[t][0] for t in cfg.tasks]
    d = split.x_train.shape[1]
    widths = sorted(cfg.widths)

    acc = np.zeros((len(cfg.methods), len(widths), len(cfg.tasks), cfg.repeats))
    swaps = {method: np.zeros((len(cfg.tasks), len(cfg.tasks), cfg.repeats)) for method in cfg.methods}
    jobs = [(r, m, j) for r in range(cfg.repeats) for j in range(len(widths)) for m in range(len(cfg.methods))]
    with ctx.timed("train"):
        for r, m, j in ctx.progress(jobs, description="training"):
            method, width = cfg.methods[m], widths[j]
            seed = repeat_seed(cfg, ctx.seed, r)
            # the one random W1, frozen and shared by every task
            shared = one_hidden(d, width, 1, seed)[0].weight
            nets = []
            for k in range(len(cfg.tasks)):
                net = task_net(method, width, classes[k], shared, seed + 1 + k, cfg.keep)
                train_task(net, split.x_train, ys_train[k], classes[k], cfg)
                acc[m, j, k, r] = balanced_acc(net, split.x_test, ys_test[k])
                nets.append(net)
            if j == len(widths) - 1:
                swaps[method][..., r] = switched(nets, method, split.x_test, ys_test)
                if r == 0 and method == "bias":
                    states = hidden_states(nets, split.x_test)
                if r == 0:
                    ctx.save_model(
                        {f"{t}.{n}": p for t, net in zip(cfg.tasks, nets) for n, p in net.state_dict().items()},
                        f"{method}_nets",
                    )

    metrics = measure(cfg, ctx, widths, acc, swaps, classes)
    if "bias" in cfg.methods:
        projected, metrics["states_task_variance"] = project(states)
        ctx.save_arrays(states=projected.astype(np.float32), state_labels=np.stack([y.numpy() for y in ys_test]))
    return metrics


def draw(cfg: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure from the saved accuracies (CIs recomputed from the per-seed runs with the run's bootstrap seed)
    and the projected hidden states."""
    widths, classes, runs = arrays["widths"].tolist(), [TASKS[t][0] for t in cfg.tasks], arrays["acc_runs"]
    if ctx.draws("accuracy") or ctx.draws("switch"):
        ci = None
        if cfg.repeats > 1:  # [method, width, task] as measure's with_ci gives them
            cis = np.array([[[tuple(mean_ci(runs[m, j, k], seed=cfg.seed))[1:] for k in range(len(cfg.tasks))]
                             for j in range(len(widths))] for m in range(len(cfg.methods))])
            ci = (cis[..., 0], cis[..., 1])
        swaps = {method: arrays[f"switch_{method}"] for method in cfg.methods}
        for name, fig in task_switch(widths, arrays["acc"], swaps, cfg.tasks, cfg.methods, classes, ci).items():
            ctx.save_figure(name, fig)
    if "states" in arrays and ctx.draws("states"):
        ctx.save_figure("states", state_space(arrays["states"], cfg.tasks, list(arrays["state_labels"]), widths[-1]))


def repeat_seed(cfg: Config, seed: int, r: int) -> int:
    """The base seed of repeat r: repeat r draws W1 from it and task k's head from it + 1 + k, so repeats are spaced
    by the number of tasks + 1 and share no seed (repeat 0 is the single-seed run)."""
    return seed + r * (len(cfg.tasks) + 1)


@torch.no_grad()
def hidden_states(nets: list[nn.Sequential], x: torch.Tensor) -> np.ndarray:
    """[task, image, unit]: relu(W1 x + b1ᵏ) under each task's hidden biases (the shared W1)."""
    return np.stack([net[1](net[0](x)).numpy() for net in nets])


def project(states: np.ndarray) -> tuple[np.ndarray, float]:
    """The states [task, image, unit] on the top two principal components of all of them ([task, image, 2]), and
    the fraction of their variance that is between the tasks' mean states (how far the bias vectors move them)."""
    flat = states.reshape(-1, states.shape[2])
    centred = flat - flat.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    between = ((states.mean(1) - flat.mean(0)) ** 2).sum(1).mean()
    total = (centred**2).sum(1).mean()
    return (centred @ vt[:2].T).reshape(states.shape[0], states.shape[1], 2), float(between / total)


PREFIX = {"bias": "task_acc", "mask": "mask_acc"}


def measure(cfg: Config, ctx: RunContext, widths, acc, swaps, classes) -> dict[str, float]:
    """Metrics (chance, own-bias and switched accuracies: means over the repeats with bootstrap CIs and n), the report
    table and the arrays. acc [method, width, task, repeat]; swaps[method] [head task, bias task, repeat]."""
    metrics: dict[str, float] = {}
    top = widths[-1]
    for k, task in enumerate(cfg.tasks):
        metrics[f"chance_{task}"] = 1 / classes[k]
        for m, method in enumerate(cfg.methods):
            with_ci(metrics, f"{PREFIX[method]}_{task}", acc[m, -1, k], seed=cfg.seed)
            for j, w in enumerate(widths):
                with_ci(metrics, f"{PREFIX[method]}_{task}_w{w}", acc[m, j, k], seed=cfg.seed)
    chance = np.array([1 / c for c in classes])
    for method, s in swaps.items():
        off = s[~np.eye(len(s), dtype=bool)]  # [pairs, repeat]
        # per repeat, the mean over (head, other task's biases) pairs
        with_ci(metrics, f"switched_acc_{method}", off.mean(0), seed=cfg.seed)
        if method == "bias":  # the claims' numbers, per repeat, then over the repeats
            with_ci(metrics, "switched_above_chance_bias", off.mean(0) - chance.mean(), seed=cfg.seed)
            skill = (acc[cfg.methods.index("bias"), -1] - chance[:, None]) / (1 - chance[:, None])  # [task, repeat]
            with_ci(metrics, "task_skill_min", skill.min(0), seed=cfg.seed)
    rows = [
        {
            "task": task,
            "classes": classes[k],
            "chance": round(1 / classes[k], 3),
            **{f"{method} (w{top})": ci_text(metrics, f"{PREFIX[method]}_{task}", 4) for method in cfg.methods},
            **{
                f"{method}, swapped (mean)": ci_text(with_ci({}, "s", np.delete(swaps[method][k], k, 0).mean(0),
                                                             seed=cfg.seed), "s", 4)
                for method in cfg.methods
            },
        }
        for k, task in enumerate(cfg.tasks)
    ]
    ctx.table(f"Balanced test accuracy per task at width {top}, own vs another task's biases / mask: mean "
              f"[95% bootstrap CI over seeds] (n seeds)", rows)
    ctx.save_arrays(widths=np.array(widths), acc=acc.mean(-1), acc_runs=acc,
                    **{f"switch_{m}": s.mean(-1) for m, s in swaps.items()},
                    **{f"switch_{m}_runs": s for m, s in swaps.items()})
    return metrics


def setup(cfg: Config) -> str:
    return (
        f"Tasks {', '.join(cfg.tasks)} on the 8x8 digits; one frozen random W1 ~ N(0, 1/d) shared by all, widths "
        f"{', '.join(map(str, sorted(cfg.widths)))}; per task a frozen random head and a learned "
        f"{' or '.join(cfg.methods)} ({cfg.steps} Adam steps); "
        + ("one seed." if cfg.repeats == 1 else f"{cfg.repeats} seeds (fresh W1 and heads), 95% bootstrap CIs over them.")
    )


def claims(cfg: Config) -> list[Claim]:
    bias = True if "bias" in cfg.methods else "needs the bias method"
    return [
        Claim("one frozen random network performs every task, each with its own learned bias vector (balanced "
              "accuracy at least halfway from chance to 1 on every task: the worst task's (task_acc − chance)/"
              "(1 − chance), mean over seeds)", source=SOURCE, metric="task_skill_min", expected=(0.5, 1.0),
              applies=bias),
        Claim("the task lives in the bias vector: another task's biases bring a head back to chance (within 0.1; "
              "switched_acc_bias − mean chance)", source=SOURCE, metric="switched_above_chance_bias",
              expected=(-1.0, 0.1), applies=bias),
    ]
