"""Any network, trained (or reference) vs its random self, layer by layer (Guest & Love 2017, Inception-v3).

For every layer we form the RDM (1 − Pearson r between stimuli) of the reference network and of the same
architecture with random weights, and ask how much of the input's similarity structure each keeps: the Spearman
correlation of the layer's RDM with the input's RDM. CKA(reference layer, random layer) says how alike the two
networks' representations are. RDMs come from `priorlab.probe.layerwise_analysis`, within a memory budget.

The reference is the trained network when there are weights (a local file, or `lenet` trained on digits in a few
seconds); otherwise it is the same architecture under another random seed, and the report says so.

Models come from the zoo, `priorlab.nets.zoo.build`: `lenet`, `lstm`, `torchvision:<name>` (weights=None: nothing
is downloaded), `module:<file.py or dotted.module>:<factory>`; weights from `priorlab.nets.zoo.load_weights`.
Stimuli are images (`priorlab.data.stimuli`), or sequences [N, T, F] and tables [N, F] from files
(`priorlab.data.sequences`). Layers follow the one naming rule of `priorlab.probe.capture` (repeated calls `relu@1`,
recurrent outputs per time step `lstm.0@t7`, states `lstm.h_n.0`); outputs that equal another layer's (a Flatten,
nn.Identity, the last h_n) are skipped as aliases and the report says of which. Further similarity measures
(`measures`: procrustes, cca, svcca, shape) come from the same Gram matrices as CKA; pwcca takes one more pass over
the reference for its weights on the units.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator
from torch import nn

from priorlab.config import BaseConfig, Fraction, UserError, unique_list
from priorlab.context import RunContext
from priorlab.nets.zoo import Built, build, check_input, load_weights, min_image_size

DESCRIPTION = "Any network vs its random-weight self: layer-wise RDM correlation with the input, and CKA"
ORDER = 23
CITATION = (
    "Guest, O. & Love, B. C. (2017). What the success of brain imaging implies about the neural code. "
    "eLife 6:e21397."
)
FIGURES = {
    "rdm_vs_input": "Left: Spearman correlation of each layer's RDM with the input RDM, for the reference and the "
    "random network. Right: CKA between the reference's and the random network's layer, and the Spearman "
    "correlation of their RDMs.",
    "rdms_reference": "RDMs (rank-transformed) of chosen layers of the reference network; stimuli sorted by category.",
    "rdms_random": "The same layers of the random-weight network.",
}
DEMO = [{}]


class Config(BaseConfig):
    model: str = Field("lenet", description="lenet | lstm | torchvision:<name> | module:<path>:<factory>")
    weights: str | None = Field(
        None, description="local weights file (safetensors or a torch state_dict) for the reference"
    )
    stimuli: str = Field(
        "digits",
        description="digits | samples | images:<folder> | sequences:<file.npy|.npz> ([N, T, F]) | "
        "table:<file.npy|.csv> ([N, F])",
    )
    n_stimuli: int = Field(100, ge=4, le=100_000, description="number of stimuli (N of the N×N RDMs)")
    image_size: int | None = Field(
        None, ge=4, le=2048, description="input size; default: the model's own (8, 224, 299)"
    )
    layers: list[str] | None = Field(
        None, description="module paths to compare; default: the model's natural blocks"
    )
    init: Literal["torch-default", "normal", "fan-in", "xavier", "kaiming", "orthogonal"] = Field(
        "torch-default", description="how the random network is drawn (priorlab.randomize)"
    )
    epochs: int = Field(
        15, ge=1, le=1000, description="epochs for training lenet on digits when no weights are given"
    )
    heatmap_layers: list[str] | None = Field(
        None, description="layers whose RDMs are drawn; default: 4 spread over depth"
    )
    timesteps: str = Field(
        "last",
        description="recurrent layers (RNN/LSTM/GRU) per time step: last | all | distinct steps, e.g. 0,5,-1 "
        "(negative: from the end); entries lstm.0@t5",
    )
    measures: unique_list(Literal["cka", "procrustes", "cca", "svcca", "pwcca", "shape"], min_length=0) = Field(
        [], description="similarity measures of each reference layer vs its random self beyond CKA and RDM "
        "correlation (always there); priorlab.probe.similarity"
    )
    shape_alpha: Fraction = Field(0.5, description="the shape metric's α (0: CCA-like, 1: Procrustes)")
    batch_size: int = Field(32, ge=1, le=4096, description="stimuli per forward pass")
    memory_budget_gb: float = Field(4.0, gt=0, le=1024, description="activations held at once (GiB)")

    FULL: ClassVar[dict] = {"n_stimuli": 1000}
    RENAMED: ClassVar[dict] = {"train_epochs": "epochs"}

    @field_validator("timesteps", mode="before")
    @classmethod
    def _steps_as_text(cls, v):
        """last, all, or steps (--set timesteps=0,5,-1 gives a list), kept as the text 0,5,-1."""
        from priorlab.probe.capture import check_timesteps

        steps = check_timesteps(v)
        return steps if isinstance(steps, str) else ",".join(map(str, steps))

    @model_validator(mode="after")
    def _image_size_fits_the_model(self):
        smallest = min_image_size(self.model)
        if self.image_size is not None and self.image_size < smallest:
            name = self.model.removeprefix("torchvision:")
            raise ValueError(f"image_size: {name} needs at least {smallest}, got {self.image_size}")
        return self


@dataclass
class Curves:
    """Per-layer comparison of the reference and the random network (layers in network order)."""

    names: list[str]
    input_rdm: object  # Tensor [N, N]
    rho_ref: np.ndarray  # Spearman r of each layer's RDM with the input RDM
    rho_rnd: np.ndarray
    cka: np.ndarray  # linear CKA(reference layer, random layer)
    ref_vs_rnd: np.ndarray  # Spearman r between the two networks' RDMs
    measures: dict[str, np.ndarray]  # further measures (config.measures), reference layer vs random layer


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    from priorlab.randomization import randomize

    built = build(config.model, config.image_size)
    stim = _stimuli(config, built, ctx.seed)
    reference = built.make()
    if config.layers is not None:  # check the names before any training
        _check_layers(reference, config.layers)
    check_input(reference, stim.x, built.description)

    metrics, ref_label = _make_reference(reference, built, config, ctx)
    random_net = randomize(built.make(), init=config.init, seed=ctx.seed)
    ctx.note(
        f"Random network: {built.description}, init {config.init}, seed {ctx.seed}. Stimuli: {stim.description}."
    )

    ref, rnd = _analyse(reference, stim.x, config, ctx), _analyse(random_net, stim.x, config, ctx)
    curves = _measure(ref, rnd, stim.x, _measures(reference, stim.x, ref, rnd, config, ctx))
    _note_aliases(ctx, ref, rnd)
    heat = _heatmap_layers(config, curves.names)
    labels = {} if stim.labels is None else {"labels": np.array(stim.labels)}
    ctx.save_arrays(
        layers=np.array(curves.names),
        rdm_vs_input_reference=curves.rho_ref,
        rdm_vs_input_random=curves.rho_rnd,
        cka=curves.cka,
        rdm_reference_vs_random=curves.ref_vs_rnd,
        input_rdm=curves.input_rdm.numpy(),
        **labels,
        **curves.measures,
        **{f"rdm_reference/{n}": ref.rdms[n].numpy() for n in heat},
        **{f"rdm_random/{n}": rnd.rdms[n].numpy() for n in heat},
    )
    _figures(ctx, config, curves, ref, rnd, heat, stim.labels, ref_label)
    _table(ctx, curves, ref.features, ref_label)
    metrics.update(
        layers=len(curves.names),
        passes=ref.passes,
        rdm_vs_input_reference_mean=curves.rho_ref.mean(),
        rdm_vs_input_random_mean=curves.rho_rnd.mean(),
        rdm_vs_input_reference_last=curves.rho_ref[-1],
        rdm_vs_input_random_last=curves.rho_rnd[-1],
        cka_mean=curves.cka.mean(),
        cka_last=curves.cka[-1],
        reference_is_trained=float(ref_label == "trained"),
    )
    for m, values in curves.measures.items():
        metrics.update({f"{m}_mean": values.mean(), f"{m}_last": values[-1]})
    return metrics


# ---------------------------------------------------------------------------------------------- prepare
def _stimuli(config: Config, built: Built, seed: int):
    """Images from priorlab.data.stimuli, or sequences/tables from a file (priorlab.data.sequences)."""
    from priorlab.data.sequences import FILE_KINDS, file_stimuli
    from priorlab.data.stimuli import Stimuli, stimuli

    if config.stimuli.startswith(FILE_KINDS):
        return Stimuli(*file_stimuli(config.stimuli, config.n_stimuli, seed))
    return stimuli(config.stimuli, config.n_stimuli, built.image_size, built.channels, seed=seed)


def _check_layers(model: nn.Module, layers: list[str]) -> None:
    from priorlab.probe.capture import resolve_layers

    try:
        resolve_layers(model, layers)
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None


def _make_reference(reference: nn.Module, built: Built, config: Config, ctx: RunContext) -> tuple[dict, str]:
    """Trained weights (a file, or lenet trained on digits), else the architecture under another seed.
    Returns the metrics so far and the reference's label."""
    from priorlab.randomization import randomize

    if config.weights is not None:
        load_weights(reference, config.weights)
        ctx.note(f"Reference: {built.description} with the weights in {config.weights}.")
        return {}, "trained"
    if config.model == "lenet":
        from priorlab.data.digits import digits
        from priorlab.train.classify import fit_classifier

        split = digits(flatten=False, image_size=built.image_size, seed=ctx.seed)
        acc = fit_classifier(
            reference, split, epochs=config.epochs, seed=ctx.seed, device=ctx.device, progress=ctx.progress
        )
        ctx.save_model(reference, "reference")
        ctx.note(
            f"Reference: {built.description} trained on scikit-learn digits for {config.epochs} epochs "
            f"(test accuracy {acc:.3f})."
        )
        return {"acc_reference": acc}, "trained"
    randomize(reference, init=config.init, seed=ctx.seed + 1)
    ctx.note(
        f"No trained weights for {built.description}: the reference is the same architecture with "
        f"another random draw (init {config.init}, seed {ctx.seed + 1}), so the two curves show the spread "
        f"between random draws, not the effect of training. Give --set weights=<file> to compare a trained net."
    )
    return {}, "other seed"


# ---------------------------------------------------------------------------------------------- measure
def _analysis(config: Config, ctx: RunContext) -> dict:
    """The keyword arguments of every layer-wise pass (the same for both networks)."""
    return dict(
        layers=config.layers,
        memory_budget=int(config.memory_budget_gb * 2**30),
        batch_size=config.batch_size,
        device=ctx.device,
        timesteps=config.timesteps,
        # measures beyond CKA need small directions resolved: float64 Gram products
        gram_dtype=torch.float64 if set(config.measures) - {"cka"} else None,
    )


def _analyse(model: nn.Module, x, config: Config, ctx: RunContext, fn=None, **extra):
    """Layer-wise RDMs and Gram matrices within the memory budget (or `fn`, another pass over the layers with the
    same arguments); skipped outputs are logged."""
    from priorlab.probe.layerwise import layerwise_analysis

    model.to(ctx.device).eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if fn is None:
                res = layerwise_analysis(model, x, metric="correlation", keep_grams=True, **_analysis(config, ctx))
            else:
                res = fn(model, x, **extra, **_analysis(config, ctx))
        except ValueError as exc:
            if "layers" in str(exc):
                raise UserError(str(exc).splitlines()[0]) from None
            raise
    for w in caught:
        ctx.log(str(w.message))
    return res


def _measures(reference: nn.Module, x, ref, rnd, config: Config, ctx: RunContext) -> dict[str, dict[str, float]]:
    """{measure: {layer: value}} of each reference layer vs its random self, for config.measures beyond CKA."""
    from priorlab.probe.layerwise import paired_pwcca, paired_similarity

    out = {}
    for m in config.measures:
        if m == "pwcca":  # weights on the reference's units: one more pass over the reference
            out[m] = _analyse(reference, x, config, ctx, paired_pwcca, a=ref, b=rnd)
        elif m != "cka":
            out[m] = paired_similarity(ref, rnd, m, **({"alpha": config.shape_alpha} if m == "shape" else {}))
    return out


def _measure(ref, rnd, x, measures: dict[str, dict[str, float]]) -> Curves:
    from priorlab.probe.cka import cka_gram
    from priorlab.probe.rdm import compare, rdm

    names = [n for n in ref.rdms if n in rnd.rdms]
    if not names:
        raise UserError("layers: none of the chosen layers gives a batch-first output to compare")
    input_rdm = rdm(x.double())
    return Curves(
        names,
        input_rdm,
        rho_ref=np.array([compare(ref.rdms[n], input_rdm) for n in names]),
        rho_rnd=np.array([compare(rnd.rdms[n], input_rdm) for n in names]),
        cka=np.array([cka_gram(ref.grams[n].double(), rnd.grams[n].double()) for n in names]),
        ref_vs_rnd=np.array([compare(ref.rdms[n], rnd.rdms[n]) for n in names]),
        measures={m: np.array([values[n] for n in names]) for m, values in measures.items()},
    )


def _note_aliases(ctx: RunContext, ref, rnd) -> None:
    """Say which outputs were skipped because they equal another layer's (in either network)."""
    aliases = {**rnd.aliases, **ref.aliases}
    if aliases:
        said = ", ".join(f"{a} (= {b})" for a, b in aliases.items())
        ctx.note(f"Skipped as aliases, the same values as an earlier layer or the input: {said}.")


def _heatmap_layers(config: Config, names: list[str]) -> list[str]:
    heat = config.heatmap_layers or [
        names[i] for i in sorted(set(np.linspace(0, len(names) - 1, 4).round().astype(int)))
    ]
    missing = [h for h in heat if h not in names]
    if missing:
        raise UserError(
            f"heatmap_layers: '{missing[0]}' is not one of the compared layers ({', '.join(names[:8])}, …)"
        )
    return heat


# ---------------------------------------------------------------------------------------------- report
def _figures(ctx: RunContext, config: Config, curves: Curves, ref, rnd, heat, labels, ref_label: str) -> None:
    from priorlab.viz.rsa import plot_layer_curves, plot_layer_rdms

    title = f"{config.model}: how much input structure each layer keeps"
    c = curves
    ctx.save_figure(
        "rdm_vs_input", plot_layer_curves(title, c.names, c.rho_ref, c.rho_rnd, c.cka, c.ref_vs_rnd, ref_label)
    )
    who = f"reference ({ref_label})"
    ctx.save_figure("rdms_reference", plot_layer_rdms(who, c.input_rdm, ref.rdms, heat, labels))
    ctx.save_figure("rdms_random", plot_layer_rdms("random-weight", c.input_rdm, rnd.rdms, heat, labels))


def _table(ctx: RunContext, c: Curves, features: dict, ref_label: str) -> None:
    ctx.table(
        "Per layer",
        [
            {
                "layer": n,
                "features": features.get(n, ""),
                f"RDM vs input: reference ({ref_label})": a,
                "RDM vs input: random": b,
                "CKA(reference, random)": k,
                "RDM reference vs random": d,
                **{f"{m}(reference, random)": values[i] for m, values in c.measures.items()},
            }
            for i, (n, a, b, k, d) in enumerate(zip(c.names, c.rho_ref, c.rho_rnd, c.cka, c.ref_vs_rnd))
        ],
    )
