"""Any network, trained (or reference) vs its random self, layer by layer (Guest & Love 2017, Inception-v3).

For every layer we form the RDM (1 − Pearson r between stimuli) of the reference network and of the same
architecture with random weights, and ask how much of the input's similarity structure each keeps: the Spearman
correlation of the layer's RDM with the input's RDM. CKA(reference layer, random layer) says how alike the two
networks' representations are. RDMs come from `priorlab.probe.layerwise_analysis`, within a memory budget.

The reference is the trained network when there are weights (a local file, or `lenet` trained on digits in a few
seconds); otherwise it is the same architecture under another random seed, and the report says so.

Models: `lenet` (priorlab.nets.lenet), `lstm` (a small LSTM reading an image row by row), `torchvision:<name>`
(built with weights=None: nothing is downloaded; auxiliary heads off), `module:<file.py or dotted.module>:<factory>`
(a function of no arguments returning an nn.Module; the module's `input_shape` attribute, (C, H, W), is used when
present).
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, UserError
from priorlab.context import RunContext

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

TORCHVISION_EXTRA = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}
TORCHVISION_SIZE = {"inception_v3": 299}


class Config(BaseConfig):
    model: str = Field("lenet", description="lenet | lstm | torchvision:<name> | module:<path>:<factory>")
    weights: str | None = Field(
        None, description="local weights file (safetensors or a torch state_dict) for the reference"
    )
    stimuli: str = Field("digits", description="digits | samples | images:<folder>")
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
    train_epochs: int = Field(
        15, ge=1, le=1000, description="epochs for training lenet on digits when no weights are given"
    )
    heatmap_layers: list[str] | None = Field(
        None, description="layers whose RDMs are drawn; default: 4 spread over depth"
    )
    batch_size: int = Field(32, ge=1, le=4096, description="stimuli per forward pass")
    memory_budget_gb: float = Field(4.0, gt=0, le=1024, description="activations held at once (GiB)")

    FULL: ClassVar[dict] = {"n_stimuli": 1000}


@dataclass
class Built:
    """A network builder and what it expects as input."""

    make: object  # () -> nn.Module (fresh, untrained)
    channels: int
    image_size: int
    description: str


# ---------------------------------------------------------------------------------------------- models
class Rows(nn.Module):
    """[N, C, H, W] images -> [N, H, C·W] sequences: one row per time step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 1, 3).flatten(2)


class LastStep(nn.Module):
    """The LSTM's output sequence [N, T, H] -> its last step [N, H]."""

    def forward(self, out) -> torch.Tensor:
        return out[0][:, -1] if isinstance(out, tuple) else out[:, -1]


class RowLSTM(nn.Module):
    """Two single-layer LSTMs reading an image row by row, and a linear readout of the last step."""

    def __init__(self, image_size: int = 8, channels: int = 1, hidden: int = 64, n_classes: int = 10):
        super().__init__()
        self.rows = Rows()
        self.lstm1 = nn.LSTM(channels * image_size, hidden, batch_first=True)
        self.lstm2 = nn.LSTM(hidden, hidden, batch_first=True)
        self.last = LastStep()
        self.readout = nn.Linear(hidden, n_classes)
        self.input_shape = (channels, image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm1(self.rows(x))
        h, _ = self.lstm2(h)
        return self.readout(self.last(h))


def build(spec: str, image_size: int | None) -> Built:
    """Parse `model` into a builder; raises UserError naming `model`."""
    if spec == "lenet":
        from priorlab.nets.lenet import lenet

        size = image_size or 8
        return Built(lambda: lenet(image_size=size), 1, size, f"LeNet for {size}×{size} grey images")
    if spec == "lstm":
        size = image_size or 8
        return Built(lambda: RowLSTM(size), 1, size, f"2-layer LSTM reading {size}×{size} images row by row")
    if spec.startswith("torchvision:"):
        import torchvision

        name = spec.removeprefix("torchvision:")
        if name not in torchvision.models.list_models():
            raise UserError(
                f"model: torchvision has no model '{name}' (e.g. googlenet, inception_v3, resnet18, alexnet)"
            )
        size = image_size or TORCHVISION_SIZE.get(name, 224)
        kw = TORCHVISION_EXTRA.get(name, {})
        return Built(
            lambda: torchvision.models.get_model(name, weights=None, **kw),
            3,
            size,
            f"torchvision {name} (weights=None)",
        )
    if spec.startswith("module:"):
        path, sep, factory_name = spec.removeprefix("module:").rpartition(":")
        if not sep or not path or not factory_name:
            raise UserError(f"model: expected module:<file.py or dotted.module>:<factory>, got '{spec}'")
        factory = _load_factory(path, factory_name)
        probe = _call_factory(factory, spec)
        channels, size = 3, 224
        if hasattr(probe, "input_shape"):
            channels, size = int(probe.input_shape[0]), int(probe.input_shape[-1])
        size = image_size or size
        return Built(lambda: _call_factory(factory, spec), channels, size, f"{factory_name} from {path}")
    raise UserError(
        f"invalid model '{spec}' (allowed: lenet, lstm, torchvision:<name>, module:<path>:<factory>)"
    )


def _load_factory(path: str, name: str):
    try:
        if path.endswith(".py"):
            file = Path(path).expanduser()
            if not file.is_file():
                raise UserError(f"model: no such file '{path}'")
            spec = importlib.util.spec_from_file_location(f"priorlab_user_{file.stem}", file)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(path)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code: any failure is the user's input
        raise UserError(f"model: cannot import '{path}' ({exc.__class__.__name__}: {exc})") from None
    if not callable(getattr(module, name, None)):
        raise UserError(f"model: '{path}' has no function '{name}'")
    return getattr(module, name)


def _call_factory(factory, spec: str) -> nn.Module:
    model = factory()
    if not isinstance(model, nn.Module):
        raise UserError(f"model: the factory in '{spec}' returned {type(model).__name__}, not an nn.Module")
    return model


def load_weights(model: nn.Module, path: str) -> None:
    """Load a local safetensors or torch state_dict file (weights_only) into `model`; UserError naming `weights`."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"weights: no such file '{path}'")
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(file))
        else:
            state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file is bad user input
        raise UserError(
            f"weights: cannot read '{path}' as safetensors or a weights-only torch file "
            f"({exc.__class__.__name__})"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"weights: '{path}' does not hold a state_dict (got {type(state).__name__})")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        lines = str(exc).splitlines() or [""]
        detail = lines[min(1, len(lines) - 1)].strip()[
            :200
        ]  # e.g. 'Missing key(s) in state_dict: "conv1.weight", …'
        raise UserError(f"weights: '{path}' does not fit the model ({detail})") from None


# ---------------------------------------------------------------------------------------------- run
def run(config: Config, ctx: RunContext) -> dict[str, float]:
    from priorlab.data.stimuli import stimuli
    from priorlab.probe.cka import cka_gram
    from priorlab.probe.layerwise import layerwise_analysis
    from priorlab.probe.rdm import compare, rdm
    from priorlab.randomization import randomize

    built = build(config.model, config.image_size)
    if config.model == "torchvision:inception_v3" and built.image_size < 75:
        raise UserError(f"image_size: inception_v3 needs at least 75, got {built.image_size}")
    stim = stimuli(config.stimuli, config.n_stimuli, built.image_size, built.channels, seed=ctx.seed)
    reference = built.make()
    if config.layers is not None:  # check the names before any training
        from priorlab.probe.capture import resolve_layers

        try:
            resolve_layers(reference, config.layers)
        except ValueError as exc:
            raise UserError(str(exc).splitlines()[0]) from None

    # the reference: trained weights (file, or lenet on digits), else the architecture under another seed
    metrics: dict[str, float] = {}
    if config.weights is not None:
        load_weights(reference, config.weights)
        ref_label = "trained"
        ctx.note(f"Reference: {built.description} with the weights in {config.weights}.")
    elif config.model == "lenet":
        from priorlab.data.digits import digits
        from priorlab.train.classify import fit_classifier

        split = digits(flatten=False, image_size=built.image_size, seed=ctx.seed)
        metrics["reference_test_accuracy"] = fit_classifier(
            reference,
            split,
            epochs=config.train_epochs,
            seed=ctx.seed,
            device=ctx.device,
            progress=ctx.progress,
        )
        ctx.save_model(reference, "reference")
        ref_label = "trained"
        ctx.note(
            f"Reference: {built.description} trained on scikit-learn digits for {config.train_epochs} epochs "
            f"(test accuracy {metrics['reference_test_accuracy']:.3f})."
        )
    else:
        randomize(reference, init=config.init, seed=ctx.seed + 1)
        ref_label = "other seed"
        ctx.note(
            f"No trained weights for {built.description}: the reference is the same architecture with "
            f"another random draw (init {config.init}, seed {ctx.seed + 1}), so the two curves show the spread "
            f"between random draws, not the effect of training. Give --set weights=<file> to compare a trained net."
        )
    random_net = randomize(built.make(), init=config.init, seed=ctx.seed)
    ctx.note(
        f"Random network: {built.description}, init {config.init}, seed {ctx.seed}. Stimuli: {stim.description}."
    )

    def analyse(model: nn.Module):
        model.to(ctx.device).eval()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = layerwise_analysis(
                    model,
                    stim.x,
                    layers=config.layers,
                    metric="correlation",
                    keep_grams=True,
                    memory_budget=int(config.memory_budget_gb * 2**30),
                    batch_size=config.batch_size,
                    device=ctx.device,
                )
            except ValueError as exc:
                if "layers" in str(exc):
                    raise UserError(str(exc).splitlines()[0]) from None
                raise
        for w in caught:
            ctx.log(str(w.message))
        return res

    ref, rnd = analyse(reference), analyse(random_net)
    names = [n for n in ref.rdms if n in rnd.rdms]
    if not names:
        raise UserError("layers: none of the chosen layers gives a batch-first output to compare")
    input_rdm = rdm(stim.x.double())
    rho_ref = np.array([compare(ref.rdms[n], input_rdm) for n in names])
    rho_rnd = np.array([compare(rnd.rdms[n], input_rdm) for n in names])
    cka = np.array([cka_gram(ref.grams[n].double(), rnd.grams[n].double()) for n in names])
    ref_vs_rnd = np.array([compare(ref.rdms[n], rnd.rdms[n]) for n in names])

    heat = config.heatmap_layers or [
        names[i] for i in sorted(set(np.linspace(0, len(names) - 1, 4).round().astype(int)))
    ]
    missing = [h for h in heat if h not in names]
    if missing:
        raise UserError(
            f"heatmap_layers: '{missing[0]}' is not one of the compared layers ({', '.join(names[:8])}, …)"
        )
    ctx.save_arrays(
        layers=np.array(names),
        rdm_vs_input_reference=rho_ref,
        rdm_vs_input_random=rho_rnd,
        cka=cka,
        rdm_reference_vs_random=ref_vs_rnd,
        input_rdm=input_rdm.numpy(),
        labels=np.array(stim.labels),
        **{f"rdm_reference/{n}": ref.rdms[n].numpy() for n in heat},
        **{f"rdm_random/{n}": rnd.rdms[n].numpy() for n in heat},
    )
    _plot_curves(ctx, config, names, rho_ref, rho_rnd, cka, ref_vs_rnd, ref_label)
    _plot_heatmaps(ctx, "rdms_reference", f"reference ({ref_label})", input_rdm, ref.rdms, heat, stim.labels)
    _plot_heatmaps(ctx, "rdms_random", "random-weight", input_rdm, rnd.rdms, heat, stim.labels)
    ctx.table(
        "Per layer",
        [
            {
                "layer": n,
                "features": ref.features.get(n, ""),
                f"RDM vs input: reference ({ref_label})": a,
                "RDM vs input: random": b,
                "CKA(reference, random)": c,
                "RDM reference vs random": d,
            }
            for n, a, b, c, d in zip(names, rho_ref, rho_rnd, cka, ref_vs_rnd)
        ],
    )
    metrics.update(
        layers=len(names),
        passes=ref.passes,
        rdm_vs_input_reference_mean=rho_ref.mean(),
        rdm_vs_input_random_mean=rho_rnd.mean(),
        rdm_vs_input_reference_last=rho_ref[-1],
        rdm_vs_input_random_last=rho_rnd[-1],
        cka_mean=cka.mean(),
        cka_last=cka[-1],
        reference_is_trained=float(ref_label == "trained"),
    )
    return metrics


# ---------------------------------------------------------------------------------------------- figures
def _plot_curves(ctx, config, names, rho_ref, rho_rnd, cka, ref_vs_rnd, ref_label) -> None:
    import matplotlib.pyplot as plt

    x = np.arange(1, len(names) + 1)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(10, 0.45 * len(names) * 2), 4.5))
    ax.plot([0, *x], [1, *rho_ref], "o-", ms=3, label=f"reference ({ref_label})")
    ax.plot([0, *x], [1, *rho_rnd], "s-", ms=3, label="random weights")
    ax.set(
        ylabel="Spearman r with the input RDM",
        title=f"{config.model}: how much input structure each layer keeps",
    )
    ax2.plot(x, cka, "o-", ms=3, color="tab:green", label="linear CKA(reference, random)")
    ax2.plot(x, ref_vs_rnd, "s-", ms=3, color="tab:red", label="Spearman r of their RDMs")
    ax2.set(ylabel="similarity", title="Reference vs random network, layer by layer")
    for a, ticks, labels in ((ax, [0, *x], ["input", *names]), (ax2, x, names)):
        a.set_xticks(ticks)
        a.set_xticklabels(labels, rotation=70, ha="right", fontsize=7)
        a.set_xlabel("layer (network order)")
        a.set_ylim(min(-0.05, a.get_ylim()[0]), 1.05)
        a.axhline(0, color="k", lw=0.5)
        a.legend(frameon=False, fontsize=8)
        a.spines[["top", "right"]].set_visible(False)
    ctx.save_figure("rdm_vs_input", fig)


def _plot_heatmaps(ctx, stem, who, input_rdm, rdms, layers, labels) -> None:
    from priorlab.viz.rdm import plot_rdm_strip

    fig = plot_rdm_strip(
        [input_rdm.numpy()] + [rdms[n].numpy() for n in layers], ["input", *layers], labels, rank=True
    )
    fig.suptitle(f"RDMs (1 − Pearson r, rank-transformed) of the {who} network", y=1.03)
    ctx.save_figure(stem, fig)
