"""Locality prior: a 7x7 sheet of units whose connections shrink with length — does class activity cluster?

One network per seed with the prior layer (W ⊙ P) and one control (a plain Linear), both followed by BatchNorm
and ReLU, trained on the same data in the same order. The sheet's activation map is measured on every test
image (spatial variance; pairs = the same image under the two networks of the same seed) and per class.
Then: sparsify the sheet layer (prune the smallest |W ⊙ P|), sweep cost x strength, and (``model=rnn``) put
the prior on a vanilla RNN's recurrent matrix, or (``model=alexnet-fc6``) on AlexNet's 4096-unit fc6.
"""


from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator
from torch import nn
from torch.nn import functional as F

from priorlab.config import BaseConfig, Fraction
from priorlab.context import RunContext
from priorlab.data.digits import Split, digits
from priorlab.data.images import image_split
from priorlab.data.mnist import mnist
from priorlab.nets.locality import distances, locality_prior, prior_family, pruning_curve, raw_weight, wiring_cost
from priorlab.nets.sheet import build
from priorlab.probe import topography as topo
from priorlab.probe.topography import finite_mean
from priorlab.train.loop import epoch_batches, fit
from priorlab.viz import locality as viz

DESCRIPTION = "Locality prior: units on a sheet, long connections cost more; does class activity cluster in space?"
ORDER = 30
CITATION = (
    "Sax, A. (2017). Locality Prior: a wiring cost for neural networks. github.com/alexsax/Locality-Prior. "
    "Smoothness measure: Margalit, E. et al. (2024). A unifying framework for functional organization in early "
    "and higher ventral visual cortex. Neuron."
)
FIGURES = {
    "class_maps": "Mean activation of the sheet (after BatchNorm and ReLU) for each class, first seed: control "
    "(top) and locality prior (bottom). The study's figure.",
    "prior": "The prior P for a centre unit and a corner unit: how strongly each input position reaches it.",
    "spatial_variance": "Spatial variance of each class-mean map (lower = more clustered), mean ± SD over seeds; "
    "dashed: a uniform map.",
    "smoothness": "TDANN smoothness: dissimilarity of two units' class tuning (1 − r) against their distance on "
    "the sheet, mean over seeds; the title gives the shuffled-positions control.",
    "sparsity": "Test accuracy after keeping only the largest fraction of the sheet layer's |W ⊙ P| "
    "(mean ± SD over seeds).",
    "sweep": "Cost function and prior strength (P = g(d)^strength) against accuracy, spatial variance and smoothness "
    "(mean over sweep_repeats seeds); dashed: control.",
}
DEMO = [{}, {"model": "rnn"}]

Cost = Literal["linear", "sqrt", "quadratic", "exp"]
Strength = Annotated[float, Field(ge=0, le=10)]


class Config(BaseConfig):
    model: Literal["lenet", "rnn", "alexnet-fc6"] = Field(
        "lenet", description="lenet: the study's LeNet + 7x7 sheet; rnn: vanilla RNN (rows as time steps) with the "
        "prior on its recurrent matrix; alexnet-fc6: torchvision AlexNet with fc6 as a 64x64 sheet"
    )
    data: str = Field(
        "digits", description="digits (scikit-learn, upsampled to image_size), mnist:<dir> (four IDX files), "
        "images:<dir> (ImageFolder layout; for alexnet-fc6)"
    )
    image_size: int | None = Field(
        None, ge=8, le=512, description="digits resized / image folders resized to this size; None: 28 for lenet "
        "(digits upsampled as MNIST), 8 for rnn (the digits' own 8 rows as 8 time steps), 64 for alexnet-fc6"
    )
    repeats: int = Field(5, ge=1, le=100, description="seeds: seed, seed+1, ... (one control and one locality net each)")
    epochs: int = Field(5, ge=1, le=200, description="training epochs (full: 20)")
    batch_size: int = Field(64, ge=1, le=4096, description="minibatch size")
    train_limit: int | None = Field(None, ge=10, description="use at most this many training images (None: all)")
    test_limit: int | None = Field(None, ge=10, description="use at most this many test images (None: all)")
    optimizer: Literal["rmsprop", "sgd", "adam"] = Field("rmsprop", description="the study's README: RMSProp")
    lr: float | None = Field(None, gt=0, le=10, description="learning rate; None: 0.001 (lenet, alexnet), 0.003 (rnn)")
    momentum: float = Field(0.5, ge=0, lt=1, description="momentum (rmsprop, sgd)")
    weight_decay: float = Field(0.01, ge=0, le=1, description="L2 weight decay on all weights (the study: 0.01)")
    l1: float = Field(0.0, ge=0, le=1, description="extra L1 penalty on the sheet layer's raw weights")
    dropout: float = Field(
        0.25, ge=0, lt=1, description="dropout before the fully connected layers (the study: 0.5 on MNIST's 60k)"
    )
    layout: Literal["grid", "torus", "line"] = Field("grid", description="where the sheet's units sit")
    cost: Cost = Field("linear", description="prior g(d): linear 1/(1+d), sqrt, quadratic, exp")
    strength: Strength = Field(1.0, description="P = g(d / length_scale) ** strength")
    length_scale: float = Field(1.0, gt=0, le=1000, description="distance unit of the prior, in grid steps")
    form: Literal["weights", "output"] = Field("weights", description="weights: W ⊙ P; output: row gain of P ⊙ (Wx+b)")
    method: Literal["prior", "wiring"] = Field(
        "prior", description="prior: fixed W ⊙ P; wiring: plain layer + wiring cost λ Σ|W|d in the loss"
    )
    wiring_lambda: float = Field(1e-3, ge=0, le=10, description="λ of the wiring cost (method=wiring)")
    keep_fractions: list[Fraction] = Field(
        [1.0, 0.5, 0.25, 0.1, 0.05, 0.02], min_length=1, description="sparsity: fractions of connections kept"
    )
    sweep_costs: list[Cost] = Field(["linear", "sqrt", "quadratic"], description="cost sweep (empty: none)")
    sweep_strengths: list[Strength] = Field([1.0, 2.0], description="prior strengths in the cost sweep")
    sweep_repeats: int = Field(1, ge=0, le=100, description="seeds per cost-sweep cell (0: no sweep)")

    PRESETS: ClassVar[dict] = {
        # The study's code (run_mnist.py): SGD lr 0.01, momentum 0.5, weight decay 1e-4.
        "study-code": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5, "weight_decay": 1e-4},
        # AlexNet with a 64x64 fc6 sheet, small images so that it runs on a CPU (needs data=images:<dir>).
        "alexnet-quick": {"model": "alexnet-fc6", "repeats": 1, "epochs": 2, "sweep_repeats": 0},
    }
    FULL: ClassVar[dict] = {"epochs": 20, "repeats": 10, "sweep_repeats": 5, "sweep_strengths": [0.5, 1.0, 2.0, 4.0]}

    @field_validator("data")
    @classmethod
    def _data_ok(cls, v: str) -> str:
        kind, _, where = v.partition(":")
        if (kind == "digits" and not where) or (kind in ("mnist", "images") and where):
            return v
        raise ValueError("not one of digits, mnist:<dir>, images:<dir>")

    @model_validator(mode="after")
    def _data_fits_model(self):
        if self.model == "alexnet-fc6" and not self.data.startswith("images:"):
            raise ValueError("model=alexnet-fc6 needs data=images:<dir> (an ImageFolder of RGB images)")
        if self.model != "alexnet-fc6" and self.data.startswith("images:"):
            raise ValueError("data=images:<dir> is for model=alexnet-fc6 (lenet and rnn take grey digits or MNIST)")
        return self


# ----------------------------------------------------------------------------------------------
def image_size(config: Config) -> int:
    if config.image_size is not None:
        return config.image_size
    return {"lenet": 28, "rnn": 8, "alexnet-fc6": 64}[config.model]


def load_data(config: Config) -> Split:
    kind, _, where = config.data.partition(":")
    if kind == "mnist":
        split = mnist(where)
    elif kind == "images":
        split = image_split(where, image_size(config), what="data=images folder")
    else:
        split = digits(flatten=False, image_size=image_size(config), seed=config.seed)
    tr, te = config.train_limit, config.test_limit
    return Split(split.x_train[:tr], split.y_train[:tr], split.x_test[:te], split.y_test[:te])


def prior_kwargs(config: Config, cost: str | None = None, strength: float | None = None) -> dict:
    return {
        "layout": config.layout, "cost": cost or config.cost, "length_scale": config.length_scale,
        "strength": config.strength if strength is None else strength, "form": config.form,
    }


# ----------------------------------------------------------------------------------------------
def train(model: nn.Module, data: Split, config: Config, seed: int, device, wiring: torch.Tensor | None = None):
    """Minibatch training; the data order depends only on the seed, so control and locality nets see the same."""
    model.to(device)
    x, y = data.x_train.to(device), data.y_train.to(device)
    with torch.no_grad():
        model.eval()(x[:2])  # materialise lazy layers before the optimizer sees them (eval: BN stats untouched)
    w = raw_weight(model.sheet_layer, model.sheet_weight)

    def penalty() -> torch.Tensor:
        terms = [config.l1 * w.abs().sum()] if config.l1 else []
        terms += [wiring_cost(w, wiring, config.wiring_lambda)] if wiring is not None else []
        return sum(terms[1:], terms[0])

    def loss(idx: torch.Tensor) -> torch.Tensor:
        idx = idx.to(device)
        return F.cross_entropy(model(x[idx])[0], y[idx])

    lr = config.lr if config.lr is not None else (0.003 if config.model == "rnn" else 0.001)
    batches = epoch_batches(len(x), config.batch_size, config.epochs, torch.Generator().manual_seed(seed), min_size=2)
    fit(model, loss, batches, optimizer=config.optimizer, lr=lr, weight_decay=config.weight_decay,
        momentum=config.momentum, clip=1.0 if config.model == "rnn" else None,
        penalty=penalty if config.l1 or wiring is not None else None)
    return model.eval()


@torch.no_grad()
def evaluate(model: nn.Module, data: Split, device) -> tuple[float, np.ndarray]:
    """Test accuracy (a fraction) and the sheet maps [N, side*side]."""
    model.eval()
    accs, maps = [], []
    for xb, yb in zip(data.x_test.split(512), data.y_test.split(512)):
        logits, s = model(xb.to(device))
        accs.append((logits.argmax(1).cpu() == yb).float())
        maps.append(s.cpu())
    return torch.cat(accs).mean().item(), torch.cat(maps).numpy()


def measure(model: nn.Module, data: Split, device, shuffles: int = 20, seed: int = 0) -> dict:
    """Accuracy, per-image and per-class spatial variance, and TDANN smoothness of one trained net."""
    acc, maps = evaluate(model, data, device)
    return {"acc": acc, **topo.sheet_measures(maps, data.y_test.numpy(), data.n_classes, model.side, shuffles, seed)}


def train_net(config: Config, data: Split, seed: int, device, kind: str, cost=None, strength=None) -> nn.Module:
    """kind: 'control' (plain layer) or 'locality' (the prior, or the wiring cost when method=wiring)."""
    torch.manual_seed(seed)
    local = kind == "locality"
    prior = prior_kwargs(config, cost, strength) if local and config.method == "prior" else None
    model = build(config.model, data.n_classes, tuple(data.x_train.shape[1:]), prior, config.dropout)
    wiring = distances(*model.sheet_shapes(config.layout), config.layout) if local and config.method == "wiring" else None
    return train(model, data, config, seed, device, wiring)


# ----------------------------------------------------------------------------------------------
def run(config: Config, ctx: RunContext) -> dict[str, float]:
    data = load_data(config)
    seeds = [ctx.seed + r for r in range(config.repeats)]
    dev = ctx.device

    # 1. control vs locality, one pair per seed
    results = {"control": [], "locality": []}
    sparsity = {"control": [], "locality": []}
    first = {}
    for seed in ctx.progress(seeds, description="control vs locality"):
        for kind, runs in results.items():
            net = train_net(config, data, seed, dev, kind)
            runs.append(measure(net, data, dev, seed=seed))
            sparsity[kind].append(pruning_curve(net.sheet_layer, config.keep_fractions,
                                                lambda net=net: evaluate(net, data, dev)[0], net.sheet_weight))
            first.setdefault(kind, net)
    metrics = summarise(results, ctx)

    # 2. cost x strength sweep (locality nets; controls reused from step 1)
    sweep_rows = cost_sweep(config, data, seeds, results, ctx)

    figures(config, ctx, results, sparsity, first, sweep_rows)
    ctx.save_arrays(
        keep_fractions=np.asarray(config.keep_fractions),
        **{f"sparsity_{k}": np.asarray(v) for k, v in sparsity.items()},
        **{f"var_image_{k}": np.stack([r["var_image"] for r in v]) for k, v in results.items()},
        **{f"var_class_{k}": np.stack([r["var_class"] for r in v]) for k, v in results.items()},
        **{f"class_maps_{k}": np.stack([r["class_maps"] for r in v]) for k, v in results.items()},
    )
    ctx.save_model(first["locality"])
    return metrics


def summarise(results: dict, ctx: RunContext) -> dict[str, float]:
    var = {k: np.concatenate([r["var_image"] for r in v]) for k, v in results.items()}
    t, p = topo.paired_ttest(var["locality"], var["control"])
    vc = {k: np.concatenate([r["var_class"] for r in v]) for k, v in results.items()}
    t_c, p_c = topo.paired_ttest(vc["locality"], vc["control"])
    m = {}
    for k, v in results.items():
        m[f"acc_{k}"] = float(np.mean([r["acc"] for r in v]))
        m[f"spatial_var_{k}"] = finite_mean(var[k])
        m[f"smoothness_{k}"] = finite_mean([r["smooth"].value for r in v])
    m.update({"t_images": t, "p_images": p})
    m.update({
        "spatial_var_class_control": finite_mean(vc["control"]),
        "spatial_var_class_locality": finite_mean(vc["locality"]),
        "t_classmeans": t_c, "p_classmeans": p_c,
        "smoothness_shuffled": finite_mean([r["smooth"].shuffled for v in results.values() for r in v]),
    })
    rows = []
    for k, v in results.items():
        rows += [{"net": k, "seed": i, "accuracy": r["acc"], "spatial variance (images)": finite_mean(r["var_image"]),
                  "spatial variance (class means)": finite_mean(r["var_class"]),
                  "smoothness": r["smooth"].value, "shuffled": r["smooth"].shuffled} for i, r in enumerate(v)]
    ctx.table("Per seed", rows)
    ctx.note(
        f"Paired t-test over {int(np.isfinite(var['locality'] - var['control']).sum())} (test image, seed) pairs, "
        f"locality − control spatial variance: t = {t:.3g}, p = {p:.3g}. Over class-mean maps "
        f"({len(vc['control'])} (class, seed) pairs): t = {t_c:.3g}, p = {p_c:.3g}. "
        "The study (LeNet, MNIST, one seed): 8.458 vs 8.667, t = −6.49, p = 1.35e-10; accuracy 0.979 vs 0.981."
    )
    return m


# ----------------------------------------------------------------------------------------------
def cost_sweep(config: Config, data: Split, seeds: list[int], results: dict, ctx: RunContext) -> list[dict]:
    """sweep_costs x sweep_strengths, locality nets of the first sweep_repeats seeds against the controls of the
    same seeds; identical priors are trained once. The table rows (none when the sweep is off)."""
    if not (config.method == "prior" and config.sweep_repeats and config.sweep_costs and config.sweep_strengths):
        return []
    n = min(config.sweep_repeats, config.repeats)
    trained = {prior_family(config.cost, config.strength): results["locality"][:n]}
    cells = [(c, s) for c in config.sweep_costs for s in config.sweep_strengths]
    rows = []
    for cost, strength in ctx.progress(cells, description="cost sweep"):
        key = prior_family(cost, strength)
        if key not in trained:
            trained[key] = [
                measure(train_net(config, data, seeds[r], ctx.device, "locality", cost, strength), data, ctx.device,
                        0, seeds[r])
                for r in range(n)
            ]
        rows.append(sweep_row(cost, strength, trained[key], results["control"][:n]))
    ctx.table("Cost sweep (locality nets vs the controls of the same seeds)", rows)
    ctx.note(
        "The power-law costs are one family: linear, sqrt and quadratic give P = (1 + d)^−a with a = 1, 0.5 and 2 "
        "times the strength, so cells with the same a share one prior (and one set of trained networks)."
    )
    return rows


def sweep_row(cost: str, strength: float, runs: list[dict], controls: list[dict]) -> dict:
    loc = np.concatenate([r["var_image"] for r in runs])
    ctl = np.concatenate([r["var_image"] for r in controls])
    t, p = topo.paired_ttest(loc, ctl)
    kind, a = prior_family(cost, strength)
    return {
        "cost": cost, "strength": strength, "P": f"(1+d)^-{a:g}" if kind == "power" else f"exp(-d)^{a:g}",
        "accuracy": float(np.mean([r["acc"] for r in runs])),
        "control accuracy": float(np.mean([r["acc"] for r in controls])),
        "spatial variance": finite_mean(loc), "control variance": finite_mean(ctl),
        "t": t, "p": p, "smoothness": finite_mean([r["smooth"].value for r in runs]),
    }


# ----------------------------------------------------------------------------------------------
def figures(config: Config, ctx: RunContext, results: dict, sparsity: dict, first: dict, sweep_rows: list) -> None:
    net = first["control"]
    side = net.side
    ctx.save_figure("class_maps", viz.class_maps_figure(
        {kind: runs[0]["class_maps"] for kind, runs in results.items()}, side,
        f"Per-class mean activation of the {side}x{side} sheet ({config.model}, seed {ctx.seed})"))

    layer_in, sheet = net.sheet_shapes(config.layout)
    p = locality_prior(layer_in, sheet, config.layout, config.cost, config.length_scale, config.strength)
    ctx.save_figure("prior", viz.prior_figure(
        p.numpy(), layer_in if isinstance(layer_in, tuple) else (1, layer_in), side,
        f"Locality prior: {config.cost} cost, strength {config.strength}, {config.layout} layout"))

    ctx.save_figure("spatial_variance", viz.spatial_variance_figure(
        {kind: np.stack([r["var_class"] for r in runs]) for kind, runs in results.items()},
        topo.spatial_variance(np.ones(side * side), sheet)))

    ctx.save_figure("smoothness", viz.smoothness_figure(
        {kind: (runs[0]["smooth"].bin_centres, np.stack([r["smooth"].curve for r in runs]))
         for kind, runs in results.items()},
        {kind: finite_mean([r["smooth"].value for r in runs]) for kind, runs in results.items()},
        finite_mean([r["smooth"].shuffled for v in results.values() for r in v])))

    ctx.save_figure("sparsity", viz.sparsity_figure(np.asarray(config.keep_fractions), sparsity))

    if sweep_rows:
        control = finite_mean([r["smooth"].value for r in results["control"][: config.sweep_repeats]])
        ctx.save_figure("sweep", viz.sweep_figure(sweep_rows, control, min(config.sweep_repeats, config.repeats)))
