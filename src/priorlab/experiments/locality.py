"""Locality prior: a 7x7 sheet of units whose connections shrink with length — does class activity cluster?

Per seed a pair — the prior layer (W ⊙ P) and a control (a plain Linear), both with BatchNorm and ReLU, same init
and minibatches — measured on every test image and per class: paired differences with 95% CIs and both paired
t-tests. Then pruning, the cost sweep over the exponent a of (1 + d)^−a (same-a cells merged), and as extensions
the prior on an RNN's recurrent matrix (``model=rnn``) or on AlexNet's fc6 (``model=alexnet-fc6``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator
from torch import nn
from torch.nn import functional as F

from priorlab.config import BaseConfig, BatchSize, Fraction
from priorlab.context import RunContext
from priorlab.data.digits import Split, digits
from priorlab.data.images import image_split
from priorlab.data.mnist import mnist
from priorlab.data.samplefolder import write_sample_folder
from priorlab.nets.locality import distances, prior_family, pruning_curve, raw_weight, wiring_cost
from priorlab.nets.sheet import build, evaluate
from priorlab.probe import topography as topo
from priorlab.probe.topography import finite_mean
from priorlab.stats.claims import Claim
from priorlab.train.loop import epoch_batches, fit
from priorlab.viz import locality as viz
from priorlab.viz.locality import ci

DESCRIPTION = "Locality prior: units on a sheet, long connections cost more; does class activity cluster in space?"
ORDER = 30
CITATION = (
    "Sax, A. (2017). Locality Prior: a wiring cost for neural networks. github.com/alexsax/Locality-Prior. "
    "Smoothness measure: Margalit, E. et al. (2024). A unifying framework for functional organization in early "
    "and higher ventral visual cortex. Neuron."
)
QUESTION = (
    "Give a layer's units places on a sheet and make long connections transmit less: does class activity cluster "
    "in space, and at what cost in accuracy?"
)
KEY_FIGURE = "differences"
STUDY = "Sax 2017, Locality-Prior README (LeNet on MNIST, one net each; STUDIES.md §4)"
FIGURES = viz.CAPTIONS  # captions live beside the figures (viz/locality.py)
DEMO = [{"preset": "alexnet-quick", "data": "samples"}, {"model": "rnn"}, {}]  # LeNet last: the dashboard shows it

Cost = Literal["linear", "sqrt", "quadratic", "exp"]
Strength = Annotated[float, Field(ge=0, le=10)]


class Config(BaseConfig):
    model: Literal["lenet", "rnn", "alexnet-fc6"] = Field(
        "lenet", description="lenet: the study's LeNet + 7x7 sheet; rnn: vanilla RNN (rows as time steps) with the "
        "prior on its recurrent matrix; alexnet-fc6: torchvision AlexNet with fc6 as a 64x64 sheet"
    )
    data: str = Field("digits", description="digits (scikit-learn, upsampled to image_size), mnist:<dir> (four IDX "
                      "files), images:<dir> (an ImageFolder) or samples (a folder of crops of scikit-image's sample "
                      "photos, written into the run folder); the last two for alexnet-fc6")
    image_size: int | None = Field(
        None, ge=8, le=512, description="digits resized / image folders resized to this size; None: 28 for lenet "
        "(digits upsampled as MNIST), 8 for rnn (the digits' own 8 rows as 8 time steps), 64 for alexnet-fc6"
    )
    repeats: int = Field(5, ge=1, le=100, description="seeds: seed, seed+1, ... (one control and one locality net each)")
    epochs: int = Field(5, ge=1, le=200, description="training epochs (full: 20)")
    batch_size: BatchSize = Field(64, description="minibatch size")
    train_limit: int | None = Field(None, ge=10, description="use at most this many training images (None: all)")
    test_limit: int | None = Field(None, ge=10, description="use at most this many test images (None: all)")
    optimizer: Literal["rmsprop", "sgd", "adam"] = Field("rmsprop", description="the study's README: RMSProp")
    lr: float | None = Field(None, gt=0, le=10, description="learning rate; None: 0.001 (lenet, alexnet), 0.003 (rnn)")
    momentum: float = Field(0.5, ge=0, lt=1, description="momentum (rmsprop, sgd)")
    weight_decay: float = Field(0.01, ge=0, le=1, description="L2 weight decay on all weights (the study: 0.01)")
    l1: float = Field(0.0, ge=0, le=1, description="extra L1 penalty on the sheet layer's raw weights")
    dropout: float = Field(0.25, ge=0, lt=1, description="dropout before the FC layers (the study: 0.5, MNIST)")
    layout: Literal["grid", "torus", "line"] = Field("grid", description="where the sheet's units sit")
    cost: Cost = Field("linear", description="prior g(d): linear 1/(1+d), sqrt, quadratic, exp")
    strength: Strength = Field(1.0, description="P = g(d / length_scale) ** strength")
    length_scale: float = Field(1.0, gt=0, le=1000, description="distance unit of the prior, in grid steps")
    form: Literal["weights", "output"] = Field("weights", description="weights: W ⊙ P; output: row gain of P ⊙ (Wx+b)")
    method: Literal["prior", "wiring"] = Field("prior", description="prior: fixed W ⊙ P; wiring: + λ Σ|W|d in the loss")
    wiring_lambda: float = Field(1e-3, ge=0, le=10, description="λ of the wiring cost (method=wiring)")
    keep_fractions: list[Fraction] = Field([1.0, 0.5, 0.25, 0.1, 0.05, 0.02], min_length=1,
                                           description="sparsity: fractions of connections kept")
    sweep_costs: list[Cost] = Field(["linear", "sqrt", "quadratic"], description="cost sweep (empty: none)")
    sweep_strengths: list[Strength] = Field([1.0, 2.0], description="prior strengths in the cost sweep")
    sweep_repeats: int = Field(3, ge=0, le=100, description="seeds per distinct prior of the cost sweep (0: none)")

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
        if (kind in ("digits", "samples") and not where) or (kind in ("mnist", "images") and where):
            return v
        raise ValueError("not one of digits, mnist:<dir>, images:<dir>, samples")

    @model_validator(mode="after")
    def _data_fits_model(self):
        colour = self.data.startswith("images:") or self.data == "samples"
        if self.model == "alexnet-fc6" and not colour:
            raise ValueError("model=alexnet-fc6 needs data=images:<dir> (an ImageFolder of RGB images) or samples")
        if self.model != "alexnet-fc6" and colour:
            raise ValueError(f"data={self.data.partition(':')[0]} is for model=alexnet-fc6 (lenet and rnn take grey "
                             "digits or MNIST)")
        return self


# ----------------------------------------------------------------------------------------------
def image_size(config: Config) -> int:
    return config.image_size or {"lenet": 28, "rnn": 8, "alexnet-fc6": 64}[config.model]


def load_data(config: Config, folder: Path) -> Split:
    """The split named by ``config.data``; ``samples`` writes its image folder under ``folder`` first."""
    kind, _, where = config.data.partition(":")
    if kind == "samples":
        kind, where = "images", write_sample_folder(folder / "images", per_class=16, size=64)
    if kind == "mnist":
        split = mnist(where)
    elif kind == "images":
        split = image_split(where, image_size(config), what="data=images folder")
    else:
        split = digits(flatten=False, image_size=image_size(config), seed=config.seed)
    tr, te = config.train_limit, config.test_limit
    return Split(split.x_train[:tr], split.y_train[:tr], split.x_test[:te], split.y_test[:te])


def prior_kwargs(config: Config, cost: str | None = None, strength: float | None = None) -> dict:
    return {"layout": config.layout, "cost": cost or config.cost, "length_scale": config.length_scale,
            "strength": config.strength if strength is None else strength, "form": config.form}


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


def measure(model: nn.Module, data: Split, device, shuffles: int = 20, seed: int = 0) -> dict:
    """Accuracy, per-image and per-class spatial variance, and TDANN smoothness of one trained net."""
    acc, maps = evaluate(model, data.x_test, data.y_test, device)
    return {"acc": acc, **topo.sheet_measures(maps, data.y_test.numpy(), data.n_classes, model.side, shuffles, seed)}


def train_net(config: Config, data: Split, seed: int, ctx: RunContext, kind: str, cost=None, strength=None):
    """kind: 'control' (plain layer) or 'locality' (the prior, or the wiring cost when method=wiring); timed as train."""
    torch.manual_seed(seed)
    local = kind == "locality"
    prior = prior_kwargs(config, cost, strength) if local and config.method == "prior" else None
    model = build(config.model, data.n_classes, tuple(data.x_train.shape[1:]), prior, config.dropout)
    wiring = distances(*model.sheet_shapes(config.layout), config.layout) if local and config.method == "wiring" else None
    with ctx.timed("train"):
        return train(model, data, config, seed, ctx.device, wiring)


# ----------------------------------------------------------------------------------------------
def run(config: Config, ctx: RunContext) -> dict[str, float]:
    data = load_data(config, ctx.folder)
    seeds = [ctx.seed + r for r in range(config.repeats)]
    dev = ctx.device

    # 1. control vs locality, one pair per seed
    results, sparsity, first = {"control": [], "locality": []}, {"control": [], "locality": []}, {}
    for seed in ctx.progress(seeds, description="control vs locality"):
        for kind, runs in results.items():
            net = train_net(config, data, seed, ctx, kind)
            runs.append(measure(net, data, dev, seed=seed))
            score = lambda net=net: evaluate(net, data.x_test, data.y_test, dev)[0]  # noqa: E731
            sparsity[kind].append(pruning_curve(net.sheet_layer, config.keep_fractions, score, net.sheet_weight))
            first.setdefault(kind, net)
    diffs = paired(results)
    metrics = summarise(config, results, diffs, ctx)

    # 2. the cost sweep: one set of locality nets per distinct prior, against the controls of the same seeds
    points = cost_sweep(config, data, seeds, results, metrics, ctx)

    ctx.save_arrays(**viz.figure_arrays(ctx, config, data, results, sparsity, first, points))
    ctx.save_model(first["locality"])
    return metrics


def draw(config: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    viz.draw_figures(config, arrays, ctx)  # every figure from the run's arrays


def paired(results: dict) -> dict[str, np.ndarray]:
    """Locality − control of each seed's pair: accuracy, smoothness [seeds]; per test image / class [seeds, n]."""
    pairs = list(zip(results["control"], results["locality"]))
    return {"acc": np.array([b["acc"] - a["acc"] for a, b in pairs]),
            "var_image": np.stack([b["var_image"] - a["var_image"] for a, b in pairs]),
            "var_class": np.stack([b["var_class"] - a["var_class"] for a, b in pairs]),
            "smooth": np.array([b["smooth"].value - a["smooth"].value for a, b in pairs])}


def put_ci(m: dict, name: str, values, scale: float = 1.0) -> None:
    """``name`` = the mean of `values` × scale, with ``name_ci_low`` / ``_ci_high`` (95% bootstrap) when n ≥ 2."""
    mean, lo, hi = ci(values)
    m[name] = mean * scale
    if np.isfinite(lo):
        m[f"{name}_ci_low"], m[f"{name}_ci_high"] = sorted((lo * scale, hi * scale))


def summarise(config: Config, results: dict, d: dict, ctx: RunContext) -> dict[str, float]:
    m = {}
    for k, v in results.items():
        m[f"acc_{k}"] = float(np.mean([r["acc"] for r in v]))
        m[f"spatial_var_{k}"] = finite_mean([r["var_image"] for r in v])  # over all (test image, seed) pairs
        m[f"spatial_var_class_{k}"] = finite_mean([r["var_class"] for r in v])
        m[f"smoothness_{k}"] = finite_mean([r["smooth"].value for r in v])
    m["smoothness_shuffled"] = finite_mean([r["smooth"].shuffled for v in results.values() for r in v])
    # paired t-tests of locality − control (scipy's ttest_rel on the same pairs)
    m["t_images"], m["p_images"] = topo.paired_ttest(d["var_image"], np.zeros_like(d["var_image"]))
    m["t_classmeans"], m["p_classmeans"] = topo.paired_ttest(d["var_class"], np.zeros_like(d["var_class"]))
    for name, key, scale in (("acc_diff", "acc", 1), ("spatial_var_diff", "var_image", 1), ("smoothness_diff", "smooth", 1),
                             ("spatial_var_rel_diff", "var_image", 1 / m["spatial_var_control"]),
                             ("spatial_var_class_diff", "var_class", 1)):
        put_ci(m, name, d[key], scale)
    ctx.table("Per seed", viz.seed_rows(results))
    ctx.note(viz.tests_note(viz.model_name(config.model), m, d))
    return m


# ----------------------------------------------------------------------------------------------
def cost_sweep(config: Config, data: Split, seeds: list[int], results: dict, m: dict, ctx: RunContext) -> list:
    """sweep_costs × sweep_strengths merged into distinct priors (P = (1 + d)^−a, or exp); each trained once on the
    first sweep_repeats seeds (the run's own prior reuses step 1's nets) and compared to the controls of the same
    seeds. Writes ``sweep_*`` metrics into `m`; returns the points (none when the sweep is off)."""
    if not (config.method == "prior" and config.sweep_repeats and config.sweep_costs and config.sweep_strengths):
        return []
    n = min(config.sweep_repeats, config.repeats)
    cells: dict[tuple, list] = {}  # distinct prior -> the (cost, strength) cells that give it
    for c, s in [(c, s) for c in config.sweep_costs for s in config.sweep_strengths]:
        cells.setdefault(prior_family(c, s), []).append((c, s))
    own, points = prior_family(config.cost, config.strength), []
    for key, group in ctx.progress(sorted(cells.items()), description="cost sweep"):
        cost, strength = group[0]
        runs = results["locality"][:n] if key == own else [
            measure(train_net(config, data, seeds[r], ctx, "locality", cost, strength), data, ctx.device,
                    0, seeds[r]) for r in range(n)]
        pts = paired({"control": results["control"][:n], "locality": runs})
        t, p = topo.paired_ttest(pts["var_image"], np.zeros_like(pts["var_image"]))
        points.append({"kind": key[0], "a": key[1], "label": ", ".join(f"{c}×{s:g}" for c, s in group),
                       "acc": pts["acc"], "var": pts["var_image"], "smooth": pts["smooth"], "t": t, "p": p})
        name = ("a" if key[0] == "power" else key[0]) + f"{key[1]:g}".replace(".", "p")  # a0p5: (1+d)^-0.5
        put_ci(m, f"sweep_acc_diff_{name}", pts["acc"])
        put_ci(m, f"sweep_var_diff_{name}", pts["var_image"])
        m[f"t_sweep_{name}"], m[f"p_sweep_{name}"] = t, p
    ctx.table(f"Cost sweep: one row per distinct prior ({n} seeds each; locality − the controls of the same seeds)",
              viz.sweep_rows(points))
    return points


# ----------------------------------------------------------------------------------------------
def setup(config: Config) -> str:
    size = image_size(config)
    data = {"digits": f"scikit-learn digits at {size}x{size}", "samples": f"an image folder of 16 crops of each "
            f"scikit-image sample photo (a class each) at {size}x{size}"}.get(config.data, config.data)
    net = {"lenet": "LeNet with a 7x7 sheet layer before the last layer (the study's net)",
           "rnn": "RNN extension (not in the study): a vanilla ReLU RNN of 49 units (a 7x7 sheet) reading the image "
           "row by row, the prior on its recurrent matrix",
           "alexnet-fc6": "AlexNet (untrained start) with fc6 as a 64x64 sheet"}[config.model]
    how = (f"the prior W ⊙ P, {config.cost} cost, strength {config.strength:g}, form {config.form}"
           if config.method == "prior" else f"a wiring cost λ Σ|W|d, λ = {config.wiring_lambda:g}")
    sweep = (f" Cost sweep: {len({prior_family(c, s) for c in config.sweep_costs for s in config.sweep_strengths})} "
             f"distinct priors from {len(config.sweep_costs)} costs × {len(config.sweep_strengths)} strengths, "
             f"{min(config.sweep_repeats, config.repeats)} seeds each." if config.sweep_repeats else "")
    return (f"{net}; {data}. {config.repeats} seeds, each a pair: a control (plain layer) and a locality net "
            f"({how}), both with BatchNorm, same init and minibatches; {config.epochs} epochs of {config.optimizer}. "
            "Spatial variance of the sheet on every test image and of each class-mean map; two paired t-tests "
            "(over (test image, seed) pairs, over (class, seed) pairs); CIs: bootstrap." + sweep)


def one_sided(name: str):
    """p of a paired test when locality is below control (t < 0), else 1: 'significantly lower'."""
    def p(m):
        return m[f"p_{name}"] if m[f"t_{name}"] < 0 else 1.0
    p.__name__ = f"p_{name} (1 when t_{name} ≥ 0)"
    return p


def claims(config: Config) -> list[Claim]:
    design = config.method == "prior" and config.form == "weights"
    why = True if design else "the study's claims are for the fixed prior W ⊙ P (method=prior, form=weights)"
    if config.model == "rnn":
        src = "priorlab extension (STUDIES.md §4's suggested next step); expected: the LeNet study's findings"
        return [
            Claim("RNN: the recurrent prior lowers the sheet's per-image spatial variance (p < 0.01)", src,
                  one_sided("images"), (0.0, 0.01), applies=why),
            Claim("RNN: ... and that of the class-mean maps (p < 0.05)", src, one_sided("classmeans"), (0.0, 0.05),
                  applies=why),
            Claim("RNN: at little accuracy cost (within 2 points of the control)", src, "acc_diff", 0.0, 0.02,
                  applies=why),
        ]
    if config.model == "alexnet-fc6":
        src = "Sax 2017, Locality-Prior README (AlexNet fc6 on ImageNet)"
        big = why if not design else True if config.epochs >= 90 and config.data.startswith("images:") else (
            "the study trained on ImageNet for 90 epochs; a small image folder for a few epochs does not test it")
        return [Claim("AlexNet fc6: spatial variance 653.4 vs 691.6 (−5.5 %)", src, "spatial_var_rel_diff", -0.055,
                      0.02, applies=big),
                Claim("AlexNet fc6: the drop is significant (t = −26.1)", src, one_sided("images"), (0.0, 0.01),
                      applies=big)]
    kind, a = prior_family(config.cost, config.strength)
    prior = f" (the study's P = 1/(1 + d); here {'(1 + d)^−' if kind == 'power' else 'exp(−d)^'}{a:g})"
    swept = {prior_family(c, s) for c in config.sweep_costs for s in config.sweep_strengths}
    on = config.sweep_repeats > 0 and design
    sweep = lambda k: True if on and k in swept else "not in this run's cost sweep"  # noqa: E731
    return [
        Claim("accuracy costs little: 97.9 vs 98.1 % (−0.2 points; ±2)" + prior, STUDY, "acc_diff", -0.002, 0.02,
              applies=why),
        Claim("the prior lowers spatial variance by ≈ 2.4 % (8.458 vs 8.667)" + prior, STUDY, "spatial_var_rel_diff",
              -0.024, 0.02, applies=why),
        Claim("the drop is significant over test images (study: t = −6.49, p = 1.35e-10; here p < 0.01)", STUDY,
              one_sided("images"), (0.0, 0.01), applies=why),
        Claim("the drop is significant over the class-mean maps (the study's wording; here p < 0.05)", STUDY,
              one_sided("classmeans"), (0.0, 0.05), applies=why),
        Claim("quadratic cost (a = 2) hurts accuracy (by more than half a point)", STUDY, "sweep_acc_diff_a2",
              (-1.0, -0.005), applies=sweep(("power", 2.0))),
        Claim("sqrt cost (a = ½) leaves the activation pattern almost unchanged (no significant change, p ≥ 0.05)",
              STUDY, "p_sweep_a0p5", (0.05, 1.0), applies=sweep(("power", 0.5))),
    ]
