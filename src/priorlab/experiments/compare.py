"""Any network, trained (or reference) vs the distribution of its random selves, layer by layer (Guest & Love 2017).

Per layer, how well a network's RDM (`rdm_metric`) matches the target RDM (`target`: the input's, the categories' or
measured RDMs) under `compare_method`: the reference (trained weights, lenet trained on digits, else another random
draw) with a bootstrap CI over stimuli, against the band of `random_inits` random draws, its p corrected across
layers (`priorlab.stats`); CKA and `measures` compare each reference layer with the same layer of every draw;
`measure=distortion` adds Guest & Love's smoothness protocol (`priorlab.probe.distortion`). A sweep over seeds runs
as one group (run_many): every draw of the trials' seeds is analysed once and scored for each trial that has it.
"""

from __future__ import annotations

import functools
import random
import warnings
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator
from torch import nn

from priorlab.config import BaseConfig, BatchSize, Fraction, UserError, unique_list
from priorlab.context import RunContext
from priorlab.nets.zoo import Built, build, check_input, load_weights, min_image_size
from priorlab.stats import baseline
from priorlab.stats.claims import Claim
from priorlab.viz.rsa import CAPTIONS, draw_compare

DESCRIPTION = "Any network vs the band of its random-weight selves: layer-wise RSA with CIs, p-values and a verdict"
ORDER = 23
CITATION = (
    "Guest, O. & Love, B. C. (2017). What the success of brain imaging implies about the neural code. "
    "eLife 6:e21397."
)
QUESTION = "Which layers of this network are what training made, and which are what the architecture alone gives?"
KEY_FIGURE = "rdm_vs_target"
FIGURES = CAPTIONS  # captions live beside the figures (viz/rsa.py)
DEMO = [{}, {"target": "category"}]
TARGET = "input | category | rdms:<file.npy> ([S, N, N]) | rdms:<file.hdf5> (rsatoolbox RDMs)"


class Config(BaseConfig):
    model: str = Field("lenet", description="lenet | lstm | torchvision:<name> | module:<path>:<factory>")
    weights: str | None = Field(None, description="local weights file (safetensors or a torch state_dict)")
    stimuli: str = Field("digits", description="digits | samples | images:<folder> | sequences:<file.npy|.npz> "
                         "([N, T, F]) | table:<file.npy|.csv> ([N, F])")
    n_stimuli: int = Field(100, ge=4, le=100_000, description="number of stimuli (N of the N×N RDMs)")
    stimulus_seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the stimulus sample (not --seed)")
    augment: bool = Field(False, description="allow more stimuli than image files (random crops of them)")
    image_size: int | None = Field(None, ge=4, le=2048, description="input size; default: the model's own")
    layers: list[str] | None = Field(None, description="module paths to compare; default: the natural blocks")
    init: Literal["torch-default", "normal", "fan-in", "xavier", "kaiming", "orthogonal"] = Field(
        "torch-default", description="how the random networks are drawn (priorlab.randomize)")
    random_inits: int = Field(10, ge=2, le=10_000, description="random networks drawn (seeds seed, seed+1, …)")
    rdm_metric: Literal["correlation", "cosine", "euclidean", "sqeuclidean"] = Field(
        "correlation", description="the RDMs' dissimilarity (priorlab.probe.rdm)")
    compare_method: Literal["pearson", "spearman", "kendall_a", "cosine"] = Field(
        "spearman", description="how an RDM is compared with the target (priorlab.probe.compare)")
    target: str = Field("input", description=TARGET)
    measure: Literal["rsa", "distortion"] = Field("rsa", description="distortion: also the smoothness protocol")
    distortion_levels: int = Field(20, ge=2, le=200, description="noise levels of measure=distortion (SD 0.05·k)")
    n_boot: int = Field(1000, ge=10, le=100_000, description="bootstrap resamples of stimuli for the CIs")
    null_test: Literal["gaussian", "empirical"] = Field("gaussian", description="p of the reference vs the draws")
    correction: Literal["holm", "fdr_bh"] = Field("holm", description="correction across layers")
    epochs: int = Field(15, ge=1, le=1000, description="epochs for training lenet on digits when no weights")
    heatmap_layers: list[str] | None = Field(None, description="layers whose RDMs are drawn; default: 4")
    timesteps: str = Field(
        "last", description="recurrent layers per time step: last | all | steps, e.g. 0,5,-1; entries lstm.0@t5")
    measures: unique_list(Literal["cka", "procrustes", "cca", "svcca", "pwcca", "shape"], min_length=0) = Field(
        [], description="similarity of each reference layer vs its first random draw beyond CKA (probe.similarity)")
    shape_alpha: Fraction = Field(0.5, description="the shape metric's α (0: CCA-like, 1: Procrustes)")
    batch_size: BatchSize = Field(32, description="stimuli per forward pass")
    memory_budget_gb: float = Field(4.0, gt=0, le=1024, description="activations held at once (GiB)")

    FULL: ClassVar[dict] = {"n_stimuli": 1000, "random_inits": 50}
    RENAMED: ClassVar[dict] = {"train_epochs": "epochs"}

    @field_validator("timesteps", mode="before")
    @classmethod
    def _steps_as_text(cls, v):
        """last, all, or steps (--set timesteps=0,5,-1 gives a list), kept as the text 0,5,-1."""
        from priorlab.probe.capture import check_timesteps

        steps = check_timesteps(v)
        return steps if isinstance(steps, str) else ",".join(map(str, steps))

    @field_validator("target")
    @classmethod
    def _known_target(cls, v: str) -> str:
        if v in ("input", "category") or (v.startswith("rdms:") and len(v) > 5):
            return v
        raise ValueError(f"invalid target '{v}' (allowed: {TARGET})")

    @model_validator(mode="after")
    def _image_size_fits_the_model(self):
        smallest = min_image_size(self.model)
        if self.image_size is not None and self.image_size < smallest:
            name = self.model.removeprefix("torchvision:")
            raise ValueError(f"image_size: {name} needs at least {smallest}, got {self.image_size}")
        return self


def setup(config: Config) -> str:
    ref = "the weights in " + config.weights if config.weights else (
        f"LeNet trained on digits for {config.epochs} epochs" if config.model == "lenet" else "another random draw")
    return (f"{config.model} ({ref}) against {config.random_inits} random draws (init {config.init}) on "
            f"{config.n_stimuli} stimuli ({config.stimuli}, stimulus seed {config.stimulus_seed}); {config.rdm_metric}"
            f" RDMs vs the {config.target} RDM by {config.compare_method}, {config.n_boot} bootstrap resamples, "
            f"{config.null_test} p, {config.correction} across layers" +
            (f"; distortion protocol at {config.distortion_levels} noise levels." if config.measure == "distortion"
             else "."))


def claims(config: Config) -> list[Claim]:
    trained = config.weights is not None or config.model == "lenet"
    src = "Guest & Love 2017 (eLife): random weights keep similar inputs similar"
    on_input = True if config.target == "input" else "the claim is about the input's RDM (target=input)"
    out = [
        Claim("A random network keeps the input's similarity structure in its first layer", source=src,
              metric="rdm_vs_target_random_first", expected=(0.5, 1.0), applies=on_input),
        Claim("Random weights lose input structure with depth: the last layer's r is below the first layer's",
              source=src, metric=lambda m: m["rdm_vs_target_random_first"] - m["rdm_vs_target_random_last"],
              expected=(0.05, 1.0), applies=on_input, label="random first − last"),
    ]
    if trained:
        out.append(Claim("Training on labels makes the last layer more categorical than every random draw "
                         "(corrected p < 0.05)", source="the question of Guest & Love 2017; this run's tests",
                         metric="p_corrected_last", expected=(0.0, 0.05),
                         applies=True if config.target == "category" else "needs target=category"))
    else:
        out.append(Claim("Another random draw lies inside the random band at every layer (no layer differs)",
                         source="calibration of the test: false positives ≤ 5 % (Holm)", metric="layers_changed",
                         expected=0.0))
    if config.measure == "distortion":
        unit = config.init == "normal"
        out += [
            Claim("r falls with distortion at every layer of the random network", source="Guest & Love 2017, Fig. 2A",
                  metric="distortion_drop_random_min", expected=(0.01, 2.0)),
            Claim("r falls faster in deeper layers: at the strongest distortion the last layer's r is below the first"
                  " layer's (study: 0.57 after one tanh layer, 0.04 after eight)", source="Guest & Love 2017, Fig. 2A",
                  metric="distortion_fall_random", expected=(0.05, 1.0),
                  applies=True if unit else "the study's networks have unit-variance weights (init=normal)"),
        ]
    return out


@dataclass
class Trial:
    """One trial of a group: its reference network and layer-wise analysis, and the seeds of its K random draws."""

    config: Config
    ctx: RunContext
    reference: nn.Module
    metrics: dict
    label: str
    ref: object  # the reference's LayerwiseResult
    seeds: list[int]
    names: list[str]


BATCH_KEYS = ("seed",)


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    (out,) = list(run_many([config], [ctx]))
    if isinstance(out, BaseException):
        raise out
    return out


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Trials that differ in seed, as one group: the stimuli and targets once, each trial's reference (trained on its
    seed), then the random draws of all the trials' seeds at once (each draw analysed once and scored for every trial
    whose K draws include it; `priorlab.stats.baseline.DrawScores` ranks the draws' RDMs together). Yields each
    trial's metrics (or its exception) in order."""
    from priorlab.context import shared_time
    from priorlab.data.stimuli import target_rdms

    config = cfgs[0]
    try:
        built = build(config.model, config.image_size)
        stim = _stimuli(config, built)
        made = functools.cache(lambda: target_rdms(config.target, stim, config.rdm_metric))  # once, as a run checks it
    except Exception as exc:  # noqa: BLE001 - the same config: every trial fails alike
        yield from [exc] * len(cfgs)
        return
    trials = []
    for cfg, ctx in zip(cfgs, ctxs):
        try:
            trials.append(_trial(built, stim, made, cfg, ctx))
        except Exception as exc:  # noqa: BLE001 - recorded for this trial alone
            trials.append(exc)
    ok = [t for t in trials if isinstance(t, Trial)]
    targets, input_rdm = made() if ok else (None, None)
    curves = (lambda model, names: _curves(model, stim.x, names, config)) if config.measure == "distortion" else None
    with shared_time([t.ctx for t in ok], "measure"):  # the draws of all the trials' seeds, each analysed once
        draws = dict(zip(map(id, ok), baseline.group_draws(
            built.make().to(ctxs[0].device), [(t.ref, t.names, t.seeds) for t in ok], targets, config.compare_method,
            config.init, lambda model: _analyse(model, stim.x, config, ctxs[0]), curves, ctxs[0].progress)))
    for t in trials:
        try:
            yield t if isinstance(t, BaseException) else _finish(t, draws[id(t)], stim, targets, input_rdm)
        except Exception as exc:  # noqa: BLE001 - recorded for this trial alone
            yield exc


def _trial(built: Built, stim, targets, config: Config, ctx: RunContext) -> Trial:
    """The trial's reference (made under its seed, as a run alone makes it) and its layer-wise analysis."""
    random.seed(ctx.seed), np.random.seed(ctx.seed % 2**32), torch.manual_seed(ctx.seed)  # as a run alone is seeded
    reference = built.make()
    if config.layers is not None:  # check the names before any training
        _check_layers(reference, config.layers)
    check_input(reference, stim.x, built.description)
    targets()  # a bad target is refused before training
    with ctx.timed("train"):
        metrics, label = _make_reference(reference, built, config, ctx)
    ctx.note(f"Stimuli: {stim.description} (stimulus seed {config.stimulus_seed}). Random networks: "
             f"{config.random_inits} draws of {built.description}, init {config.init}, seeds {ctx.seed}, …")
    ref = _analyse(reference, stim.x, config, ctx)
    return Trial(config, ctx, reference, metrics, label, ref, list(range(ctx.seed, ctx.seed + config.random_inits)),
                 list(ref.rdms))


def _finish(t: Trial, draws, stim, targets, input_rdm) -> dict[str, float]:
    """The trial's tests against its draws, its metrics, notes, tables and arrays."""
    from priorlab.probe.layerwise import paired_pwcca
    from priorlab.viz.rsa import save_compare_report

    config, ctx, ref, metrics, names = t.config, t.ctx, t.ref, dict(t.metrics), t.names
    keep = baseline.defined_layers(names, draws)
    names = [names[i] for i in keep]
    test = baseline.layer_test({n: ref.rdms[n] for n in names}, draws.score[:, keep], targets, config.compare_method,
                      config.n_boot, ctx.seed, config.null_test, config.correction)
    if aliases := {**draws.first.aliases, **ref.aliases}:
        said = ", ".join(f"{a} (= {b})" for a, b in aliases.items())
        ctx.note(f"Skipped as aliases, the same values as an earlier layer or the input: {said}.")
    ctx.note(baseline.verdict_sentence(test, t.label))
    metrics.update(baseline.summary_metrics(test, draws.cka[:, keep], draws.ref_vs_rnd[:, keep]))
    ceiling, found, said = baseline.target_ceiling(targets, config.compare_method)  # measured RDMs: noise ceiling
    metrics.update(found)
    ctx.notes += [said] if said else []
    dist = None
    if draws.distortion is not None:
        dist = _curves(t.reference, stim.x, names, config), draws.distortion[:, :, keep]
        metrics.update(baseline.distortion_metrics(*dist))
    found = baseline.paired_measures(config.measures, ref, draws.first, shape_alpha=config.shape_alpha, pwcca=lambda:
                                     _analyse(t.reference, stim.x, config, ctx, paired_pwcca, a=ref, b=draws.first))
    measures = {m: np.array([v[n] for n in names]) for m, v in found.items()}
    metrics.update({f"{m}_{w}": float(f(v)) for m, v in measures.items() for w, f in (("mean", np.mean),
                                                                                      ("last", lambda v: v[-1]))})
    save_compare_report(ctx, config, test, ref, draws.first, draws.cka[:, keep], draws.ref_vs_rnd[:, keep],
                        stim, input_rdm, t.label, ceiling, dist, measures)
    metrics.update(passes=ref.passes, random_inits=config.random_inits)
    return metrics


def draw(cfg: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    draw_compare(cfg, arrays, ctx, _label(cfg))  # every figure from the run's arrays


def _label(config: Config) -> str:
    return "trained" if config.weights is not None or config.model == "lenet" else "other seed"


# ---------------------------------------------------------------------------------------------- prepare
def _stimuli(config: Config, built: Built):
    """Images from priorlab.data.load_stimuli, or sequences/tables from a file (priorlab.data.sequences)."""
    from priorlab.data.sequences import FILE_KINDS, file_stimuli
    from priorlab.data.stimuli import Stimuli, load_stimuli

    if config.stimuli.startswith(FILE_KINDS):
        return Stimuli(*file_stimuli(config.stimuli, config.n_stimuli, config.stimulus_seed))
    return load_stimuli(config.stimuli, config.n_stimuli, built.image_size, built.channels,
                        seed=config.stimulus_seed, augment=config.augment)


def _check_layers(model: nn.Module, layers: list[str]) -> None:
    from priorlab.probe.capture import resolve_layers

    try:
        resolve_layers(model, layers)
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None


def _make_reference(reference: nn.Module, built: Built, config: Config, ctx: RunContext) -> tuple[dict, str]:
    """Trained weights (a file, or lenet trained on digits), else the architecture under a seed no draw has.
    Returns the metrics so far and the reference's label."""
    from priorlab.randomization import randomize

    if config.weights is not None:
        load_weights(reference, config.weights)
        ctx.note(f"Reference: {built.description} with the weights in {config.weights}.")
        return {"reference_is_trained": 1.0}, "trained"
    if config.model == "lenet":
        from priorlab.data.digits import digits
        from priorlab.train.classify import fit_classifier

        split = digits(flatten=False, image_size=built.image_size, seed=ctx.seed)
        acc = fit_classifier(
            reference, split, epochs=config.epochs, seed=ctx.seed, device=ctx.device, progress=ctx.progress
        )
        ctx.save_model(reference, "reference")
        ctx.note(f"Reference: {built.description} trained on scikit-learn digits for {config.epochs} epochs "
                 f"(test accuracy {acc:.3f}).")
        return {"acc_reference": acc, "reference_is_trained": 1.0}, "trained"
    seed = ctx.seed + config.random_inits
    randomize(reference, init=config.init, seed=seed)
    ctx.note(f"No trained weights for {built.description}: the reference is one more random draw (init "
             f"{config.init}, seed {seed}), so its tests check the band, not the effect of training. Give --set "
             "weights=<file> to compare a trained net.")
    return {"reference_is_trained": 0.0}, _label(config)


# ---------------------------------------------------------------------------------------------- measure
def _analyse(model: nn.Module, x, config: Config, ctx: RunContext, fn=None, **extra):
    """Layer-wise RDMs and Gram matrices within the memory budget (or `fn`, another pass over the layers with the
    same arguments); skipped outputs are logged."""
    from priorlab.probe.layerwise import layerwise_analysis

    kw = dict(layers=config.layers, memory_budget=int(config.memory_budget_gb * 2**30), batch_size=config.batch_size,
              device=ctx.device, timesteps=config.timesteps,
              gram_dtype=torch.float64 if set(config.measures) - {"cka"} else None)  # small directions: float64
    model.to(ctx.device).eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if fn is None:
                res = layerwise_analysis(model, x, metric=config.rdm_metric, keep_grams=True, **kw)
            else:
                res = fn(model, x, **extra, **kw)
        except ValueError as exc:
            if "layers" in str(exc):
                raise UserError(str(exc).splitlines()[0]) from None
            raise
    for w in caught:
        ctx.log(str(w.message))
    return res


def _curves(model: nn.Module, x, names, config: Config) -> np.ndarray:
    return baseline.distortion_rows(model, x, names, config.distortion_levels, config.layers, config.stimulus_seed,
                           config.batch_size, config.timesteps)

