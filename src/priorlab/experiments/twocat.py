"""Guest's blog toy: a deep random tanh net keeps categories apart but erases the members' differences.

Two random prototypes ~ N(0, 1)^100 (two categories) with 10 members each: member i = prototype + 0.01·i·N(0, 1)
(member 0 is the prototype). A net of 20 layers of 100 tanh units, weights 0.1·N(0, 1), no bias
(oliviaguest/random-network, net.py). Layer by layer we measure the mean Pearson correlation between members of
the same category and between members of different categories, and draw the correlation-distance RDM.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from priorlab.config import BaseConfig
from priorlab.context import RunContext

DESCRIPTION = (
    "Guest's two-category toy: within- vs between-category correlation through 20 random tanh layers"
)
ORDER = 21
CITATION = (
    "Guest, O. (2016). Random-weight network toy (github.com/oliviaguest/random-network), "
    "companion to Guest & Love (2017), eLife 6:e21397."
)
FIGURES = {
    "correlation": "Mean Pearson correlation between members of the same category (within) and of different "
    "categories (between) at each layer (0 = input); band = SD over networks.",
    "rdm_strip": "Correlation-distance RDMs (1 − r) of the 2×members items at chosen layers of the first network; "
    "items sorted by category, then by noise level.",
    "within_strip": "The same RDMs restricted to the members of the first category, rank-transformed "
    "(percentiles) so that their ordering by noise level is visible at every layer.",
    "rdm_vs_input": "Spearman correlation of each layer's RDM with the input RDM (how much similarity structure "
    "survives), overall and within each category.",
}
DEMO = [{}]


class Config(BaseConfig):
    categories: int = Field(2, ge=2, le=50, description="number of categories (prototypes)")
    members: int = Field(
        10, ge=2, le=1000, description="members per category; member i has noise SD noise_step·i"
    )
    noise_step: float = Field(0.01, ge=0, le=10, description="noise SD added per member index")
    width: int = Field(100, ge=2, le=4096, description="units per layer (= input dimension)")
    depth: int = Field(20, ge=1, le=500, description="number of layers")
    activation: Literal["tanh", "relu", "sigmoid", "linear"] = Field("tanh", description="layer nonlinearity")
    weight_std: float = Field(
        0.1, gt=0, le=100, description="weights are weight_std·N(0,1) (not scaled by fan-in)"
    )
    bias_std: float = Field(0.0, ge=0, le=100, description="biases N(0, bias_std²); 0 = no bias (the blog)")
    repeats: int = Field(10, ge=1, le=10_000, description="independent networks (seed, seed+1, ...)")
    strip_layers: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, description="layers drawn in the RDM strip (0 = input, ≤ depth); default: about 7 spread over the depth"
    )

    PRESETS: ClassVar[dict] = {"blog": {"repeats": 1}}
    FULL: ClassVar[dict] = {"repeats": 100}

    @model_validator(mode="after")
    def _strip_layers_within_depth(self):
        bad = [layer for layer in self.strip_layers or [] if layer > self.depth]
        if bad:
            raise ValueError(f"strip_layers: layer {bad[0]} is outside 0..{self.depth} (0 = input)")
        return self


def items(config: Config, gen: torch.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """[categories·members, width] patterns sorted by category, and each pattern's category."""
    proto = torch.randn(config.categories, 1, config.width, generator=gen)
    sd = config.noise_step * torch.arange(config.members, dtype=torch.float32)[None, :, None]
    noise = torch.randn(config.categories, config.members, config.width, generator=gen)
    x = (proto + sd * noise).reshape(-1, config.width)
    return x, np.repeat(np.arange(config.categories), config.members)


def layer_representations(net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """[input, layer1, …, layerD] outputs (after the activation)."""
    from priorlab.probe.capture import capture

    acts = capture(net, x)
    return [x] + [acts[f"layer{i + 1}"] for i in range(len(acts))]


def within_between(corr: np.ndarray, cats: np.ndarray) -> tuple[float, float]:
    """Mean off-diagonal correlation within categories and between categories."""
    same = cats[:, None] == cats[None, :]
    off = ~np.eye(len(cats), dtype=bool)
    return float(corr[same & off].mean()), float(corr[~same].mean())


def default_strip(depth: int, n: int = 7) -> list[int]:
    return sorted(set(np.linspace(0, depth, n).round().astype(int).tolist()))


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    strip = config.strip_layers if config.strip_layers is not None else default_strip(config.depth)
    within, between, rdm_to_input, rdm_to_input_within, first_rdms, first_cats = _measure(config, ctx, strip)
    ctx.save_arrays(
        within=within,
        between=between,
        rdm_to_input=rdm_to_input,
        rdm_to_input_within=rdm_to_input_within,
        strip_layers=np.array(strip),
        strip_rdms=np.stack(first_rdms),
    )
    _figures(ctx, config, within, between, rdm_to_input, rdm_to_input_within, first_rdms, first_cats, strip)
    ctx.table(
        "Mean correlation per layer (averaged over networks)",
        [
            {
                "layer": layer,
                "within": within[:, layer].mean(),
                "between": between[:, layer].mean(),
                "RDM vs input (Spearman)": rdm_to_input[:, layer].mean(),
                "within-category RDM vs input": rdm_to_input_within[:, layer].mean(),
            }
            for layer in default_strip(config.depth, 11)
        ],
    )
    metrics = {}
    for layer in sorted({0, 1, min(5, config.depth), min(10, config.depth), config.depth}):
        metrics[f"within_corr_layer{layer}"] = within[:, layer].mean()
        metrics[f"between_corr_layer{layer}"] = between[:, layer].mean()
    metrics["rdm_vs_input_last"] = rdm_to_input[:, -1].mean()
    metrics["within_rdm_vs_input_last"] = rdm_to_input_within[:, -1].mean()
    return metrics


def _measure(config: Config, ctx: RunContext, strip: list[int]):
    """Per network and layer: within/between-category r and the RDM's Spearman r with the input's (overall and
    within each category), [repeats, depth + 1] each; and the first network's RDMs at the strip layers."""
    from priorlab.nets.deep import deep
    from priorlab.probe.rdm import compare, rdm

    n_layers = config.depth + 1
    within = np.zeros((config.repeats, n_layers))
    between = np.zeros((config.repeats, n_layers))
    rdm_to_input = np.zeros((config.repeats, n_layers))
    rdm_to_input_within = np.zeros((config.repeats, n_layers))
    first_rdms = first_cats = None
    for r in ctx.progress(range(config.repeats), description="networks"):
        gen = torch.Generator().manual_seed(ctx.seed + r)
        x, cats = items(config, gen)
        net = deep(
            config.width,
            config.depth,
            config.activation,
            bias=config.bias_std > 0,
            init="normal",
            gain=config.weight_std,
            bias_std=config.bias_std,
            seed=int(torch.randint(2**62, (1,), generator=gen)),
        )
        rdms = [rdm(h.double(), "correlation") for h in layer_representations(net, x)]
        for layer, d in enumerate(rdms):
            within[r, layer], between[r, layer] = within_between(1 - d.numpy(), cats)
            rdm_to_input[r, layer] = compare(d, rdms[0], "spearman")
            rdm_to_input_within[r, layer] = np.mean(
                [compare(_block(d, cats, c), _block(rdms[0], cats, c), "spearman") for c in np.unique(cats)]
            )
        if first_rdms is None:
            first_rdms, first_cats = [rdms[layer].numpy() for layer in strip], cats
    return within, between, rdm_to_input, rdm_to_input_within, first_rdms, first_cats


def _block(d: torch.Tensor, cats: np.ndarray, c) -> torch.Tensor:
    idx = torch.from_numpy(np.flatnonzero(cats == c))
    return d[idx][:, idx]


def _figures(ctx, config, within, between, rdm_to_input, rdm_to_input_within, rdms, cats, strip) -> None:
    from priorlab.viz.twocat import plot_correlation, plot_rdm_vs_input, plot_strips

    title = f"{config.categories} categories × {config.members} members, {config.repeats} random {config.activation} nets"
    ctx.save_figure("correlation", plot_correlation(within, between, title))
    everything, first = plot_strips(
        rdms,
        strip,
        cats,
        f"RDMs (1 − Pearson r) through a random {config.activation} net, weights "
        f"{config.weight_std:g}·N(0,1), width {config.width}",
        f"Within category 1: RDMs of its {config.members} members (rank-transformed; member i has noise "
        f"SD {config.noise_step:g}·i)",
    )
    ctx.save_figure("rdm_strip", everything)
    ctx.save_figure("within_strip", first)
    ctx.save_figure("rdm_vs_input", plot_rdm_vs_input(rdm_to_input, rdm_to_input_within))
