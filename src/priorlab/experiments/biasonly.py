"""Random weights, learned biases: how close does training only the biases of a wide random network come to full training?

One hidden ReLU layer, y = W2 relu(W1 x + b1) + b2, with W1 ~ N(0, 1/d), W2 ~ N(0, 1/N) and zero biases at the
start (Williams et al. 2024). For each width N and regime the same initial network is trained:

    bias_only     only b1 and b2 learn (priorlab.regimes.apply(net, "bias_only"))
    readout       only W2 and b2 learn: random features; solved in closed form (ridge) or by Adam
    full          every parameter learns
    full_matched  a fully trained network narrow enough to have as many trainable parameters as bias_only (N + C)

Training is full-batch Adam. When W1 is frozen its product with the training inputs never changes, so it is
computed once (`priorlab.nets.onelayer.FrozenFirstLayer`): the forward pass is the same function, an order of
magnitude cheaper.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

import numpy as np
import torch
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, Widths, unique_list
from priorlab.context import RunContext
from priorlab.data.functions import TargetExpr
from priorlab.nets.onelayer import full_batch, matched_width, one_hidden
from priorlab.regimes import apply, fit_readout, summary
from priorlab.train.loop import fit
from priorlab.viz.regimes import width_curves

DESCRIPTION = (
    "Random weights, learned biases: bias-only vs readout vs full training of one hidden layer, by width"
)
ORDER = 40
CITATION = (
    "Williams, Ryoo, Jiralerspong, Payeur, Perich, Mazzucato, Lajoie (2024). Expressivity of Neural Networks with "
    "Random Weights and Learned Biases. ICLR 2025."
)
FIGURES = {
    "width": "Test score against hidden width, one curve per regime, mean ± SD over repeats. full_matched is drawn "
    "at the width of the bias-only network whose trainable-parameter count it matches.",
    "params": "The same scores against the number of trainable parameters.",
}
DEMO = [{}]

Regime = Literal["bias_only", "readout", "full", "full_matched"]
REGIMES = get_args(Regime)
# default full-batch Adam steps: (bias_only and readout by Adam, full and full_matched)
TASK_STEPS = {"digits": (300, 100), "fit1d": (3000, 3000)}


class Config(BaseConfig):
    task: Literal["digits", "fit1d"] = Field(
        "digits", description="digits: classify 8x8 digits; fit1d: fit target(x)"
    )
    widths: Widths = Field([16, 128, 1024], max_length=16, description="hidden widths N")
    regimes: unique_list(Regime, max_length=4) = Field(list(REGIMES), description="regimes to compare")
    repeats: int = Field(1, ge=1, le=100, description="seeds per (width, regime): seed, seed+1, ...")
    steps: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Adam steps, bias_only and readout (null: 300 digits, 3000 fit1d)",
    )
    steps_full: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Adam steps, full and full_matched (null: 100 digits, 3000 fit1d)",
    )
    lr: float = Field(0.003, gt=0, le=10, description="Adam learning rate for full, full_matched and readout")
    lr_bias: float = Field(0.05, gt=0, le=10, description="Adam learning rate for bias_only")
    readout_fit: Literal["ridge", "adam"] = Field("ridge", description="readout: closed-form ridge or Adam")
    ridge: float = Field(1e-2, ge=0, le=1e6, description="ridge penalty of the closed-form readout")
    target: TargetExpr = Field("sin", description="fit1d target: sin, square, abs, poly3 or an expression in x")
    n_train: int = Field(
        100, ge=2, le=100_000, description="fit1d: evenly spaced training points on [-pi, pi]"
    )

    FULL: ClassVar[dict] = {"widths": [2**k for k in range(4, 13)], "repeats": 3}


# ----------------------------------------------------------------------------------------------
# data


@dataclass
class Task:
    kind: Literal["classify", "regress"]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    outputs: int

    @property
    def inputs(self) -> int:
        return self.x_train.shape[1]

    @property
    def metric(self) -> str:
        return "acc" if self.kind == "classify" else "mse"

    def to(self, device) -> Task:
        move = [t.to(device) for t in (self.x_train, self.y_train, self.x_test, self.y_test)]
        return Task(self.kind, *move, self.outputs)


def load_task(cfg: Config) -> Task:
    if cfg.task == "digits":
        from priorlab.data.digits import digits

        s = digits(seed=cfg.seed)
        return Task("classify", s.x_train, s.y_train, s.x_test, s.y_test, s.n_classes)
    from priorlab.data.functions import target_function

    _, f = target_function(cfg.target)
    x_train = torch.linspace(-math.pi, math.pi, cfg.n_train)[:, None]
    x_test = torch.linspace(-math.pi, math.pi, 1000)[:, None]
    return Task("regress", x_train, f(x_train[:, 0])[:, None], x_test, f(x_test[:, 0])[:, None], 1)


# ----------------------------------------------------------------------------------------------
# training and scoring


def loss_fn(task: Task) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return nn.functional.cross_entropy if task.kind == "classify" else nn.functional.mse_loss


@torch.no_grad()
def score(net: nn.Module, task: Task) -> float:
    """Test accuracy (classification) or test MSE (regression)."""
    out = net(task.x_test)
    if task.kind == "classify":
        return (out.argmax(1) == task.y_test).float().mean().item()
    return nn.functional.mse_loss(out, task.y_test).item()


def schedule(cfg: Config, regime: str) -> tuple[int, float]:
    """Adam steps and learning rate of a regime (null steps: the task's default)."""
    default_steps, default_steps_full = TASK_STEPS[cfg.task]
    if regime in ("full", "full_matched"):
        return cfg.steps_full or default_steps_full, cfg.lr
    return cfg.steps or default_steps, cfg.lr_bias if regime == "bias_only" else cfg.lr


def run_member(cfg: Config, task: Task, regime: str, width: int, seed: int) -> tuple[float, int, int]:
    """Train one network; returns (test score, trainable parameters, hidden width used)."""
    if regime == "full_matched":
        width = matched_width(width, task.inputs, task.outputs)
    net = one_hidden(task.inputs, width, task.outputs, seed).to(task.x_train.device)
    apply(net, "full" if regime == "full_matched" else regime)
    if regime == "readout" and cfg.readout_fit == "ridge":
        targets = task.y_train
        if task.kind == "classify":
            targets = nn.functional.one_hot(task.y_train, task.outputs).float()
        fit_readout(net, task.x_train, targets, lam=cfg.ridge)
    else:
        steps, lr = schedule(cfg, regime)
        forward, criterion = full_batch(net, task.x_train), loss_fn(task)
        fit(net, lambda _: criterion(forward(), task.y_train), steps, lr=lr)
    return score(net, task), summary(net).trainable, width


# ----------------------------------------------------------------------------------------------
# the run


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    task = load_task(cfg).to(ctx.device)
    widths = sorted(cfg.widths)
    scores = np.zeros((len(cfg.regimes), len(widths), cfg.repeats))
    params = np.zeros((len(cfg.regimes), len(widths)), dtype=np.int64)
    used = np.zeros_like(params)
    jobs = [
        (i, j, r) for j in range(len(widths)) for i in range(len(cfg.regimes)) for r in range(cfg.repeats)
    ]
    for i, j, r in ctx.progress(jobs, description="training"):
        scores[i, j, r], params[i, j], used[i, j] = run_member(
            cfg, task, cfg.regimes[i], widths[j], ctx.seed + r
        )

    metrics = measure(cfg, ctx, task.metric, widths, scores, params, used)
    title = "digits" if cfg.task == "digits" else f"fit1d: {cfg.target}"
    for name, fig in width_curves(widths, scores, params, cfg.regimes, task.metric, title).items():
        ctx.save_figure(name, fig)
    return metrics


def measure(cfg: Config, ctx: RunContext, metric: str, widths, scores, params, used) -> dict[str, float]:
    """Metrics ``<acc|mse>_<regime>_w<N>`` (means over repeats), the report table and the arrays."""
    metrics, rows = {}, []
    for j, w in enumerate(widths):
        for i, regime in enumerate(cfg.regimes):
            mean, sd = scores[i, j].mean(), scores[i, j].std()
            metrics[f"{metric}_{regime}_w{w}"] = float(mean)
            rows.append(
                {
                    "width": w,
                    "regime": regime,
                    "hidden units": int(used[i, j]),
                    "trainable": int(params[i, j]),
                    f"test {metric}": round(float(mean), 4),
                    "sd": round(float(sd), 4),
                }
            )
    ctx.table(
        f"Test {'accuracy' if metric == 'acc' else 'MSE'} by width and regime ({cfg.repeats} seeds)", rows
    )
    ctx.save_arrays(
        widths=np.array(widths), scores=scores, trainable=params, hidden=used, regimes=np.array(cfg.regimes)
    )
    return metrics
