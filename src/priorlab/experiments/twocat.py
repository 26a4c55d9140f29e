"""Guest's blog toy: a deep random tanh net keeps categories apart but erases the members' differences.

Two random prototypes ~ N(0, 1)^100 (two categories) with 10 members each: member i = prototype + 0.01·i·N(0, 1)
(member 0 is the prototype). A net of 20 layers of 100 tanh units, weights 0.1·N(0, 1), no bias
(oliviaguest/random-network, net.py). Layer by layer we measure the mean Pearson correlation between members of
the same category and between members of different categories, and draw the correlation-distance RDM.
"""

from __future__ import annotations

import itertools
from contextlib import nullcontext
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from priorlab.config import BaseConfig
from priorlab.context import RunContext, shared_time
from priorlab.stats.claims import Claim

DESCRIPTION = (
    "Guest's two-category toy: within- vs between-category correlation through 20 random tanh layers"
)
ORDER = 21
CITATION = (
    "Guest, O. (2016). Random-weight network toy (github.com/oliviaguest/random-network), "
    "companion to Guest & Love (2017), eLife 6:e21397."
)
FIGURES = {
    "distances": "Per layer (0 = input), mean over networks: the mean norm of an item, the Euclidean distances within "
    "and between categories (log scale), and their ratio; one line style per weight SD (dashed: the chaotic case).",
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
QUESTION = (
    "After 20 random tanh layers, are the members of a category 'for all intents and purposes identical' while the "
    "categories stay apart — or does the whole representation just shrink?"
)
KEY_FIGURE = "distances"
SOURCE = "STUDIES.md §1 (Guest's random-network blog toy, careful reading measured)"


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
    chaotic_std: float | None = Field(
        1.0, gt=0, le=100, description="weight SD of the second (chaotic) case measured beside; null = skip it"
    )
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


def setup(config: Config) -> str:
    chaotic = f", and again with weight SD {config.chaotic_std:g} (the chaotic case)" if config.chaotic_std else ""
    nets = f"{config.repeats} random networks of {config.depth} {config.activation} layers × {config.width} units"
    weights = f"weights {config.weight_std:g}·N(0, 1){', biases' if config.bias_std else ', no bias'}{chaotic}"
    member = f"member i = prototype + {config.noise_step:g}·i·N(0, 1)"
    items = f"{config.categories} fresh random prototypes with {config.members} members each ({member})"
    return f"{nets}, {weights}; each network sees {items}."


def claims(config: Config) -> list[Claim]:
    d = config.depth
    # the study's numbers are for the blog's architecture; other data (members, noise_step) may break them
    toy = config.activation == "tanh" and config.width == 100 and config.depth == 20 and config.bias_std == 0
    why = "the study's numbers are for the blog's toy: 20 tanh layers of 100 units, no bias"
    at = lambda sd: True if toy and config.weight_std == sd else why + f", weights {sd:g}·N(0, 1)"
    chaos = True if toy and config.chaotic_std == 1 else why + ", chaotic case weights 1·N(0, 1)"
    return [
        Claim("weight SD 0.1: the whole representation shrinks, mean norm 9.6 → 1.5", SOURCE,
              f"mean_norm_layer{d}", 1.5, 0.2, applies=at(0.1)),
        Claim("weight SD 0.1: members look identical in raw numbers — within-category distance 0.67 → 0.12", SOURCE,
              f"within_dist_layer{d}", 0.12, 0.03, applies=at(0.1)),
        Claim("weight SD 0.1: within-category correlation stays ≈ 0.995", SOURCE, f"within_corr_layer{d}", 0.995,
              0.005, applies=at(0.1)),
        Claim("weight SD 0.1: the within/between distance ratio stays ≈ 0.05 (members stay distinct relative to "
              "the categories)", SOURCE, f"dist_ratio_layer{d}", 0.05, 0.025, applies=at(0.1)),
        Claim("weight SD 1 (chaotic): within-category r falls to 0.61 at layer 5", SOURCE,
              "chaotic_within_corr_layer5", 0.61, 0.05, applies=chaos),
        Claim("weight SD 1 (chaotic): within-category r ≈ 0 at layer 20", SOURCE, f"chaotic_within_corr_layer{d}",
              0.0, 0.05, applies=chaos),
        Claim("weight SD 1 (chaotic): the categories are lost too (within/between distance ratio ≈ 1)", SOURCE,
              f"chaotic_dist_ratio_layer{d}", 1.0, 0.1, applies=chaos),
    ]


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
    strip = strip_of(config)
    timer = lambda: ctx.timed("train")  # drawing the networks and their forward passes
    measured = [
        _stack([network(case, ctx.seed + r, strip if r == 0 else None, timer)
                for r in ctx.progress(range(config.repeats), description=f"networks (weight SD {case.weight_std:g})")])
        for case in cases(config)
    ]
    return _report(config, ctx, strip, *measured)


def _report(config: Config, ctx: RunContext, strip: list[int], ours: dict, chaotic: dict | None = None) -> dict:
    """Metrics, tables, the reading and the arrays every figure is drawn from (:func:`draw`)."""
    beside = {f"chaotic_{k}": chaotic[k] for k in PER_LAYER} if chaotic else {}
    ctx.save_arrays(**{k: ours[k] for k in PER_LAYER}, **beside, strip_layers=np.array(strip),
                    strip_rdms=np.stack(ours["first_rdms"]))
    ctx.table("Mean per layer (averaged over networks; distances are Euclidean)", _layer_rows(config, ours))
    ctx.table(f"The blog's printout: the first five features of a few members (network 1), input and layer "
              f"{config.depth}", ours["printout"])
    metrics = _metrics(config, ours, "")
    if chaotic:
        metrics.update(_metrics(config, chaotic, "chaotic_"))
    ctx.note(reading(config, metrics))
    return metrics


def strip_of(config: Config) -> list[int]:
    return config.strip_layers if config.strip_layers is not None else default_strip(config.depth)


def cases(config: Config) -> list[Config]:
    """The configured weights, and the chaotic case measured beside (weight SD chaotic_std) unless it is skipped."""
    chaotic = [] if config.chaotic_std is None else [config.model_copy(update={"weight_std": config.chaotic_std})]
    return [config, *chaotic]


# sweeps: network r of the trial with seed S is the network of seed S + r, so the trials of a seed sweep S, S+1, …
# share all but one of their networks (and trials that differ in repeats share the first ones): each is measured once

BATCH_KEYS = ("seed", "repeats")


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Several trials that differ only in seed and repeats; each distinct network is drawn and measured once for the
    group. Yields each trial's metrics (or its exception) in order."""
    key = lambda case, seed: (case.model_dump_json(exclude={"seed", "repeats"}), seed)
    todo = {}  # key -> (case, seed, whether it is a trial's first network, whose RDMs and printout are kept)
    for cfg, ctx in zip(cfgs, ctxs):
        for case, r in itertools.product(cases(cfg), range(cfg.repeats)):
            k = key(case, ctx.seed + r)
            todo[k] = (case, ctx.seed + r, r == 0 or (k in todo and todo[k][2]))
    nets = {}
    for k, (case, seed, first) in ctxs[0].progress(todo.items(), description="networks"):
        try:
            nets[k] = network(case, seed, strip_of(case) if first else None, lambda: shared_time(ctxs, "train"))
        except Exception as exc:  # noqa: BLE001 - the trials that need this network fail
            nets[k] = exc
    for cfg, ctx in zip(cfgs, ctxs):
        got = [[nets[key(case, ctx.seed + r)] for r in range(cfg.repeats)] for case in cases(cfg)]
        failed = [n for ns in got for n in ns if isinstance(n, Exception)]
        try:
            yield failed[0] if failed else _report(cfg, ctx, strip_of(cfg), *map(_stack, got))
        except Exception as exc:  # noqa: BLE001 - recorded for this trial alone
            yield exc


PER_LAYER = ("within", "between", "rdm_to_input", "rdm_to_input_within", "norm", "within_dist", "between_dist")


def _layer_rows(config: Config, m: dict) -> list[dict]:
    return [
        {
            "layer": layer,
            "within r": m["within"][:, layer].mean(),
            "between r": m["between"][:, layer].mean(),
            "mean norm": m["norm"][:, layer].mean(),
            "within distance": m["within_dist"][:, layer].mean(),
            "between distance": m["between_dist"][:, layer].mean(),
            "within / between distance": (m["within_dist"][:, layer] / m["between_dist"][:, layer]).mean(),
            "RDM vs input (Spearman)": m["rdm_to_input"][:, layer].mean(),
        }
        for layer in default_strip(config.depth, 11)
    ]


def _metrics(config: Config, m: dict, prefix: str) -> dict[str, float]:
    out = {}
    for layer in sorted({0, 1, min(5, config.depth), min(10, config.depth), config.depth}):
        out[f"{prefix}within_corr_layer{layer}"] = m["within"][:, layer].mean()
        out[f"{prefix}between_corr_layer{layer}"] = m["between"][:, layer].mean()
    for layer in (0, config.depth):
        out[f"{prefix}mean_norm_layer{layer}"] = m["norm"][:, layer].mean()
        out[f"{prefix}within_dist_layer{layer}"] = m["within_dist"][:, layer].mean()
        out[f"{prefix}between_dist_layer{layer}"] = m["between_dist"][:, layer].mean()
        out[f"{prefix}dist_ratio_layer{layer}"] = (m["within_dist"][:, layer] / m["between_dist"][:, layer]).mean()
    out[f"{prefix}rdm_vs_input_last"] = m["rdm_to_input"][:, -1].mean()
    out[f"{prefix}within_rdm_vs_input_last"] = m["rdm_to_input_within"][:, -1].mean()
    return out


def reading(config: Config, metrics: dict[str, float]) -> str:
    """Which reading of "members become identical" the numbers support, computed from the metrics."""
    d = config.depth
    shrink = metrics[f"mean_norm_layer{d}"] / metrics["mean_norm_layer0"]
    ratio0, ratio = metrics["dist_ratio_layer0"], metrics[f"dist_ratio_layer{d}"]
    kept = ratio < 2 * ratio0 and ratio < 0.5 and metrics[f"within_corr_layer{d}"] > 0.9
    text = (
        f"Weight SD {config.weight_std:g}: the mean norm goes {metrics['mean_norm_layer0']:.2f} → "
        f"{metrics[f'mean_norm_layer{d}']:.2f} (× {shrink:.2f}), the within-category distance "
        f"{metrics['within_dist_layer0']:.3f} → {metrics[f'within_dist_layer{d}']:.3f}, but the within/between "
        f"distance ratio {ratio0:.3f} → {ratio:.3f} and the within-category r {metrics['within_corr_layer0']:.3f} → "
        f"{metrics[f'within_corr_layer{d}']:.3f}. "
    )
    if kept:
        text += ("Reading supported: members look identical only in raw numbers because the whole representation "
                 "shrinks; relative to the distance between categories they are as distinct as at the input.")
    else:
        text += ("Reading supported: members do become indistinguishable — their distance is no longer small "
                 "relative to the distance between categories, or their correlation is lost.")
    if "chaotic_dist_ratio_layer0" in metrics:
        text += (
            f" Chaotic case (weight SD {config.chaotic_std:g}): within-category r {metrics['chaotic_within_corr_layer0']:.3f} "
            f"→ {metrics[f'chaotic_within_corr_layer{d}']:.3f}, within/between distance ratio → "
            f"{metrics[f'chaotic_dist_ratio_layer{d}']:.2f}"
            + (" — the categories are lost too." if metrics[f"chaotic_dist_ratio_layer{d}"] > 0.8 else ".")
        )
    return text


def network(config: Config, seed: int, strip: list[int] | None = None, timer=nullcontext) -> dict:
    """The measures of the random network drawn from ``seed`` (its items and its weights), per layer ([depth + 1]
    each, names in PER_LAYER): within/between-category r, the RDM's Spearman r with the input's (overall and within
    each category), the mean norm, the mean Euclidean distance within and between categories; with ``strip`` also
    its RDMs at those layers, its categories and its printout rows. ``timer()`` times drawing it and its forward pass."""
    from priorlab.nets.deep import deep
    from priorlab.probe.rdm import compare, rdm

    out = {k: np.zeros(config.depth + 1) for k in PER_LAYER}
    with timer():
        gen = torch.Generator().manual_seed(seed)
        x, cats = items(config, gen)
        net = deep(config.width, config.depth, config.activation, bias=config.bias_std > 0, init="normal",
                   gain=config.weight_std, bias_std=config.bias_std, seed=int(torch.randint(2**62, (1,), generator=gen)))
        reps = [h.double() for h in layer_representations(net, x)]
    rdms = [rdm(h, "correlation") for h in reps]
    blocks = [torch.from_numpy(np.flatnonzero(cats == c)) for c in np.unique(cats)]  # each category's items
    for layer, (h, d) in enumerate(zip(reps, rdms)):
        out["within"][layer], out["between"][layer] = within_between(1 - d.numpy(), cats)
        out["rdm_to_input"][layer] = compare(d, rdms[0], "spearman")
        out["rdm_to_input_within"][layer] = np.mean([compare(d[i][:, i], rdms[0][i][:, i], "spearman") for i in blocks])
        out["norm"][layer] = h.norm(dim=1).mean().item()
        out["within_dist"][layer], out["between_dist"][layer] = within_between(torch.cdist(h, h).numpy(), cats)
    if strip is not None:
        out["first_rdms"], out["first_cats"] = [rdms[layer].numpy() for layer in strip], cats
        out["printout"] = printout(reps, cats, config.members)
    return out


def _stack(nets: list[dict]) -> dict:
    """The networks' measures as [networks, depth + 1] arrays, and the first network's RDMs and printout."""
    out = {k: np.stack([m[k] for m in nets]) for k in PER_LAYER}
    out.update({k: nets[0][k] for k in ("first_rdms", "first_cats", "printout")})
    return out


def printout(reps: list[torch.Tensor], cats: np.ndarray, members: int, features: int = 5) -> list[dict]:
    """The blog's printout: the first `features` numbers of members 0, 1 and the last of each category, at the input
    and at the last layer."""
    rows = []
    for where, h in (("input", reps[0]), (f"layer {len(reps) - 1}", reps[-1])):
        for c in np.unique(cats):
            first = int(np.flatnonzero(cats == c)[0])
            for i in sorted({0, 1, members - 1}):
                rows.append({"layer": where, "category": int(c) + 1, "member": i,
                             **{f"x{j + 1}": h[first + i, j].item() for j in range(features)}})
    return rows


def draw(config: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure of a run from its arrays (the per-layer measures, the first network's RDMs at the strip layers)."""
    from priorlab.viz.twocat import plot_correlation, plot_distances, plot_rdm_vs_input, plot_strips

    title = f"{config.categories} categories × {config.members} members, {config.repeats} random {config.activation} nets"
    ours = {k: arrays[k] for k in PER_LAYER}
    shown = [(f"weight SD {config.weight_std:g}", ours)]
    if config.chaotic_std is not None:
        shown.append((f"weight SD {config.chaotic_std:g} (chaotic)", {k: arrays[f"chaotic_{k}"] for k in PER_LAYER}))
    for name, plot in (("distances", plot_distances), ("correlation", plot_correlation)):
        if ctx.draws(name):
            ctx.save_figure(name, plot(shown, title))
    if ctx.draws("rdm_strip") or ctx.draws("within_strip"):
        everything, first = plot_strips(
            list(arrays["strip_rdms"]),
            arrays["strip_layers"].tolist(),
            np.repeat(np.arange(config.categories), config.members),  # the items' categories, as items() makes them
            f"RDMs (1 − Pearson r) through a random {config.activation} net, weights "
            f"{config.weight_std:g}·N(0,1), width {config.width}",
            f"Within category 1: RDMs of its {config.members} members (rank-transformed; member i has noise "
            f"SD {config.noise_step:g}·i)",
        )
        ctx.save_figure("rdm_strip", everything)
        ctx.save_figure("within_strip", first)
    if ctx.draws("rdm_vs_input"):
        ctx.save_figure("rdm_vs_input", plot_rdm_vs_input(ours["rdm_to_input"], ours["rdm_to_input_within"]))
