"""regimes: one architecture, one task, every parameter regime side by side (STUDIES.md §3 and §5)."""

from __future__ import annotations

import math
import time
from typing import ClassVar, Literal, get_args

import numpy as np
import torch
from pydantic import Field

from priorlab.config import BaseConfig, unique_list
from priorlab.context import RunContext
from priorlab.data.digits import digits
from priorlab.data.functions import TargetExpr, target_function
from priorlab.nets.deep import deep
from priorlab.regimes import apply, fit_readout, summary
from priorlab.train.classify import accuracy, fit_classifier
from priorlab.train.loop import fit
from priorlab.viz.regimes import regime_bars, regime_fits

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
ALL_REGIMES = list(get_args(Regime))


class Config(BaseConfig):
    regimes: unique_list(Regime) = Field(
        ALL_REGIMES, description="regimes to compare (readout_ridge = readout solved in closed form)"
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
        fit(model, lambda _: torch.mean((model(x) - y) ** 2), cfg.steps, lr=_lr(cfg, regime))
    seconds = _clock(device) - t0
    with torch.no_grad():
        pred = model(x_test)
        mse = torch.mean((pred - f(x_test)) ** 2).item()
    return {"mse": mse, "seconds": seconds}, pred[:, 0].cpu().numpy()


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    _, f = target_function(cfg.target)
    split = digits(seed=ctx.seed)
    x_test = torch.linspace(-1, 1, 1000)[:, None]
    dig_rows: dict[str, list[dict]] = {r: [] for r in cfg.regimes}
    fit_rows: dict[str, list[dict]] = {r: [] for r in cfg.regimes}
    curves: dict[str, np.ndarray] = {}
    for regime in ctx.progress(cfg.regimes, description="regimes"):
        for rep in range(cfg.repeats):
            seed = ctx.seed + rep
            dig_rows[regime].append(run_digits(cfg, regime, seed, split, ctx.device))
            result, pred = run_fit1d(cfg, regime, seed, f, x_test, ctx.device)
            fit_rows[regime].append(result)
            if rep == 0:
                curves[regime] = pred

    acc = {r: np.array([row["acc"] for row in dig_rows[r]], dtype=float) for r in cfg.regimes}
    mse = {r: np.array([row["mse"] for row in fit_rows[r]], dtype=float) for r in cfg.regimes}
    trainable = {r: dig_rows[r][0]["trainable"] for r in cfg.regimes}
    metrics = measure(cfg, ctx, dig_rows, fit_rows, acc, mse)
    xs, ys = x_test[:, 0].numpy(), f(x_test)[:, 0].numpy()
    ctx.save_arrays(x_test=xs, target=ys, **{f"fit_{r}": c for r, c in curves.items()})

    colors = {r: f"C{i}" for i, r in enumerate(ALL_REGIMES)}
    ctx.save_figure("regimes", regime_bars(acc, mse, trainable, colors, cfg.depth, cfg.width, cfg.target))
    ctx.save_figure("fits", regime_fits(xs, ys, curves, mse, colors, cfg.target, cfg.n_train))
    return metrics


def measure(cfg: Config, ctx: RunContext, dig_rows, fit_rows, acc, mse) -> dict[str, float]:
    """Metrics per regime (means over repeats) and the report table."""
    metrics: dict[str, float] = {}
    table = []
    for r in cfg.regimes:
        t_dig = np.mean([row["seconds"] for row in dig_rows[r]])
        t_fit = np.mean([row["seconds"] for row in fit_rows[r]])
        trainable, total = dig_rows[r][0]["trainable"], dig_rows[r][0]["total"]
        metrics.update(
            {
                f"acc_{r}": acc[r].mean(),
                f"mse_{r}": mse[r].mean(),
                f"trainable_{r}": trainable,
                f"seconds_digits_{r}": t_dig,
                f"seconds_fit1d_{r}": t_fit,
            }
        )
        table.append(
            {
                "regime": r,
                "digits test acc": f"{acc[r].mean():.3f} ± {acc[r].std():.3f}",
                "1-D test MSE": f"{mse[r].mean():.2e} ± {mse[r].std():.1e}",
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
    return metrics
