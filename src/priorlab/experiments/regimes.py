"""regimes: one architecture, one task, every parameter regime side by side (STUDIES.md §3 and §5)."""

from __future__ import annotations

import math
import time
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from priorlab.config import BaseConfig
from priorlab.context import RunContext
from priorlab.data.digits import digits
from priorlab.data.functions import TargetExpr, target_function
from priorlab.errors import check_finite
from priorlab.nets.deep import deep
from priorlab.regimes import apply, fit_readout, summary
from priorlab.train.classify import accuracy, fit_classifier

DESCRIPTION = "the same network and task under every parameter regime: accuracy, trainable parameters, time"
ORDER = 41
CITATION = (
    "Williams et al. (2025) Expressivity of neural networks with random weights and learned biases, ICLR; "
    "Ramanujan et al. (2020) What's hidden in a randomly weighted neural network?, CVPR; "
    "Qiu & Suda (2020) Train-by-Reconnect: decoupling locations of weights from their values, NeurIPS; "
    "Chen et al. (2015) Compressing neural networks with the hashing trick, ICML; "
    "Ha, Dai & Le (2017) HyperNetworks, ICLR; Huang et al. (2006) Extreme learning machine."
)
FIGURES = {
    "regimes": "Left: digits test accuracy per regime; middle: 1-D fit test MSE per regime (log scale); right: "
    "digits accuracy against the number of trainable parameters (log scale). Error bars: SD over repeats.",
    "fits": "The 1-D target (grey) and each regime's fit (first repeat).",
}
DEMO = [{}]

Regime = Literal[
    "full", "frozen", "bias_only", "readout", "readout_ridge", "mask", "permute", "shared", "hyper"
]
ALL_REGIMES = [
    "full",
    "frozen",
    "bias_only",
    "readout",
    "readout_ridge",
    "mask",
    "permute",
    "shared",
    "hyper",
]


class Config(BaseConfig):
    regimes: list[Regime] = Field(
        ALL_REGIMES,
        min_length=1,
        description="regimes to compare (readout_ridge = readout solved in closed form)",
    )
    width: int = Field(128, ge=2, le=4096, description="hidden units per layer")
    depth: int = Field(2, ge=1, le=8, description="hidden layers (ReLU)")
    bias_std: float = Field(
        1.0, ge=0, le=10, description="initial biases ~ N(0, bias_std²); weights N(0, 2/fan_in)"
    )
    epochs: int = Field(10, ge=1, le=1000, description="digits: epochs of Adam (batch 64)")
    steps: int = Field(600, ge=1, le=100_000, description="1-D fit: full-batch Adam steps")
    lr: float = Field(1e-2, gt=0, le=1, description="Adam learning rate (hyper uses lr/10)")
    ridge_lam: float = Field(1e-4, ge=0, le=1e3, description="ridge penalty of readout_ridge")
    mask_fraction: float = Field(0.5, gt=0, le=1, description="fraction of weights a mask keeps")
    shared_fraction: float = Field(0.1, gt=0, le=1, description="shared: tied values per weight entry")
    target: TargetExpr = Field("sin(2*pi*x)", description="1-D target, an expression in x (or sin|square|abs|poly3)")
    n_train: int = Field(200, ge=4, le=100_000, description="1-D fit: training points, uniform in [-1, 1]")
    repeats: int = Field(1, ge=1, le=100, description="seeds per regime (seed, seed+1, ...)")

    FULL: ClassVar[dict] = {"width": 256, "epochs": 40, "steps": 4000, "repeats": 3}

    @field_validator("regimes")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


def build(cfg: Config, regime: str, in_features: int, out_features: int, seed: int) -> torch.nn.Module:
    """The one architecture, under ``regime`` (readout_ridge is the readout regime, solved in closed form)."""
    torch.manual_seed(seed)
    net = deep(
        cfg.width,
        cfg.depth,
        "relu",
        bias=True,
        init="fan-in",
        gain=math.sqrt(2),
        bias_std=cfg.bias_std,
        in_features=in_features,
        out_features=out_features,
        seed=seed,
    )
    options = {
        "mask": {"fraction": cfg.mask_fraction},
        "shared": {"fraction": cfg.shared_fraction, "seed": seed},
    }
    return apply(net, "readout" if regime == "readout_ridge" else regime, **options.get(regime, {}))


def _lr(cfg: Config, regime: str) -> float:
    return cfg.lr / 10 if regime == "hyper" else cfg.lr


def _clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def run_digits(cfg: Config, regime: str, seed: int, split, device: torch.device) -> dict[str, float]:
    model = build(cfg, regime, split.x_train.shape[1], 10, seed).to(device)
    t0 = _clock(device)
    if regime == "readout_ridge":
        onehot = torch.nn.functional.one_hot(split.y_train, 10).float()
        fit_readout(model, split.x_train.to(device), onehot.to(device), cfg.ridge_lam)
    if regime in ("frozen", "readout_ridge"):
        acc = accuracy(model.eval(), split.x_test, split.y_test)
    else:
        acc = fit_classifier(model, split, epochs=cfg.epochs, lr=_lr(cfg, regime), seed=seed, device=device)
    seconds = _clock(device) - t0
    s = summary(model)
    return {"acc": acc, "seconds": seconds, "trainable": s.trainable, "total": s.total}


def run_fit1d(
    cfg: Config, regime: str, seed: int, f, x_test: torch.Tensor, device: torch.device
) -> tuple[dict[str, float], np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(cfg.n_train, 1, generator=g) - 1
    x, y, x_test = x.to(device), f(x).to(device), x_test.to(device)
    model = build(cfg, regime, 1, 1, seed).to(device)
    t0 = _clock(device)
    if regime == "readout_ridge":
        fit_readout(model, x, y, cfg.ridge_lam)
    elif regime != "frozen":
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=_lr(cfg, regime))
        for step in range(cfg.steps):
            loss = torch.mean((model(x) - y) ** 2)
            check_finite(loss.item(), step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    seconds = _clock(device) - t0
    with torch.no_grad():
        pred = model(x_test)
        mse = torch.mean((pred - f(x_test)) ** 2).item()
    return {"mse": mse, "seconds": seconds}, pred[:, 0].cpu().numpy()


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    _, f = target_function(cfg.target)
    split = digits(seed=ctx.seed)
    x_test = torch.linspace(-1, 1, 1000)[:, None]
    dig: dict[str, list[dict]] = {r: [] for r in cfg.regimes}
    fit: dict[str, list[dict]] = {r: [] for r in cfg.regimes}
    curves: dict[str, np.ndarray] = {}
    for regime in ctx.progress(cfg.regimes, description="regimes"):
        for rep in range(cfg.repeats):
            seed = ctx.seed + rep
            dig[regime].append(run_digits(cfg, regime, seed, split, ctx.device))
            result, pred = run_fit1d(cfg, regime, seed, f, x_test, ctx.device)
            fit[regime].append(result)
            if rep == 0:
                curves[regime] = pred

    def stat(rows, key):
        v = np.array([r[key] for r in rows], dtype=float)
        return v.mean(), v.std()

    metrics: dict[str, float] = {}
    table = []
    for r in cfg.regimes:
        acc, acc_sd = stat(dig[r], "acc")
        mse, mse_sd = stat(fit[r], "mse")
        t_dig, t_fit = stat(dig[r], "seconds")[0], stat(fit[r], "seconds")[0]
        trainable, total = dig[r][0]["trainable"], dig[r][0]["total"]
        metrics.update(
            {
                f"test_acc_{r}": acc,
                f"test_mse_{r}": mse,
                f"trainable_{r}": trainable,
                f"seconds_digits_{r}": t_dig,
                f"seconds_fit1d_{r}": t_fit,
            }
        )
        table.append(
            {
                "regime": r,
                "digits test acc": f"{acc:.3f} ± {acc_sd:.3f}",
                "1-D test MSE": f"{mse:.2e} ± {mse_sd:.1e}",
                "trainable": trainable,
                "total": total,
                "digits s": round(t_dig, 2),
                "1-D s": round(t_fit, 2),
            }
        )
    ctx.table(
        f"Regimes (width {cfg.width}, depth {cfg.depth}, {cfg.repeats} seed(s); parameters of the digits net)",
        table,
    )
    ctx.note(
        "trainable = entries learning changes (mask: one score per weight; permute: one latent per weight; "
        "shared: tied values + biases; hyper: embeddings + generator + biases); total = all stored parameters. "
        "readout_ridge solves the last layer in closed form; frozen is evaluated at initialisation."
    )
    ctx.save_arrays(
        x_test=x_test[:, 0].numpy(),
        target=f(x_test)[:, 0].numpy(),
        **{f"fit_{r}": c for r, c in curves.items()},
    )
    _figures(ctx, cfg, dig, fit, curves, x_test, f)
    return metrics


def _figures(ctx, cfg, dig, fit, curves, x_test, f) -> None:
    import matplotlib.pyplot as plt

    regimes = cfg.regimes
    colors = {r: f"C{i}" for i, r in enumerate(ALL_REGIMES)}
    pos = np.arange(len(regimes))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ax, rows, key, label in (
        (axes[0], dig, "acc", "digits test accuracy"),
        (axes[1], fit, "mse", "1-D test MSE"),
    ):
        vals = [np.array([x[key] for x in rows[r]]) for r in regimes]
        ax.bar(
            pos,
            [v.mean() for v in vals],
            yerr=[v.std() for v in vals],
            color=[colors[r] for r in regimes],
            capsize=3,
        )
        ax.set_xticks(pos, regimes, rotation=35, ha="right")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylim(0, 1)
    axes[0].axhline(0.1, color="0.5", ls=":", lw=1)
    axes[0].set_title(f"digits, {cfg.depth}×{cfg.width} ReLU MLP (dotted: chance)")
    axes[1].set_yscale("log")
    axes[1].set_title(f"1-D fit of {cfg.target} on [-1, 1]")
    ax = axes[2]
    for r in regimes:
        n = max(dig[r][0]["trainable"], 1)
        acc = np.mean([x["acc"] for x in dig[r]])
        ax.scatter(n, acc, color=colors[r], s=50, zorder=3, label=r)
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (frozen plotted at 1)")
    ax.set_ylabel("digits test accuracy")
    ax.set_title("accuracy vs what learning may change")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    ctx.save_figure("regimes", fig)

    cols = min(len(regimes), 3)
    rows_n = math.ceil(len(regimes) / cols)
    fig, axes = plt.subplots(
        rows_n, cols, figsize=(4.2 * cols, 2.8 * rows_n), sharex=True, sharey=True, squeeze=False
    )
    xs, ys = x_test[:, 0].numpy(), f(x_test)[:, 0].numpy()
    for ax, r in zip(axes.flat, regimes):
        ax.plot(xs, ys, color="k", lw=3, alpha=0.25, label="target")
        ax.plot(xs, curves[r], color=colors[r], lw=1.5, label="network")
        ax.set_title(f"{r}: MSE {np.mean([x['mse'] for x in fit[r]]):.1e}", fontsize=10)
        ax.set_ylim(ys.min() - 0.5, ys.max() + 0.5)
    for ax in axes.flat[len(regimes) :]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    fig.suptitle(f"1-D fit of {cfg.target} under each regime ({cfg.n_train} training points)")
    fig.tight_layout()
    ctx.save_figure("fits", fig)
