"""regimes: one architecture, one task, every parameter regime side by side (STUDIES.md §3 and §5)."""

from __future__ import annotations

import math
import time
from typing import ClassVar, Literal, get_args

import numpy as np
import torch
from pydantic import Field

from priorlab.config import BaseConfig, LearningRate, Steps, unique_list
from priorlab.context import RunContext, shared_time
from priorlab.data.digits import digits
from priorlab.data.functions import TargetExpr, target_function
from priorlab.errors import Diverged
from priorlab.nets.deep import deep
from priorlab.regimes import apply, fit_readout, summary
from priorlab.stats import mean_ci
from priorlab.stats.claims import Claim
from priorlab.train.classify import accuracy, fit_classifier
from priorlab.train.ensemble import Ensemble, from_modules
from priorlab.train.loop import epoch_batches, fit
from priorlab.viz import regimes as figs

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
    "bias_only": "Williams et al. 2025 (STUDIES.md §3)", "mask": "Ramanujan et al. 2020",
    "permute": "Qiu & Suda 2020 (LaPerm)", "shared": "Chen et al. 2015 (HashedNets)", "hyper": "Ha, Dai & Le 2017",
    "readout_ridge": "Huang et al. 2006 (ELM)", "sharing": "deep learning course lecture (STUDIES.md §5)",
}

Regime = Literal["full", "frozen", "bias_only", "readout", "readout_ridge", "mask", "permute", "shared", "hyper"]
ALL_REGIMES = list(get_args(Regime))


class Config(BaseConfig):
    regimes: unique_list(Regime) = Field(
        ALL_REGIMES, description="regimes to compare (readout_ridge = readout solved in closed form)"
    )
    width: int = Field(128, ge=2, le=4096, description="hidden units per layer")
    depth: int = Field(2, ge=1, le=8, description="hidden layers (ReLU)")
    bias_std: float = Field(1.0, ge=0, le=10, description="initial biases ~ N(0, bias_std²); weights N(0, 2/fan_in)")
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
    net = deep(cfg.width, cfg.depth, "relu", bias=True, init="fan-in", gain=math.sqrt(2), bias_std=cfg.bias_std,
               in_features=in_features, out_features=out_features, seed=seed)
    options = {"mask": {"fraction": cfg.mask_fraction}, "shared": {"fraction": cfg.shared_fraction, "seed": seed}}
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
    seconds, s = _clock(device) - t0, summary(model)
    return {"acc": acc, "seconds": seconds, "trainable": s.trainable, "total": s.total}


def _points(cfg: Config, seed: int) -> torch.Tensor:
    return 2 * torch.rand(cfg.n_train, 1, generator=torch.Generator().manual_seed(seed)) - 1


@torch.no_grad()
def _fit1d_result(model, f, x_test: torch.Tensor, seconds: float) -> tuple[dict[str, float], np.ndarray]:
    pred = model(x_test)
    return {"mse": torch.mean((pred - f(x_test)) ** 2).item(), "seconds": seconds}, pred[:, 0].cpu().numpy()


def run_fit1d(
    cfg: Config, regime: str, seed: int, f, x_test: torch.Tensor, device: torch.device
) -> tuple[dict[str, float], np.ndarray]:
    x = _points(cfg, seed)
    x, y, x_test = x.to(device), f(x).to(device), x_test.to(device)
    model = build(cfg, regime, 1, 1, seed).to(device)
    t0 = _clock(device)
    if regime == "readout_ridge":
        fit_readout(model, x, y, cfg.ridge_lam)
    elif regime != "frozen":
        fit(model, lambda _: torch.mean((model(x) - y) ** 2), cfg.steps, lr=_lr(cfg, regime))
    return _fit1d_result(model, f, x_test, _clock(device) - t0)


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    _, f = target_function(cfg.target)
    split = digits(seed=ctx.seed)
    x_test = torch.linspace(-1, 1, 1000)[:, None]
    part = _part(cfg)
    with ctx.timed("train"):
        for regime in ctx.progress(cfg.regimes, description="regimes"):
            for rep in range(cfg.repeats):
                seed = ctx.seed + rep
                _add(part, regime, rep, run_digits(cfg, regime, seed, split, ctx.device),
                     run_fit1d(cfg, regime, seed, f, x_test, ctx.device))
    return finish(cfg, ctx, f, x_test, *part)


def _part(cfg: Config) -> tuple[dict, dict, dict]:  # digits rows, 1-D rows (per regime, repeat), curves (repeat 0)
    return {r: [] for r in cfg.regimes}, {r: [] for r in cfg.regimes}, {}


def _add(part: tuple, regime: str, rep: int, dig: dict, fit1: tuple) -> None:
    part[0][regime].append(dig)
    part[1][regime].append(fit1[0])
    part[2].update({regime: fit1[1]} if rep == 0 else {})


def finish(cfg: Config, ctx: RunContext, f, x_test, dig_rows, fit_rows, curves) -> dict[str, float]:
    """Metrics, table and the arrays every figure is drawn from, given a trial's results (:func:`_part`)."""
    acc = {r: np.array([row["acc"] for row in dig_rows[r]], dtype=float) for r in cfg.regimes}
    mse = {r: np.array([row["mse"] for row in fit_rows[r]], dtype=float) for r in cfg.regimes}
    metrics = measure(cfg, ctx, dig_rows, fit_rows, acc, mse)
    per_regime = {f"{k}_{r}": v for k, d in (("fit", curves), ("acc", acc), ("mse", mse)) for r, v in d.items()}
    ctx.save_arrays(x_test=x_test[:, 0].numpy(), target=f(x_test)[:, 0].numpy(),
                    trainable=np.array([dig_rows[r][0]["trainable"] for r in cfg.regimes]), **per_regime)
    metrics["err_shared_grad_vs_sum"] = figs.sharing_example(ctx.seed)["err"]
    return metrics


def draw(cfg: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure: bars and fits from the arrays; the hyper and sharing diagrams from the config and seed."""
    hyper = figs.hyper_layout(build(cfg, "hyper", 64, 10, cfg.seed)) if ctx.draws("hyper") else None
    for name, fig in figs.regime_figures(arrays, cfg.regimes, ALL_REGIMES, interval, cfg.model_dump(), hyper,
                                         figs.sharing_example(cfg.seed), ctx.draws).items():
        ctx.save_figure(name, fig)


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
        t_dig, t_fit = (np.mean([row["seconds"] for row in rows[r]]) for rows in (dig_rows, fit_rows))
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
    ctx.note("trainable = entries learning changes (mask: one score per weight; permute: one latent per weight; "
             "shared: tied values + biases; hyper: embeddings + generator + biases); total = all stored parameters. "
             "readout_ridge solves the last layer in closed form; frozen is evaluated at initialisation.")
    return metrics


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


# ----------------------------------------------------------------------------------------------
# sweeps: trials that differ only in seed train together, one ensemble per regime and task

BATCH_KEYS = ("seed",)
# regimes whose networks train as one ensemble (torch.func; mask and permute through vmappable straight-through
# Functions); frozen and readout_ridge train nothing: those run network by network
TOGETHER = ("full", "bias_only", "readout", "mask", "permute", "shared", "hyper")


def _together(cfg: Config, regime: str, nets: list, loss, data) -> list:
    """``nets`` trained as one ensemble: data is (x, y) stacked per member for ``cfg.steps`` full-batch steps, or an
    iterator of such minibatches; the trained nets, or Diverged (at its first non-finite step) for a member."""
    fwd, params, frozen, masks = from_modules(nets)
    ens = Ensemble(lambda p, x, y: loss(fwd(p, x), y), params, frozen=frozen, masks=masks, lr=_lr(cfg, regime),
                   batch_dims=(0, 0))
    losses = ens.train(cfg.steps, *data).losses if isinstance(data, tuple) else torch.stack([ens.step(*b) for b in data])
    bad = ~torch.isfinite(losses)  # [steps, K]
    for k, net in enumerate(nets):
        net.load_state_dict(ens.member(k), strict=False)
    return [Diverged(int(bad[:, k].nonzero()[0])) if bad[:, k].any() else net for k, net in enumerate(nets)]


def digits_members(cfg: Config, regime: str, seeds: list[int], splits: list, device) -> list:
    """run_digits for several seeds of one regime, trained as one ensemble: each member on its own split, in its
    own seed's minibatch order (as fit_classifier draws it). Seconds: an equal share of the group's."""
    nets = [build(cfg, regime, s.x_train.shape[1], 10, seed).to(device) for seed, s in zip(seeds, splits)]
    t0 = _clock(device)
    x, y = (torch.stack([getattr(s, a) for s in splits]).to(device) for a in ("x_train", "y_train"))
    rows = torch.arange(len(nets), device=device)[:, None]
    orders = zip(*(epoch_batches(len(s.x_train), 64, cfg.epochs, torch.Generator().manual_seed(seed))
                   for seed, s in zip(seeds, splits)))
    batches = ((x[rows, idx], y[rows, idx]) for idx in (torch.stack(b).to(device) for b in orders))
    trained = _together(cfg, regime, nets, torch.nn.functional.cross_entropy, batches)
    accs = [n if isinstance(n, Exception) else accuracy(n.eval(), s.x_test, s.y_test) for n, s in zip(trained, splits)]
    seconds = (_clock(device) - t0) / len(nets)
    return [a if isinstance(a, Exception) else {"acc": a, "seconds": seconds, "trainable": summary(n).trainable,
                                                 "total": summary(n).total} for a, n in zip(accs, nets)]


def fit1d_members(cfg: Config, regime: str, seeds: list[int], f, x_test: torch.Tensor, device) -> list:
    """run_fit1d for several seeds of one regime, trained as one ensemble, each on its own seed's points."""
    xs = [_points(cfg, seed) for seed in seeds]
    nets = [build(cfg, regime, 1, 1, seed).to(device) for seed in seeds]
    t0 = _clock(device)
    data = (torch.stack(xs).to(device), torch.stack([f(x) for x in xs]).to(device))
    trained = _together(cfg, regime, nets, lambda out, y: torch.mean((out - y) ** 2), data)
    seconds = (_clock(device) - t0) / len(nets)
    return [n if isinstance(n, Exception) else _fit1d_result(n, f, x_test.to(device), seconds) for n in trained]


def _each(fn, *args):  # one network's result, or the exception that fails its trial alone
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        return exc


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Trials that differ only in seed: per regime in TOGETHER, every trial's and repeat's networks are one ensemble
    on digits and one on the 1-D fit (others: one by one); then each trial is measured as run() measures it."""
    cfg0, device = cfgs[0], ctxs[0].device
    _, f = target_function(cfg0.target)
    x_test = torch.linspace(-1, 1, 1000)[:, None]
    splits = [digits(seed=ctx.seed) for ctx in ctxs]
    members = [(c, r) for c in range(len(cfgs)) for r in range(cfg0.repeats)]
    seeds = [ctxs[c].seed + r for c, r in members]
    parts = [_part(cfg0) for _ in cfgs]
    failed: list[Exception | None] = [None] * len(cfgs)
    with shared_time(ctxs, "train"):
        for regime in cfg0.regimes:
            if regime in TOGETHER:
                dig = digits_members(cfg0, regime, seeds, [splits[c] for c, _ in members], device)
                fits = fit1d_members(cfg0, regime, seeds, f, x_test, device)
            else:
                dig = [_each(run_digits, cfg0, regime, s, splits[c], device) for (c, _), s in zip(members, seeds)]
                fits = [_each(run_fit1d, cfg0, regime, s, f, x_test, device) for s in seeds]
            for (c, r), d, fit1 in zip(members, dig, fits):
                failed[c] = failed[c] or next((e for e in (d, fit1) if isinstance(e, Exception)), None)
                if failed[c] is None:
                    _add(parts[c], regime, r, d, fit1)
    for cfg, ctx, part, exc in zip(cfgs, ctxs, parts, failed):
        yield exc or finish(cfg, ctx, f, x_test, *part)
