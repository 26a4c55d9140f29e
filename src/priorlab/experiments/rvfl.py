"""rvfl: random features with a closed-form ridge readout — test error vs number of units (STUDIES.md §3)."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from pydantic import AfterValidator, Field

from priorlab.config import BaseConfig, unique_list
from priorlab.context import RunContext, shared_time
from priorlab.data.functions import TargetExpr, target_function
from priorlab.nets.rvfl import RVFL
from priorlab.regimes import apply, fit_readout, summary
from priorlab.stats.claims import Claim
from priorlab.viz.rvfl import fit_errors, scaling

DESCRIPTION = "random-feature (RVFL) regression, ridge readout in closed form: log test MSE vs log units"
ORDER = 44
CITATION = (
    "Igelnik & Pao (1995) Stochastic choice of basis functions in adaptive function approximation and the "
    "functional-link net, IEEE TNN; Needell, Nelson, Saab & Salanevich (2022) Random vector functional link "
    "networks for function approximation on manifolds (O(1/n) error bound); Huang et al. (2006) Extreme learning machine."
)
QUESTION = (
    "With a fixed random hidden layer and only the linear readout solved in closed form, how fast does the test "
    "error fall as random units are added: at least as fast as the O(1/n) bound, and where does noise stop it?"
)
KEY_FIGURE = "scaling"
FIGURES = {
    "scaling": "Test MSE against the number of random units (log–log), geometric mean over repeats with the "
    "range as a band: smooth noiseless 1-D and 2-D targets (solid) and the same with noisy training targets "
    "(dashed); grey: the O(1/n) bound's slope; dotted: σ²·dof/N, the noise a ridge fit with dof effective "
    "degrees of freedom absorbs (where the noisy curves floor).",
    "fits": "Left: |error| of 1-D fits along x for several unit counts (log scale; the target drawn above "
    "it); middle: the 2-D target; right: |error| of the 2-D fit with the median unit count (log colour scale).",
}
DEMO = [{}]

SOURCE = "Needell, Nelson, Saab & Salanevich 2022 (O(1/n) bound; STUDIES.md §3)"
LSQ = "least-squares theory: a linear fit with dof effective degrees of freedom absorbs σ²·dof/N of the noise"
TARGETS_2D = {
    "sincos": ("sin(πx₁)·cos(πx₂)", lambda x: torch.sin(math.pi * x[:, 0]) * torch.cos(math.pi * x[:, 1])),
    "bump": ("exp(−2|x|²)", lambda x: torch.exp(-2 * (x**2).sum(1))),
}


class Config(BaseConfig):
    units: Annotated[unique_list(int, ge=1, le=8192, min_length=2), AfterValidator(sorted)] = Field(
        [8, 16, 32, 64, 128, 256, 512], description="numbers of random units (sorted)"
    )
    n_train: int = Field(2000, ge=2, le=200_000, description="training points, uniform in [-1, 1]^d")
    n_test: int = Field(2000, ge=10, le=200_000, description="test points, uniform in [-1, 1]^d (noiseless)")
    lam: float = Field(1e-8, ge=0, le=1.0, description="ridge penalty λ (the study: λ ≤ 1e-6)")
    activation: Literal["tanh", "sigmoid", "relu", "cos"] = Field(
        "tanh", description="random unit non-linearity"
    )
    feature_scale: float = Field(1.0, gt=0, le=100, description="hidden weights and biases ~ U(-s, s)")
    direct_link: bool = Field(True, description="RVFL direct input-to-output link (false: an ELM)")
    target_1d: TargetExpr = Field(
        "sin(pi*x)+0.5*cos(2*pi*x)", description="1-D target, an expression in x on [-1, 1]"
    )
    target_2d: Literal["sincos", "bump"] = Field(
        "sincos", description="2-D target: sincos = sin(πx₁)cos(πx₂)"
    )
    noise: float = Field(
        0.1, ge=0, le=10, description="SD of the noise on the training targets of the noisy curves"
    )
    repeats: int = Field(3, ge=1, le=100, description="random feature draws and data sets per unit count")

    FULL: ClassVar[dict] = {"repeats": 10, "units": [8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512]}


def effective_dof(features: torch.Tensor, lam: float) -> float:
    """Degrees of freedom of the ridge fit, Σ s²/(s² + λ) over the centred features' singular values, + 1 (bias)."""
    s = torch.linalg.svdvals(features - features.mean(0))
    s = s[s > s.max() * max(features.shape) * torch.finfo(s.dtype).eps]
    return float((s**2 / (s**2 + lam)).sum()) + 1.0


def fitted(cfg: Config, d: int, n: int, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> RVFL:
    """An RVFL of n units on d inputs, features drawn from ``generator``, its readout solved on (x, y) (float64)."""
    model = RVFL(d, n, cfg.activation, cfg.feature_scale, cfg.direct_link, generator=generator).double()
    apply(model, "readout")
    fit_readout(model, x, y[:, None], cfg.lam)
    return model


def curve_draw(cfg: Config, d: int, f, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One repeat of :func:`curve`: the data set and feature draws of ``seed``; test MSE and the fit's effective
    degrees of freedom per unit count (float64)."""
    out, dof = np.empty(len(cfg.units)), np.empty(len(cfg.units))
    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(cfg.n_train, d, generator=g, dtype=torch.float64) - 1
    y = f(x) + noise * torch.randn(cfg.n_train, generator=g, dtype=torch.float64)
    xt = 2 * torch.rand(cfg.n_test, d, generator=g, dtype=torch.float64) - 1
    for j, n in enumerate(cfg.units):
        model = fitted(cfg, d, n, x, y, g)
        with torch.no_grad():
            out[j] = torch.mean((model(xt)[:, 0] - f(xt)) ** 2).item()
            dof[j] = effective_dof(model.features(x), cfg.lam) if noise > 0 else np.nan
    return out, dof


def curve(cfg: Config, d: int, f, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Test MSE and the fit's effective degrees of freedom, each [repeats, len(units)], of RVFL fits with
    closed-form readouts (float64); repeat r is the draw of seed + r."""
    rows = [curve_draw(cfg, d, f, noise, seed + r) for r in range(cfg.repeats)]
    return np.stack([m for m, _ in rows]), np.stack([v for _, v in rows])


def curves_of(cfg: Config) -> dict:
    """The curves of a run: name -> (input dimension, target on [N, d] inputs, noise SD of the training targets)."""
    f1 = target_function(cfg.target_1d)[1]
    f1_cols = lambda x: f1(x[:, 0])  # the 1-D target on [N, 1] inputs
    f2 = TARGETS_2D[cfg.target_2d][1]
    out = {"1d": (1, f1_cols, 0.0), "2d": (2, f2, 0.0)}
    if cfg.noise > 0:
        out.update({"1d_noisy": (1, f1_cols, cfg.noise), "2d_noisy": (2, f2, cfg.noise)})
    return out


def slope(units: list[int], mse: np.ndarray) -> float:
    """Least-squares slope of log(geometric-mean MSE) against log(units)."""
    return float(np.polyfit(np.log(units), np.log(mse).mean(0), 1)[0])


@torch.no_grad()
def example_errors(cfg: Config, f1, f2, seed: int) -> dict:
    """|error| of noiseless 1-D fits on a grid for four unit counts, and of a 2-D fit (the median count) on a
    100 × 100 grid, for the ``fits`` figure."""
    g = torch.Generator().manual_seed(seed)
    x1 = 2 * torch.rand(cfg.n_train, 1, generator=g, dtype=torch.float64) - 1
    grid1 = torch.linspace(-1, 1, 500, dtype=torch.float64)[:, None]
    shown = sorted({cfg.units[i] for i in np.linspace(0, len(cfg.units) - 1, 4).round().astype(int)})
    errors1 = {}
    for n in shown:
        model = fitted(cfg, 1, n, x1, f1(x1), g)
        errors1[n] = (model(grid1)[:, 0] - f1(grid1)).abs().clamp_min(1e-16).numpy()
    s = torch.linspace(-1, 1, 100, dtype=torch.float64)
    grid2 = torch.stack(torch.meshgrid(s, s, indexing="xy"), -1).reshape(-1, 2)
    x2 = 2 * torch.rand(cfg.n_train, 2, generator=g, dtype=torch.float64) - 1
    n_mid = cfg.units[len(cfg.units) // 2]
    model = fitted(cfg, 2, n_mid, x2, f2(x2), g)
    return {
        "x1": grid1[:, 0].numpy(),
        "target1": f1(grid1).numpy(),
        "errors1": errors1,
        "target2": f2(grid2).reshape(100, 100).numpy(),
        "error2": (model(grid2)[:, 0] - f2(grid2)).abs().reshape(100, 100).clamp_min(1e-16).numpy(),
        "n_mid": n_mid,
    }


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    curves = curves_of(cfg)
    mse, dof = {}, {}
    with ctx.timed("train"):
        for k, (d, f, noise) in ctx.progress(curves.items(), description="curves"):
            mse[k], dof[k] = curve(cfg, d, f, noise, ctx.seed)
        examples = example_errors(cfg, curves["1d"][1], curves["2d"][1], ctx.seed)
    return report(cfg, ctx, mse, dof, examples)


def report(cfg: Config, ctx: RunContext, mse: dict, dof: dict, examples: dict) -> dict[str, float]:
    """Metrics, tables, note and the arrays every figure is drawn from (:func:`draw`)."""
    # least squares fits noise with variance σ² · dof / N at the training inputs (≈ at fresh inputs for N ≫ dof)
    noise_term = {k: cfg.noise**2 * dof[k].mean(0) / cfg.n_train for k in mse if k.endswith("noisy")}
    metrics = measure(cfg, ctx, mse, noise_term, target_function(cfg.target_1d)[0], TARGETS_2D[cfg.target_2d][0])
    errors1 = examples.pop("errors1")
    ctx.save_arrays(fit_units1=np.array(list(errors1)), fit_errors1=np.stack(list(errors1.values())),
                    **{f"fit_{k}": v for k, v in examples.items()})
    return metrics


def draw(cfg: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Both figures of a run from its arrays: the scaling curves and the example fits' errors."""
    name_1d, name_2d = target_function(cfg.target_1d)[0], TARGETS_2D[cfg.target_2d][0]
    if ctx.draws("scaling"):
        mse = {k: arrays[f"mse_{k}"] for k in curves_of(cfg)}
        noise_term = {k: arrays[f"noise_term_{k}"] for k in mse if k.endswith("noisy")}
        slopes = {k: slope(cfg.units, v) for k, v in mse.items() if not k.endswith("noisy")}
        ctx.save_figure(
            "scaling", scaling(cfg.units, mse, slopes, noise_term, cfg.noise, cfg.activation, cfg.lam, cfg.n_train)
        )
    if ctx.draws("fits"):
        errors1 = dict(zip(arrays["fit_units1"].tolist(), arrays["fit_errors1"]))
        fits = {k: arrays[f"fit_{k}"] for k in ("x1", "target1", "target2", "error2")}
        ctx.save_figure("fits", fit_errors(**fits, errors1=errors1, n_mid=int(arrays["fit_n_mid"]), name_1d=name_1d,
                                           name_2d=name_2d))


# ----------------------------------------------------------------------------------------------
# sweeps: repeat r of the trial with seed S is the draw of seed S + r, so the trials of a seed sweep S, S+1, …
# share all but one of their draws (and trials that differ in repeats share the first ones): each is fitted once

BATCH_KEYS = ("seed", "repeats")


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Several trials that differ only in seed and repeats; each distinct (curve, seed) draw is fitted once for the
    group. Yields each trial's metrics (or its exception) in order."""
    draws, failed = {}, {}
    with shared_time(ctxs, "train"):
        for i, (cfg, ctx) in enumerate(zip(cfgs, ctxs)):
            try:
                for k, (d, f, noise) in curves_of(cfg).items():
                    for s in range(ctx.seed, ctx.seed + cfg.repeats):
                        if (key := (_same_draws(cfg), k, s)) not in draws:
                            draws[key] = curve_draw(cfg, d, f, noise, s)
            except Exception as exc:  # noqa: BLE001 - recorded for this trial alone
                failed[i] = exc
    for i, (cfg, ctx) in enumerate(zip(cfgs, ctxs)):
        if i in failed:
            yield failed[i]
            continue
        try:
            curves = curves_of(cfg)
            rows = {k: [draws[(_same_draws(cfg), k, ctx.seed + r)] for r in range(cfg.repeats)] for k in curves}
            with ctx.timed("train"):
                examples = example_errors(cfg, curves["1d"][1], curves["2d"][1], ctx.seed)
            yield report(cfg, ctx, {k: np.stack([m for m, _ in v]) for k, v in rows.items()},
                         {k: np.stack([d for _, d in v]) for k, v in rows.items()}, examples)
        except Exception as exc:  # noqa: BLE001 - recorded for this trial alone
            yield exc


def _same_draws(cfg: Config) -> str:
    """What a draw depends on besides its seed: every config value but the seed and the number of repeats."""
    return cfg.model_dump_json(exclude={"seed", "repeats"})


def measure(cfg: Config, ctx: RunContext, mse, noise_term, name_1d: str, name_2d: str) -> dict[str, float]:
    """Slopes and errors at the largest unit count; the report's tables, note and arrays."""
    metrics = {f"slope_{k}": slope(cfg.units, v) for k, v in mse.items() if not k.endswith("noisy")}
    for k, v in mse.items():
        metrics[f"mse_{k}_n{cfg.units[-1]}"] = float(np.exp(np.log(v[:, -1]).mean()))
    for k, v in noise_term.items():
        metrics[f"noise_term_{k}_n{cfg.units[-1]}"] = float(v[-1])
    ctx.table(
        "Test MSE (geometric mean over repeats) by number of random units",
        [
            {"units": n, **{k: f"{np.exp(np.log(v[:, j]).mean()):.2e}" for k, v in mse.items()}}
            for j, n in enumerate(cfg.units)
        ],
    )
    ctx.table(
        "Fitted log–log slopes (noiseless)",
        [
            {"target": f"1-D {name_1d}", "slope": round(metrics["slope_1d"], 2), "Needell et al. bound": -1.0},
            {"target": f"2-D {name_2d}", "slope": round(metrics["slope_2d"], 2), "Needell et al. bound": -1.0},
        ],
    )
    trainable = summary(apply(RVFL(1, cfg.units[-1], direct_link=cfg.direct_link), "readout"))
    ctx.note(
        f"Features: {cfg.activation}(w·x + b) with w, b ~ U(−{cfg.feature_scale}, {cfg.feature_scale})"
        f"{', plus the input itself (direct link)' if cfg.direct_link else ''}; inputs uniform in [−1, 1]^d; "
        f"{cfg.n_train} training and {cfg.n_test} test points; ridge λ = {cfg.lam:g}, solved in float64 via the SVD. "
        f"With {cfg.units[-1]} units the 1-D model has {trainable.trainable} trainable of {trainable.total} parameters."
    )
    ctx.save_arrays(
        units=np.array(cfg.units),
        **{f"mse_{k}": v for k, v in mse.items()},
        **{f"noise_term_{k}": v for k, v in noise_term.items()},
    )
    return metrics


def setup(cfg: Config) -> str:
    return (
        f"RVFL{'' if cfg.direct_link else ' without the direct link (an ELM)'}: {cfg.activation}(w·x + b) features, w, "
        f"b ~ U(−{cfg.feature_scale:g}, {cfg.feature_scale:g}), readout solved by ridge (λ = {cfg.lam:g}, float64). "
        f"Unit counts {', '.join(map(str, cfg.units))}; {cfg.repeats} feature draws and data sets per count; "
        f"{cfg.n_train} training and {cfg.n_test} test points uniform in [−1, 1]^d; 1-D target {cfg.target_1d}, "
        f"2-D target {cfg.target_2d}"
        + (f"; noisy curves with training noise SD {cfg.noise:g}." if cfg.noise > 0 else "; no noisy curves.")
    )


def claims(cfg: Config) -> list[Claim]:
    n = cfg.units[-1]
    bound = True if cfg.lam <= 1e-6 else f"the bound is for the (nearly) unpenalised readout; λ = {cfg.lam:g} floors it"
    noisy = True if cfg.noise > 0 else "no noisy curves at noise 0"
    out = [
        Claim(f"{d}-D smooth target: the test error falls at least as fast as O(1/n) (log–log slope ≤ −1)", SOURCE,
              f"slope_{d}d", (-50.0, -1.0), applies=bound)
        for d in (1, 2)
    ]
    out += [
        Claim(f"{d}-D noisy training targets: at {n} units the error floors at the absorbed noise σ²·dof/N (ratio "
              "within 0.5–2)", LSQ, lambda m, d=d: m[f"mse_{d}d_noisy_n{n}"] / m[f"noise_term_{d}d_noisy_n{n}"],
              (0.5, 2.0), label=f"mse_{d}d_noisy_n{n} / noise_term_{d}d_noisy_n{n}", applies=noisy)
        for d in (1, 2)
    ]
    return out
