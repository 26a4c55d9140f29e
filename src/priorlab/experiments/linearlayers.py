"""Linear layers before a shallow ReLU network: do they bias it toward functions of a few directions, y = g(Uᵀx)?

Parkinson, Ongie & Willett (2024) show that the representation cost (least Σ‖W‖² that fits) of a shallow ReLU net
behind L bias-free linear layers favours input maps of low rank, so with weight decay the added layers should
generalise better on multi-index data and their end-to-end input matrix W1 A_L ⋯ A_1 should align with span(U).
On a target that varies along every direction (a random ReLU teacher on R^d) they should not help.

Each (target, L, seed) trains one network full batch with Adam on MSE + λ Σ‖W‖² to (near) interpolation.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, LearningRate, Steps
from priorlab.context import RunContext
from priorlab.data.multiindex import multi_index
from priorlab.nets.deeplinear import alignment, input_map, linear_relu, weight_norm2
from priorlab.stats.claims import Claim
from priorlab.stats.intervals import ci_text, with_ci, with_wilson
from priorlab.train.loop import fit
from priorlab.viz.linearlayers import by_depth, spectrum

DESCRIPTION = "Linear layers before a shallow ReLU net: alignment with a multi-index subspace and test error vs depth"
ORDER = 47
CITATION = (
    "Parkinson, Ongie & Willett (2024). ReLU neural networks with linear layers are biased towards single- and "
    "multi-index models. arXiv:2305.15598."
)
QUESTION = "Do extra linear layers make a weight-decayed ReLU net find the few directions a target depends on?"
KEY_FIGURE = "spectrum"
FIGURES = {
    "spectrum": "Singular values of the end-to-end input matrix W1 A_L ⋯ A_1 (each divided by the largest), "
    "multi-index target, one curve per L (mean over seeds, band min–max); the dashed line is k.",
    "alignment": "Alignment of the top-k right singular vectors with span(U) (mean cos² of the principal angles) "
    "against L, mean with its 95% bootstrap CI over seeds (band) and each seed; dotted: a random subspace.",
    "test_mse": "Test MSE against L for the multi-index target and the no-structure control, mean with its 95% "
    "bootstrap CI over seeds (band) and each seed.",
}
DEMO = [{}]
SOURCE = "Parkinson, Ongie & Willett 2024 (STUDIES.md §3, related work)"


class Config(BaseConfig):
    d: int = Field(20, ge=2, le=200, description="input dimension")
    k: int = Field(2, ge=1, le=2, description="index dimension: columns of U")
    depths: int = Field(3, ge=1, le=6, description="largest number of extra linear layers L (runs L = 0 … depths)")
    width: int = Field(100, ge=2, le=4096, description="hidden ReLU units")
    n_train: int = Field(160, ge=4, le=100_000, description="training points")
    n_test: int = Field(2000, ge=10, le=100_000, description="test points")
    weight_decay: float = Field(1e-3, ge=0, le=1, description="λ of the penalty λ Σ‖W‖² on every weight matrix")
    steps: Steps = Field(2000, description="full-batch Adam steps")
    lr: LearningRate = Field(3e-3, description="Adam learning rate")
    repeats: int = Field(5, ge=1, le=100, description="seeds: data, U and init from seed, seed+1, …")
    control: bool = Field(True, description="also fit the no-structure control target")

    FULL: ClassVar[dict] = {"repeats": 10, "steps": 4000}


def train_one(cfg: Config, extra: int, seed: int, structured: bool) -> tuple[float, float, np.ndarray]:
    """(test MSE, alignment, singular values of the input map) of one network."""
    data = multi_index(cfg.d, cfg.k, cfg.n_train, cfg.n_test, seed, structured=structured)
    net = linear_relu(cfg.d, extra, cfg.width, seed)
    fit(
        net,
        lambda _: nn.functional.mse_loss(net(data.x_train), data.y_train),
        cfg.steps,
        lr=cfg.lr,
        penalty=lambda: cfg.weight_decay * weight_norm2(net),
    )
    with torch.no_grad():
        mse = nn.functional.mse_loss(net(data.x_test), data.y_test).item()
    m = input_map(net)
    return mse, alignment(m, data.u), torch.linalg.svdvals(m).numpy()


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    depths, seeds = cfg.depths + 1, [ctx.seed + r for r in range(cfg.repeats)]
    targets = ["multi-index", "control"] if cfg.control else ["multi-index"]
    mse = np.full((len(targets), depths, cfg.repeats), np.nan)
    align = np.zeros((depths, cfg.repeats))
    svals = np.zeros((depths, cfg.repeats, cfg.d))
    jobs = [(t, depth, r) for t in range(len(targets)) for depth in range(depths) for r in range(cfg.repeats)]
    with ctx.timed("train"):
        for t, depth, r in ctx.progress(jobs, description="training"):
            mse[t, depth, r], a, s = train_one(cfg, depth, seeds[r], structured=t == 0)
            if t == 0:
                align[depth, r], svals[depth, r] = a, s
    return measure(cfg, ctx, targets, mse, align, svals)


STEMS = {"multi-index": "test_mse", "control": "test_mse_control"}  # the test-MSE metrics of each target


def draw(cfg: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """The spectrum, alignment and test-MSE figures from the run's arrays (the CI bands saved as ``ci_<stem>``
    [low/high, L], absent with one seed)."""
    targets = [str(t) for t in arrays["targets"]]

    def bands(stems: dict[str, str]) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
        if any(f"ci_{stem}" not in arrays for stem in stems.values()):
            return None
        return {label: tuple(arrays[f"ci_{stem}"]) for label, stem in stems.items()}

    if ctx.draws("spectrum"):
        ctx.save_figure("spectrum", spectrum(arrays["singular_values"], cfg.k,
                                             f"input map, multi-index target (d={cfg.d}, k={cfg.k})"))
    if ctx.draws("alignment"):
        ctx.save_figure("alignment", by_depth({"multi-index": arrays["alignment"]}, "alignment with span(U)",
                                              "alignment vs extra linear layers", chance=cfg.k / cfg.d,
                                              ci=bands({"multi-index": "alignment"})))
    if ctx.draws("test_mse"):
        ctx.save_figure("test_mse", by_depth(dict(zip(targets, arrays["test_mse"])), "test MSE",
                                             "test MSE vs extra linear layers", log=True,
                                             ci=bands({t: STEMS[t] for t in targets})))


def measure(cfg: Config, ctx: RunContext, targets, mse, align, svals) -> dict[str, float]:
    """``alignment_L<l>``, ``test_mse_L<l>``, ``test_mse_control_L<l>`` and ``tail_L<l>`` (σ_{k+1}/σ_1) as means
    with bootstrap CIs over seeds and n, ``wins_L<l>`` (seeds where alignment beats L = 0) with ``win_rate_L<l>``
    (its Wilson interval), and the ratios of mean test MSEs to L = 0."""
    metrics: dict[str, float] = {}
    rows = []
    for depth in range(cfg.depths + 1):
        with_ci(metrics, f"alignment_L{depth}", align[depth], seed=cfg.seed)
        with_ci(metrics, f"test_mse_L{depth}", mse[0, depth], seed=cfg.seed)
        with_ci(metrics, f"tail_L{depth}", svals[depth, :, cfg.k] / svals[depth, :, 0], seed=cfg.seed)
        if depth:
            metrics[f"wins_L{depth}"] = int((align[depth] > align[0]).sum())
            with_wilson(metrics, f"win_rate_L{depth}", metrics[f"wins_L{depth}"], cfg.repeats)
            metrics[f"mse_ratio_L{depth}"] = float(mse[0, depth].mean() / mse[0, 0].mean())
        row = {"L": depth, "alignment": ci_text(metrics, f"alignment_L{depth}"),
               "test MSE": ci_text(metrics, f"test_mse_L{depth}", 4), "σ_(k+1)/σ_1": ci_text(metrics, f"tail_L{depth}")}
        if cfg.control:
            with_ci(metrics, f"test_mse_control_L{depth}", mse[1, depth], seed=cfg.seed)
            if depth:
                metrics[f"mse_ratio_control_L{depth}"] = float(mse[1, depth].mean() / mse[1, 0].mean())
            row["test MSE, control"] = ci_text(metrics, f"test_mse_control_L{depth}", 4)
        rows.append(row)
    ctx.table(f"By number of extra linear layers L: mean [95% bootstrap CI] (n seeds), {cfg.repeats} seeds", rows)
    ctx.save_arrays(test_mse=mse, alignment=align, singular_values=svals, targets=np.array(targets))
    stems = ["alignment", *(STEMS[t] for t in targets)]  # the figures' CI bands
    for stem, (low, high) in (_bands(metrics, {s: s for s in stems}, cfg.depths) or {}).items():
        ctx.save_arrays(**{f"ci_{stem}": np.stack([low, high])})
    return metrics


def _bands(metrics, stems: dict[str, str], depths: int) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """{label: (CI low [L], CI high [L])} of the metrics ``<stem>_L<l>`` for the figures; None without CIs (one seed)."""
    if f"{next(iter(stems.values()))}_L0_ci_low" not in metrics:
        return None
    return {label: tuple(np.array([metrics[f"{stem}_L{d}_ci_{end}"] for d in range(depths + 1)]) for end in ("low", "high"))
            for label, stem in stems.items()}


def setup(cfg: Config) -> str:
    control = " and on a no-structure control (a random ReLU teacher on 20 isotropic directions)" if cfg.control else ""
    return (
        f"{cfg.repeats} seeds × L = 0…{cfg.depths} extra {cfg.d}×{cfg.d} linear layers before {cfg.width} ReLU units; "
        f"y = g(Uᵀx) with x ~ N(0, I_{cfg.d}), k = {cfg.k}, {cfg.n_train} training and {cfg.n_test} test points{control}; "
        f"{cfg.steps} full-batch Adam steps on MSE + {cfg.weight_decay:g} Σ‖W‖²."
    )


def claims(cfg: Config) -> list[Claim]:
    decayed = True if cfg.weight_decay > 0 else "the claims are about weight decay; this run has none"
    out = [
        Claim("with weight decay, one added linear layer aligns the input map with span(U) better than none, "
              f"on nearly every seed (≥ 80% of {cfg.repeats}; the fraction of seeds, with its Wilson interval)",
              source=SOURCE, metric="win_rate_L1", expected=(0.8, 1.0), applies=decayed),
        Claim("the learned input map aligns with span(U) (mean cos² ≥ 0.9) with L ≥ 1", source=SOURCE,
              metric=f"alignment_L{cfg.depths}", expected=(0.9, 1.0), applies=decayed),
        Claim("added linear layers improve generalisation on multi-index data (test MSE ratio L/L0 < 1)", source=SOURCE,
              metric=f"mse_ratio_L{cfg.depths}", expected=(0.0, 0.9), applies=decayed),
    ]
    if cfg.control:
        out.append(Claim("on a target without low-dimensional structure they do not help (ratio ≥ 1)", source=SOURCE,
                         metric=f"mse_ratio_control_L{cfg.depths}", expected=(1.0, 100.0), applies=decayed))
    return out
