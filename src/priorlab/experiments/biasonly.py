"""Random weights, learned biases: how close does training only the biases of a wide random network come to full training?

One hidden ReLU layer, y = W2 relu(W1 x + b1) + b2, with W1 ~ N(0, 1/d), W2 ~ N(0, 1/N) and zero biases at the
start (Williams et al. 2024). For each width N and regime the same initial network is trained:

    bias_only     only b1 and b2 learn (priorlab.regimes.apply(net, "bias_only"))
    readout       only W2 and b2 learn: random features; solved in closed form (ridge) or by Adam
    full          every parameter learns
    full_matched  a fully trained network narrow enough to have as many trainable parameters as bias_only (N + C)

Training is full-batch Adam. When W1 is frozen its product with the training inputs never changes, so it is
computed once (`FrozenFirstLayer`): the forward pass is the same function, an order of magnitude cheaper.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, UserError, Widths
from priorlab.context import RunContext
from priorlab.data.functions import TargetExpr
from priorlab.errors import check_finite
from priorlab.randomization import randomize
from priorlab.regimes import apply, fit_readout, summary

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

REGIMES = ("bias_only", "readout", "full", "full_matched")
# default full-batch Adam steps: (bias_only and readout by Adam, full and full_matched)
TASK_STEPS = {"digits": (300, 100), "fit1d": (3000, 3000)}


class Config(BaseConfig):
    task: Literal["digits", "fit1d"] = Field(
        "digits", description="digits: classify 8x8 digits; fit1d: fit target(x)"
    )
    widths: Widths = Field([16, 128, 1024], min_length=1, max_length=16, description="hidden widths N")
    regimes: list[Literal["bias_only", "readout", "full", "full_matched"]] = Field(
        list(REGIMES), min_length=1, max_length=4, description="regimes to compare"
    )
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
# model and training


def one_hidden(inputs: int, width: int, outputs: int, seed: int) -> nn.Sequential:
    """y = W2 relu(W1 x + b1) + b2 with W1 ~ N(0, 1/d), W2 ~ N(0, 1/N), biases 0."""
    net = nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, outputs))
    return randomize(net, init="fan-in", seed=seed)


def matched_width(width: int, inputs: int, outputs: int) -> int:
    """Width of a fully trained net with as many parameters as a bias-only net of `width` (width + outputs)."""
    return max(1, round(width / (inputs + 1 + outputs)))


class FrozenFirstLayer:
    """net(x) for a fixed x, with x W1ᵀ computed once: valid while W1 (net[0].weight) does not learn."""

    def __init__(self, net: nn.Sequential, x: torch.Tensor):
        self.first, self.rest = net[0], net[1:]
        with torch.no_grad():
            self.pre = x @ self.first.weight.T

    def __call__(self) -> torch.Tensor:
        return self.rest(self.pre + self.first.bias)


def loss_fn(task: Task) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return nn.functional.cross_entropy if task.kind == "classify" else nn.functional.mse_loss


def train(
    net: nn.Sequential,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    lr: float,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> list[float]:
    """Full-batch Adam on the trainable parameters of `net`; returns the loss curve."""
    params = [p for p in net.parameters() if p.requires_grad]
    forward = FrozenFirstLayer(net, x) if not net[0].weight.requires_grad else (lambda: net(x))
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for step in range(steps):
        loss = criterion(forward(), y)
        check_finite(loss.item(), step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def score(net: nn.Module, task: Task) -> float:
    """Test accuracy (classification) or test MSE (regression)."""
    out = net(task.x_test)
    if task.kind == "classify":
        return (out.argmax(1) == task.y_test).float().mean().item()
    return nn.functional.mse_loss(out, task.y_test).item()


def run_member(cfg: Config, task: Task, regime: str, width: int, seed: int) -> tuple[float, int, int]:
    """Train one network; returns (test score, trainable parameters, hidden width used)."""
    default_steps, default_steps_full = TASK_STEPS[cfg.task]
    if regime == "full_matched":
        width = matched_width(width, task.inputs, task.outputs)
    net = one_hidden(task.inputs, width, task.outputs, seed).to(task.x_train.device)
    apply(net, "full" if regime == "full_matched" else regime)
    if regime == "readout" and cfg.readout_fit == "ridge":
        targets = task.y_train
        if task.kind == "classify":
            targets = nn.functional.one_hot(task.y_train, task.outputs).float()
        fit_readout(net, task.x_train, targets, lam=cfg.ridge)
    elif regime in ("full", "full_matched"):
        train(net, task.x_train, task.y_train, cfg.steps_full or default_steps_full, cfg.lr, loss_fn(task))
    else:
        lr = cfg.lr_bias if regime == "bias_only" else cfg.lr
        train(net, task.x_train, task.y_train, cfg.steps or default_steps, lr, loss_fn(task))
    return score(net, task), summary(net).trainable, width


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    if len(set(cfg.regimes)) != len(cfg.regimes):
        raise UserError(f"'regimes' lists a regime twice (allowed: {', '.join(REGIMES)})")
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

    metric = task.metric
    metrics, rows = {}, []
    for j, w in enumerate(widths):
        for i, regime in enumerate(cfg.regimes):
            mean, sd = scores[i, j].mean(), scores[i, j].std()
            metrics[f"test_{metric}_{regime}_w{w}"] = float(mean)
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
    _figures(cfg, ctx, task, widths, scores, params)
    return metrics


def _figures(cfg, ctx, task, widths, scores, params) -> None:
    import matplotlib.pyplot as plt

    what = "test accuracy" if task.metric == "acc" else "test MSE"
    seeds = f"{cfg.repeats} seed" + ("s" if cfg.repeats > 1 else "")
    title = "digits" if cfg.task == "digits" else f"fit1d: {cfg.target}"
    for name, xs_of, xlabel, against in (
        ("width", lambda i: widths, "hidden width N (bias-only network)", "width"),
        ("params", lambda i: params[i], "trainable parameters", "trainable parameters"),
    ):
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, regime in enumerate(cfg.regimes):
            m, sd = scores[i].mean(1), scores[i].std(1)
            ax.errorbar(xs_of(i), m, yerr=sd, marker="o", ms=4, capsize=3, label=regime)
        ax.set_xscale("log", base=2)
        if task.metric == "mse":
            ax.set_yscale("log")
        ax.set(xlabel=xlabel, ylabel=what, title=f"{title}: {what} vs {against} (mean ± SD, {seeds})")
        ax.grid(alpha=0.3)
        ax.legend()
        ctx.save_figure(name, fig)
