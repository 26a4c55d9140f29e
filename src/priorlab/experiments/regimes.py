"""regimes: one architecture, one task, every parameter regime side by side (STUDIES.md §3 and §5)."""

from __future__ import annotations

import math
import time
from typing import ClassVar, Literal, get_args

import numpy as np
import torch
from pydantic import Field
from torch.nn.utils import parametrize

from priorlab.config import BaseConfig, LearningRate, Steps, unique_list
from priorlab.context import RunContext
from priorlab.data.digits import digits
from priorlab.data.functions import TargetExpr, target_function
from priorlab.nets.deep import deep
from priorlab.regimes import apply, fit_readout, hashed_index, summary
from priorlab.stats import mean_ci
from priorlab.stats.claims import Claim
from priorlab.train.classify import accuracy, fit_classifier
from priorlab.train.loop import fit
from priorlab.viz.regimes import hyper_diagram, regime_bars, regime_fits, sharing_diagram

DESCRIPTION = "the same network and task under every parameter regime: accuracy, trainable parameters, time"
ORDER = 41
CITATION = (
    "Williams et al. (2025) Expressivity of neural networks with random weights and learned biases, ICLR; "
    "Ramanujan et al. (2020) What's hidden in a randomly weighted neural network?, CVPR; "
    "Qiu & Suda (2020) Train-by-Reconnect: decoupling locations of weights from their values, NeurIPS; "
    "Chen et al. (2015) Compressing neural networks with the hashing trick, ICML; "
    "Ha, Dai & Le (2017) HyperNetworks, ICLR; Huang et al. (2006) Extreme learning machine."
)
QUESTION = (
    "With the architecture held fixed, how much does each way of learning (all weights, biases only, the readout, "
    "a mask, a permutation, tied values, a hypernetwork) buy, and at what cost in trainable parameters?"
)
KEY_FIGURE = "regimes"
FIGURES = {
    "regimes": "Left: digits test accuracy per regime; middle: 1-D fit test MSE per regime (log scale); right: "
    "the trainable parameters of the digits net (log scale), one row per regime across the three panels. With more than one seed: mean and 95% "
    "bootstrap CI over seeds (error bars); with one seed, no error bars.",
    "fits": "The 1-D target (grey) and each regime's fit (first repeat).",
    "hyper": "The hypernetwork regime of this run's digits net: for every weight tensor a table of learned "
    "embeddings u (one per chunk of weights) goes through one shared generator H (a two-layer tanh MLP) that writes "
    "the weights w chunk by chunk; learning changes u and H, the gradient reaching them through H.",
    "sharing": "Weight sharing as w = H(u): one value u_k is copied into several weights (colour = tie group). In the "
    "backward pass the copies' gradients ∂C/∂w are summed into ∂C/∂u_k: the numbers are from a small tied layer, "
    "and autograd's ∂C/∂u equals the sums written beside it.",
}
DEMO = [{}]
SOURCES = {
    "bias_only": "Williams et al. 2025 (STUDIES.md §3)",
    "mask": "Ramanujan et al. 2020",
    "permute": "Qiu & Suda 2020 (LaPerm)",
    "shared": "Chen et al. 2015 (HashedNets)",
    "hyper": "Ha, Dai & Le 2017",
    "readout_ridge": "Huang et al. 2006 (ELM)",
    "sharing": "deep learning course lecture (STUDIES.md §5)",
}

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
    steps: Steps = Field(600, description="1-D fit: full-batch Adam steps")
    lr: LearningRate = Field(1e-2, description="Adam learning rate (hyper uses lr/10)")
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
    ctx.save_arrays(x_test=xs, target=ys, **{f"fit_{r}": c for r, c in curves.items()},
                    **{f"acc_{r}": v for r, v in acc.items()}, **{f"mse_{r}": v for r, v in mse.items()})

    colors = {r: f"C{i}" for i, r in enumerate(ALL_REGIMES)}
    acc_ci = {r: interval(v) for r, v in acc.items()}
    mse_ci = {r: interval(v) for r, v in mse.items()}
    ctx.save_figure("regimes", regime_bars(acc_ci, mse_ci, trainable, colors, cfg.repeats, cfg.depth, cfg.width,
                                           cfg.target))
    ctx.save_figure("fits", regime_fits(xs, ys, curves, mse, colors, cfg.target, cfg.n_train))
    ctx.save_figure("hyper", hyper_diagram(hyper_layout(cfg, split.x_train.shape[1], ctx.seed)))
    example = sharing_example(ctx.seed)
    metrics["err_shared_grad_vs_sum"] = example.pop("err")
    ctx.save_figure("sharing", sharing_diagram(**example))
    return metrics


def interval(values: np.ndarray) -> tuple[float, float | None, float | None]:
    """(mean, low, high): the 95% bootstrap CI over seeds (priorlab.stats.mean_ci); no interval for one seed."""
    if len(values) < 2:
        return float(np.mean(values)), None, None
    return tuple(mean_ci(values, seed=0))


def _with_ci(metrics: dict, name: str, values: np.ndarray) -> tuple:
    mean, low, high = interval(values)
    metrics[name] = mean
    if low is not None:
        metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = low, high
    return mean, low, high


def _fmt(ci: tuple, spec: str) -> str:
    mean, low, high = ci
    return f"{mean:{spec}}" if low is None else f"{mean:{spec}} [{low:{spec}}, {high:{spec}}]"


def measure(cfg: Config, ctx: RunContext, dig_rows, fit_rows, acc, mse) -> dict[str, float]:
    """Metrics per regime (means over repeats, 95% CIs over seeds when repeats > 1; the paired difference of each
    regime's accuracy from full training, ``acc_<regime>_minus_full``) and the report table."""
    metrics: dict[str, float] = {}
    table = []
    for r in cfg.regimes:
        t_dig = np.mean([row["seconds"] for row in dig_rows[r]])
        t_fit = np.mean([row["seconds"] for row in fit_rows[r]])
        trainable, total = dig_rows[r][0]["trainable"], dig_rows[r][0]["total"]
        acc_ci, mse_ci = _with_ci(metrics, f"acc_{r}", acc[r]), _with_ci(metrics, f"mse_{r}", mse[r])
        metrics.update({f"trainable_{r}": trainable, f"seconds_digits_{r}": t_dig, f"seconds_fit1d_{r}": t_fit})
        if r != "full" and "full" in cfg.regimes:
            _with_ci(metrics, f"acc_{r}_minus_full", acc[r] - acc["full"])  # paired: the same seeds
        table.append({"regime": r, "n seeds": len(acc[r]), "digits test acc": _fmt(acc_ci, ".3f"),
                      "1-D test MSE": _fmt(mse_ci, ".2e"), "trainable": trainable, "total": total,
                      "digits s": round(t_dig, 2), "1-D s": round(t_fit, 2)})
    what = "mean and 95% bootstrap CI over seeds" if cfg.repeats > 1 else "one seed, no interval"
    ctx.table(f"Regimes (width {cfg.width}, depth {cfg.depth}, {cfg.repeats} seed(s): {what}; parameters of the "
              "digits net)", table)
    ctx.note(
        "trainable = entries learning changes (mask: one score per weight; permute: one latent per weight; "
        "shared: tied values + biases; hyper: embeddings + generator + biases); total = all stored parameters. "
        "readout_ridge solves the last layer in closed form; frozen is evaluated at initialisation."
    )
    return metrics


def hyper_layout(cfg: Config, in_features: int, seed: int) -> dict:
    """What the hyper regime builds for the digits net: per weight tensor its shape and chunk count; the shared
    generator's sizes and parameter counts."""
    model = build(cfg, "hyper", in_features, 10, seed)
    targets, generator = [], None
    for name, module in model.named_modules():
        if parametrize.is_parametrized(module, "weight"):
            h = module.parametrizations.weight[0]
            generator = h.generator
            targets.append({"name": f"{name}.weight", "shape": h.shape, "chunks": h.n_chunks,
                            "embeddings": module.parametrizations.weight.original.numel()})
    lin = [m for m in generator.net if isinstance(m, torch.nn.Linear)]
    return {"targets": targets, "embed_dim": generator.embed_dim, "hidden": lin[0].out_features,
            "chunk": generator.chunk, "generator_params": sum(p.numel() for p in generator.parameters())}


def sharing_example(seed: int) -> dict:
    """A 3 × 4 linear layer tied into 4 values (priorlab.regimes shared, float64): the tie map, u, ∂C/∂w of the
    copies (autograd on the generated weight) and autograd's ∂C/∂u; ``err`` = max |∂C/∂u − Σ_group ∂C/∂w|."""
    g = torch.Generator().manual_seed(seed)
    index = hashed_index((3, 4), 4, seed)
    layer = apply(torch.nn.Linear(4, 3, bias=False).double(), "shared", map={"weight": index})
    x, y = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    u, w = layer.parametrizations.weight.original, layer.weight
    grad_w, grad_u = torch.autograd.grad(torch.mean((x @ w.T - y) ** 2), (w, u))
    summed = torch.zeros(4, dtype=torch.float64).index_add_(0, index.flatten(), grad_w.flatten())
    return {"index": index.numpy(), "u": u.detach().numpy(), "grad_w": grad_w.numpy(), "grad_u": grad_u.numpy(),
            "err": float((grad_u - summed).abs().max())}


def setup(cfg: Config) -> str:
    return (
        f"One ReLU MLP ({cfg.depth} hidden layers of {cfg.width} units, weights N(0, 2/fan_in), biases "
        f"N(0, {cfg.bias_std:g}²)) under {len(cfg.regimes)} regimes ({', '.join(cfg.regimes)}), {cfg.repeats} seed(s) "
        f"each: scikit-learn digits (1347 training / 450 test images, Adam, {cfg.epochs} epochs, batch 64) and a 1-D fit "
        f"of {cfg.target} from {cfg.n_train} points on [−1, 1] ({cfg.steps} full-batch Adam steps). Mask keeps "
        f"{cfg.mask_fraction:g} of each weight tensor, shared ties it into {cfg.shared_fraction:g} as many values."
        + (" CIs: bootstrap over seeds." if cfg.repeats > 1 else "")
    )


def claims(cfg: Config) -> list[Claim]:
    """Each source study's headline, as accuracy relative to full training at the same seeds."""
    has = lambda r: True if {r, "full"} <= set(cfg.regimes) else f"needs the regimes {r} and full"
    mask_ok = has("mask") if 0.3 <= cfg.mask_fraction <= 0.7 else (
        f"the matching supermasks keep 30–70% of the weights; this run keeps {cfg.mask_fraction:g}")
    shared_ok = has("shared") if cfg.shared_fraction >= 0.05 else (
        f"with fewer tied values (here {cfg.shared_fraction:g}) hashed nets lose accuracy")
    return [
        Claim(f"bias-only training stays behind full training at width {cfg.width} (it approaches it only as the "
              "width grows; see biasonly)", SOURCES["bias_only"], "acc_bias_only_minus_full", (-1.0, 0.0),
              applies=has("bias_only")),
        Claim(f"a supermask over frozen random weights ({cfg.mask_fraction:g} kept) matches the trained network "
              "(within 0.03)", SOURCES["mask"], "acc_mask_minus_full", 0.0, 0.03, applies=mask_ok),
        Claim("permuting the fixed initial weight values trains about as well as ordinary training (within 0.03)",
              SOURCES["permute"], "acc_permute_minus_full", 0.0, 0.03, applies=has("permute")),
        Claim(f"weights tied into {cfg.shared_fraction:g} as many shared values lose little accuracy (within 0.03)",
              SOURCES["shared"], "acc_shared_minus_full", 0.0, 0.03, applies=shared_ok),
        Claim("weights generated by a static hypernetwork reach about the trained network's accuracy with fewer "
              "parameters (within 0.03)", SOURCES["hyper"], "acc_hyper_minus_full", 0.0, 0.03, applies=has("hyper")),
        Claim("random features with a closed-form readout generalise about as well as a fully trained net "
              "(within 0.05)", SOURCES["readout_ridge"], "acc_readout_ridge_minus_full", 0.0, 0.05,
              applies=has("readout_ridge")),
        Claim("weight sharing: the gradient of a tied value is the sum of its copies' gradients", SOURCES["sharing"],
              "err_shared_grad_vs_sum", 0.0, 1e-12),
    ]
