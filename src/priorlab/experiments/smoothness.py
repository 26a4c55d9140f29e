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

Everything is batched: a chunk of runs × items × levels goes through each layer as one batched matmul.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from priorlab.config import BaseConfig
from priorlab.context import RunContext
from priorlab.viz.smoothness import plot_smoothness

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
    "one curve per coding scheme (darker = simpler); dashed: 1/sqrt(1 + (0.05k)²), the identity's prediction.",
    "last_level": "r at the largest distortion level for each coding scheme (mean ± SD over runs).",
}
DEMO = [{}, {"init": "fan-in"}]

N_MODELS = 11
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


def coding_scheme_r(x: torch.Tensor, config: Config, gen: torch.Generator) -> torch.Tensor:
    """x: [runs, P, L, D] items -> r: [models, runs, P, L], Pearson r to the undistorted item per scheme."""
    runs, p, n_lev, d = x.shape
    std = 1.0 if config.init == "unit" else 1.0 / d**0.5

    def matrix() -> torch.Tensor:  # one fresh d×d matrix per run
        return torch.randn(runs, d, d, generator=gen, dtype=x.dtype) * std

    def layer(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # h @ w for every run, items flattened
        return torch.bmm(h.reshape(runs, p * n_lev, d), w).reshape(runs, p, n_lev, d)

    r = []
    z = zscore(x)
    r.append(pearson_to_level0(remap(z)))  # 1: vector space
    r.append(pearson_to_level0(torch.tanh(z)))  # 2: gain control
    u = layer(remap(z), matrix())
    r.append(pearson_to_level0(remap(u)))  # 3: one random matrix
    h = torch.tanh(u)
    r.append(pearson_to_level0(h))  # 4: perceptron, same matrix as model 3
    for _ in range(5, N_MODELS + 1):  # 5..11: one more fresh tanh layer each
        h = torch.tanh(layer(h, matrix()))
        r.append(pearson_to_level0(h))
    return torch.stack(r)


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    gen = torch.Generator().manual_seed(ctx.seed)
    per_run = []  # [models, runs, L]: item-averaged r per run
    item_r = []  # [models, runs·P, L] for models 1, 4, 11 (functional smoothness)
    chunks = [min(config.chunk, config.repeats - s) for s in range(0, config.repeats, config.chunk)]
    for n in ctx.progress(chunks, description="runs"):
        r = coding_scheme_r(distorted_items(n, config, gen), config, gen)
        per_run.append(r.mean(2))
        item_r.append(r[[0, 3, N_MODELS - 1]].flatten(1, 2))
    per_run_r = torch.cat(per_run, 1).numpy()  # [models, runs, L]
    mean, sd = per_run_r.mean(1), per_run_r.std(1)
    sm = torch.cat(item_r, 1)[:, :, 1:].flatten(1).numpy()  # levels 1.. (level 0 is r = 1)
    smooth4 = float(np.corrcoef(sm[0], sm[1])[0, 1])
    smooth11 = float(np.corrcoef(sm[0], sm[2])[0, 1])

    levels = np.arange(config.levels)
    ctx.save_arrays(
        levels=levels, noise_sd=levels * config.sd_step, r=mean, r_sd_over_runs=sd, r_runs=per_run_r
    )
    weights = "N(0, 1) weights" if config.init == "unit" else f"N(0, 1/{config.dim}) weights"
    curves, bars = plot_smoothness(mean, sd, MODEL_LABELS, config.sd_step, weights, config.repeats)
    ctx.save_figure("smoothness", curves)
    ctx.save_figure("last_level", bars)
    last = config.levels - 1
    ctx.note(
        f"{config.repeats} runs × {config.prototypes} prototypes, init {config.init} "
        f"({'N(0, 1)' if config.init == 'unit' else f'N(0, 1/{config.dim})'}). "
        f"Functional smoothness (Pearson r, over items × levels, between the input's r and the "
        f"representation's r): perceptron {smooth4:.3f}, 8-layer net {smooth11:.3f}."
    )
    ctx.table(
        f"r at distortion level {last} (noise SD {last * config.sd_step:.2f})",
        [
            {"model": MODEL_LABELS[m], "r": mean[m, last], "SD over runs": sd[m, last]}
            for m in range(N_MODELS)
        ],
    )
    metrics = {f"r_level{last}_model{m + 1}": float(mean[m, last]) for m in range(N_MODELS)}
    metrics.update(smoothness_model4=smooth4, smoothness_model11=smooth11)
    return metrics

