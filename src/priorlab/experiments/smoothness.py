"""Guest & Love (2017), Figure 2A: how smoothly do 11 coding schemes map distorted inputs?

Each run draws 100 prototypes ~ N(0, 1)^100 and distorts each at 20 levels (additive Gaussian noise with
SD 0.05·k; level 0 uses SD 1e-4). Every coding scheme maps every item to a representation, and we measure the
Pearson r between an item's level-0 and level-k representations, averaged over items and runs.

The schemes follow the authors' code (oliviaguest/brain-imaging-and-the-neural-code, random-network/neuralcode.py),
where `norm` z-scores a vector over its entries and `remap` rescales it to [-1, 1]:
  1 remap(norm(x))            2 tanh(norm(x))            3 remap(remap(norm(x)) W1)
  4 tanh(remap(norm(x)) W1)   (the authors reuse model 3's matrix)
  5..11 model k-1 followed by one more layer tanh(h W_k): networks of 2 to 8 tanh layers.
W entries are N(0, 1) (init "unit", as in the paper) or N(0, 1/100) (init "fan-in"). No biases.

Everything is batched: a chunk of runs × items × levels, at both weight scales (the same draws, scaled), goes
through each layer as one batched matmul; `run_many` stacks the runs of several seeds (each seed drawn as its own
run draws it). `draw` makes both figures from the run's arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from priorlab.config import BaseConfig
from priorlab.context import RunContext, shared_time
from priorlab.stats.claims import Claim
from priorlab.stats.intervals import ci_text, mean_cis, with_ci
from priorlab.train.loop import one_by_one
from priorlab.viz.smoothness import plot_curves, plot_last_level

DESCRIPTION = (
    "Guest & Love Fig. 2A: smoothness of 11 coding schemes, from the identity to 8 random tanh layers"
)
ORDER = 20
CITATION = (
    "Guest, O. & Love, B. C. (2017). What the success of brain imaging implies about the neural code. "
    "eLife 6:e21397."
)
FIGURES = {
    "smoothness": "Pearson r between an item's undistorted and distorted representation vs distortion level, "
    "one curve per coding scheme (darker = simpler; band: 95% bootstrap CI over runs), N(0, 1) weights (left) and "
    "N(0, 1/dim) weights (right); dashed: 1/sqrt(1 + (0.05k)²), the identity's prediction; stars: the study's numbers at k = 19.",
    "last_level": "r at the largest distortion level for each coding scheme (mean and 95% bootstrap CI over runs), "
    "both weight scales, with the study's numbers (stars).",
}
DEMO = [{}, {"init": "fan-in"}]
QUESTION = "Does a random network keep similar inputs similar, and how do depth and the weight scale change that?"
KEY_FIGURE = "smoothness"
SOURCE = "Guest & Love 2017, Fig. 2A (STUDIES.md §1)"
# the study's r at distortion level 19, per weight scale: {model: r}
STUDY = {"unit": {1: 0.725, 4: 0.57, 11: 0.04}, "fan-in": {11: 0.67}}

N_MODELS = 11
MAX_BATCH = 2**21  # numbers per item tensor of one batch (runs of several seeds stacked), at most
MODEL_LABELS = [
    "1 vector space",
    "2 gain control (tanh)",
    "3 random matrix",
    "4 perceptron (matrix + tanh)",
    *[f"{k} {k - 3}-layer tanh net" for k in range(5, 12)],
]


class Config(BaseConfig):
    repeats: int = Field(10, ge=1, le=10_000, description="independent runs (fresh prototypes and weights each)")
    prototypes: int = Field(100, ge=2, le=10_000, description="prototypes (items) per run")
    dim: int = Field(100, ge=2, le=4096, description="input and layer width")
    levels: int = Field(20, ge=2, le=200, description="distortion levels k = 0 .. levels-1")
    sd_step: float = Field(0.05, gt=0, le=10, description="noise SD per distortion level (SD = sd_step·k)")
    init: Literal["unit", "fan-in"] = Field(
        "unit", description="weight entries N(0,1) as in the paper, or N(0,1/dim)"
    )
    chunk: int = Field(
        10, ge=1, le=10_000, description="runs computed together in one batch (memory vs speed)"
    )

    PRESETS: ClassVar[dict] = {"paper": {"repeats": 100, "init": "unit"}, "fan-in": {"init": "fan-in"}}
    FULL: ClassVar[dict] = {"repeats": 100}
    RENAMED: ClassVar[dict] = {"runs": "repeats", "weights": "init"}


def setup(config: Config) -> str:
    return (
        f"{config.repeats} runs, each with {config.prototypes} fresh random prototypes in {config.dim} dimensions × "
        f"{config.levels} distortion levels (noise SD {config.sd_step:g}·k) through 11 coding schemes with fresh "
        f"weights; weights {config.init} ({'N(0, 1)' if config.init == 'unit' else f'N(0, 1/{config.dim})'}), and "
        f"the other scale ({OTHER[config.init]}) computed beside on the same items."
    )


OTHER = {"unit": "fan-in", "fan-in": "unit"}


def claims(config: Config) -> list[Claim]:
    last = config.levels - 1
    sigma = config.sd_step * last
    at19 = config.levels == 20 and config.sd_step == 0.05
    why = "the study's numbers are for distortion level 19 of 20 levels at noise SD 0.05·k"
    own = lambda init: (True if at19 and config.init == init else
                        why if not at19 else f"the study's {init} numbers; this run's weights are {config.init}")
    unit, fan = STUDY["unit"], STUDY["fan-in"]
    out = [
        Claim(f"the identity follows r = 1/sqrt(1 + ({config.sd_step:g}k)²) at k = {last}", SOURCE,
              f"r_level{last}_model1", 1 / (1 + sigma**2) ** 0.5, 0.02),
        Claim("N(0, 1) weights: the perceptron (model 4) keeps r ≈ 0.57 at k = 19", SOURCE, "r_level19_model4",
              unit[4], 0.04, applies=own("unit")),
        Claim("N(0, 1) weights: the 8-layer net (model 11) falls to r ≈ 0.04 at k = 19", SOURCE,
              "r_level19_model11", unit[11], 0.04, applies=own("unit")),
        Claim("N(0, 1) weights: r drops monotonically from model 4 to model 11 (1 = monotonic)", SOURCE,
              _monotonic(last), 1.0, 0.0, applies=own("unit"), label="monotonic_4_to_11"),
        Claim("N(0, 1/fan_in) weights: the deep curves stay high (model 11 ≈ 0.67 at k = 19)", SOURCE,
              "r_level19_model11", fan[11], 0.04, applies=own("fan-in")),
    ]
    if at19 and config.init == "unit":
        out.append(Claim("N(0, 1/fan_in) weights (computed beside): model 11 ≈ 0.67 at k = 19", SOURCE,
                         "r_level19_model11_fanin", fan[11], 0.04))
    return out


def _monotonic(last: int):
    def monotonic(m):
        r = [m[f"r_level{last}_model{k}"] for k in range(4, N_MODELS + 1)]
        return float(all(a > b for a, b in zip(r, r[1:])))

    return monotonic


# ----------------------------------------------------------------------------------------------
def zscore(x: torch.Tensor) -> torch.Tensor:
    """The authors' Normalise: subtract the vector's mean, divide by its (population) SD."""
    x = x - x.mean(-1, keepdim=True)
    return x / x.std(-1, keepdim=True, correction=0)


def remap(x: torch.Tensor, lo: float = -1.0, hi: float = 1.0) -> torch.Tensor:
    """The authors' Remap: rescale each vector's entries linearly onto [lo, hi]."""
    mn, mx = x.amin(-1, keepdim=True), x.amax(-1, keepdim=True)
    return (x - mn) / (mx - mn) * (hi - lo) + lo


def pearson_to_level0(h: torch.Tensor) -> torch.Tensor:
    """h: [..., levels, dim] -> Pearson r of each level's vector with level 0's: [..., levels]."""
    h = h - h.mean(-1, keepdim=True)
    h = h / h.norm(dim=-1, keepdim=True)
    return (h * h[..., :1, :]).sum(-1)


def distorted_items(runs: int, config: Config, gen: torch.Generator) -> torch.Tensor:
    """[runs, prototypes, levels, dim]: prototype + N(0, (sd_step·k)²) noise, level 0 with SD 1e-4."""
    p, d, n_lev = config.prototypes, config.dim, config.levels
    sd = torch.arange(n_lev, dtype=torch.float64) * config.sd_step
    sd[0] = 1e-4
    proto = torch.randn(runs, p, 1, d, generator=gen, dtype=torch.float64)
    noise = torch.randn(runs, p, n_lev, d, generator=gen, dtype=torch.float64)
    return proto + noise * sd[:, None]


def coding_scheme_r(x: torch.Tensor, matrix, stds: Sequence[float] = (1.0,)) -> torch.Tensor:
    """x: [B, P, L, D] items, B runs -> r: [len(stds), models, B, P, L], Pearson r to the undistorted item per scheme,
    for weight entries N(0, std²) per std. ``matrix()`` gives a fresh [B, D, D] of N(0, 1) entries per call (one
    matrix per run); every weight scale uses the same draws, scaled (the models' matrices are drawn in order)."""
    b, p, n_lev, d = x.shape
    n = len(stds)

    def layer(h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # h @ (std·z) per scale and run, items flattened
        w = torch.cat([z * s for s in stds])
        return torch.bmm(h.reshape(n * b, p * n_lev, d), w).reshape(n * b, p, n_lev, d)

    z = zscore(x)
    rz = remap(z)
    same = torch.stack([pearson_to_level0(rz), pearson_to_level0(torch.tanh(z))])  # 1, 2: no weights
    u = layer(rz.repeat(n, 1, 1, 1), matrix())
    r = [pearson_to_level0(remap(u))]  # 3: one random matrix
    h = torch.tanh(u)
    r.append(pearson_to_level0(h))  # 4: perceptron, same matrix as model 3
    for _ in range(5, N_MODELS + 1):  # 5..11: one more fresh tanh layer each
        h = torch.tanh(layer(h, matrix()))
        r.append(pearson_to_level0(h))
    deep = torch.stack(r).unflatten(1, (n, b)).transpose(0, 1)  # [n, models - 2, B, P, L]
    return torch.cat([same.expand(n, *same.shape), deep], 1)


def simulate(config: Config, seeds: Sequence[int], progress=None) -> list[tuple[np.ndarray, np.ndarray, torch.Tensor]]:
    """Per seed: r per scheme, run and level [models, runs, L] for the run's weights and for the other scale (the
    same items and draws), and the item-level r of models 1, 4, 11 at the run's weights [3, runs·P, L].

    Each seed has its own generator, drawn exactly as a run of that seed alone draws it; the runs of several seeds
    (as many as fit in MAX_BATCH numbers per tensor) go through each layer as one batched matmul."""
    d = config.dim
    stds = [1.0 if init == "unit" else 1.0 / d**0.5 for init in (config.init, OTHER[config.init])]
    per_seed = max(1, MAX_BATCH // (config.chunk * config.prototypes * config.levels * d))
    chunks = [min(config.chunk, config.repeats - s) for s in range(0, config.repeats, config.chunk)]
    out = []
    for first in range(0, len(seeds), per_seed):
        gens = [torch.Generator().manual_seed(s) for s in seeds[first : first + per_seed]]
        per_run, item_r = [[] for _ in gens], [[] for _ in gens]
        for n in progress(chunks, description="runs") if progress else chunks:
            x = torch.cat([distorted_items(n, config, g) for g in gens])
            r = coding_scheme_r(x, partial(_normals, gens, (n, d, d)), stds)
            for k in range(len(gens)):
                rk = r[:, :, k * n : (k + 1) * n]
                per_run[k].append(rk.mean(3))
                item_r[k].append(rk[0][[0, 3, N_MODELS - 1]].flatten(1, 2))
        for pr, it in zip(per_run, item_r):
            both = torch.cat(pr, 2).numpy()
            out.append((both[0], both[1], torch.cat(it, 1)))
    return out


def _normals(gens: list[torch.Generator], shape: tuple[int, ...]) -> torch.Tensor:
    """One draw of N(0, 1) numbers of ``shape`` from each generator, stacked along the first dimension."""
    return torch.cat([torch.randn(*shape, generator=g, dtype=torch.float64) for g in gens])


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    [(per_run_r, other_r, item_r)] = simulate(config, [ctx.seed], ctx.progress)
    return report(config, ctx, per_run_r, other_r, item_r)


def report(config: Config, ctx: RunContext, per_run_r: np.ndarray, other_r: np.ndarray, item_r: torch.Tensor):
    """Metrics, arrays and tables of one run from its r per scheme, run and level at its own weights (per_run_r)
    and the other weight scale (other_r), and its item-level r of models 1, 4, 11."""
    sm = item_r[:, :, 1:].flatten(1).numpy()  # levels 1.. (level 0 is r = 1)
    smooth4 = float(np.corrcoef(sm[0], sm[1])[0, 1])
    smooth11 = float(np.corrcoef(sm[0], sm[2])[0, 1])

    levels = np.arange(config.levels)
    other = OTHER[config.init]
    both = {config.init: over_runs(per_run_r, ctx.seed), other: over_runs(other_r, ctx.seed)}
    mean, sd = both[config.init][0], per_run_r.std(1)
    tag = other.replace("-", "")
    ctx.save_arrays(
        levels=levels, noise_sd=levels * config.sd_step, r=mean, r_sd_over_runs=sd, r_runs=per_run_r,
        **({"r_ci_low": both[config.init][1], "r_ci_high": both[config.init][2]} if config.repeats > 1 else {}),
        **{f"r_{tag}": both[other][0]},
        **({f"r_{tag}_ci_low": both[other][1], f"r_{tag}_ci_high": both[other][2]} if config.repeats > 1 else {}),
    )
    last = config.levels - 1
    ctx.note(
        f"{config.repeats} runs × {config.prototypes} prototypes, init {config.init} "
        f"({_weights(config.init, config.dim)}). "
        f"Functional smoothness (Pearson r, over items × levels, between the input's r and the "
        f"representation's r): perceptron {smooth4:.3f}, 8-layer net {smooth11:.3f}. "
        "r: mean over runs [95% bootstrap CI over runs] (n runs)."
    )
    metrics: dict[str, float] = {}
    for m in range(N_MODELS):
        with_ci(metrics, f"r_level{last}_model{m + 1}", per_run_r[m, :, last], seed=ctx.seed)
    metrics.update(smoothness_model4=smooth4, smoothness_model11=smooth11)
    for m in (4, N_MODELS):
        with_ci(metrics, f"r_level{last}_model{m}_{tag}", other_r[m - 1, :, last], seed=ctx.seed)
    other_text = {m: ci_text(with_ci({}, "r", other_r[m, :, last], seed=ctx.seed), "r") for m in range(N_MODELS)}
    ctx.table(
        f"r at distortion level {last} (noise SD {last * config.sd_step:.2f}): mean [95% CI] (n runs)",
        [
            {"model": MODEL_LABELS[m], "r": ci_text(metrics, f"r_level{last}_model{m + 1}"),
             "SD over runs": sd[m, last], f"r, {other} weights": other_text[m]}
            for m in range(N_MODELS)
        ],
    )
    return metrics


def draw(config: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Both figures from the run's arrays: its own weights' curves (``r``) and the other scale's (``r_fanin`` or
    ``r_unit``), each with its CI where the run had more than one repeat."""
    names = {config.init: "r", OTHER[config.init]: "r_" + OTHER[config.init].replace("-", "")}
    panels = [(_weights(init, config.dim), arrays[names[init]], arrays.get(f"{names[init]}_ci_low"),
               arrays.get(f"{names[init]}_ci_high"), STUDY[init]) for init in ("unit", "fan-in")]
    if ctx.draws("smoothness"):
        ctx.save_figure("smoothness", plot_curves(panels, MODEL_LABELS, config.sd_step, config.repeats))
    if ctx.draws("last_level"):
        ctx.save_figure("last_level", plot_last_level(panels, config.repeats))


# ----------------------------------------------------------------------------------------------
# sweeps: trials that differ only in the seed are simulated together (their runs stacked in one batch)

BATCH_KEYS = ("seed",)


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Trials of one config and several seeds: every seed's runs through the coding schemes as one batch (the
    random draws of each seed as its own run draws them). Yields each trial's metrics (or its exception) in order."""
    if any(c.model_copy(update={"seed": cfgs[0].seed}) != cfgs[0] for c in cfgs):
        yield from one_by_one(run, cfgs, ctxs)
        return
    with shared_time(ctxs, "measure"):
        sims = simulate(cfgs[0], [ctx.seed for ctx in ctxs], ctxs[0].progress)
    for cfg, ctx, sim in zip(cfgs, ctxs, sims):
        try:
            yield report(cfg, ctx, *sim)
        except Exception as exc:  # noqa: BLE001 - recorded for this trial alone
            yield exc


def over_runs(r: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """r [models, runs, L] -> mean over runs [models, L] and its 95% bootstrap CI over runs (None for one run)."""
    if r.shape[1] < 2:
        return r.mean(1), None, None
    return tuple(mean_cis(r.transpose(1, 0, 2), seed=seed))


def _weights(init: str, dim: int) -> str:
    return "N(0, 1) weights" if init == "unit" else f"N(0, 1/{dim}) weights"
