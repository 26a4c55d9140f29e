"""Locality prior: a 7x7 sheet of units whose connections shrink with length — does class activity cluster?

One network per seed with the prior layer (W ⊙ P) and one control (a plain Linear), both followed by BatchNorm
and ReLU, trained on the same data in the same order. The sheet's activation map is measured on every test
image (spatial variance; pairs = the same image under the two networks of the same seed) and per class.
Then: sparsify the sheet layer (prune the smallest |W ⊙ P|), sweep cost x strength, and (``model=rnn``) put
the prior on a vanilla RNN's recurrent matrix, or (``model=alexnet-fc6``) on AlexNet's 4096-unit fc6.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from priorlab.config import BaseConfig, UserError
from priorlab.context import RunContext
from priorlab.data.digits import Split, digits
from priorlab.errors import check_finite
from priorlab.nets.locality import (
    LocalityLinear,
    distances,
    locality_prior,
    prune_smallest,
    raw_weight,
    wiring_cost,
)
from priorlab.probe import topography as topo

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
    strength: float = Field(1.0, ge=0, le=10, description="P = g(d / length_scale) ** strength")
    length_scale: float = Field(1.0, gt=0, le=1000, description="distance unit of the prior, in grid steps")
    form: Literal["weights", "output"] = Field("weights", description="weights: W ⊙ P; output: row gain of P ⊙ (Wx+b)")
    method: Literal["prior", "wiring"] = Field(
        "prior", description="prior: fixed W ⊙ P; wiring: plain layer + wiring cost λ Σ|W|d in the loss"
    )
    wiring_lambda: float = Field(1e-3, ge=0, le=10, description="λ of the wiring cost (method=wiring)")
    keep_fractions: list[float] = Field(
        [1.0, 0.5, 0.25, 0.1, 0.05, 0.02], min_length=1, description="sparsity: fractions of connections kept"
    )
    sweep_costs: list[Cost] = Field(["linear", "sqrt", "quadratic"], description="cost sweep (empty: none)")
    sweep_strengths: list[float] = Field([1.0, 2.0], description="prior strengths in the cost sweep")
    sweep_repeats: int = Field(1, ge=0, le=100, description="seeds per cost-sweep cell (0: no sweep)")

    PRESETS: ClassVar[dict] = {
        # The study's code (run_mnist.py): SGD lr 0.01, momentum 0.5, weight decay 1e-4.
        "study-code": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5, "weight_decay": 1e-4},
        # AlexNet with a 64x64 fc6 sheet, small images so that it runs on a CPU (needs data=images:<dir>).
        "alexnet-quick": {"model": "alexnet-fc6", "repeats": 1, "epochs": 2, "sweep_repeats": 0},
    }
    FULL: ClassVar[dict] = {"epochs": 20, "repeats": 10, "sweep_repeats": 5, "sweep_strengths": [0.5, 1.0, 2.0, 4.0]}


# ----------------------------------------------------------------------------------------------
# data


def _image_folder(root: Path, size: int) -> Split:
    """An ImageFolder (class/xxx.png) resized to size x size and normalised; train/ and val/ subfolders are used
    when present, otherwise a stratified 75/25 split."""
    from sklearn.model_selection import train_test_split
    from torchvision import datasets, transforms

    tf = transforms.Compose([
        transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])

    def load(folder):
        try:
            ds = datasets.ImageFolder(str(folder), transform=tf)
        except (FileNotFoundError, OSError) as exc:
            raise UserError(f"data=images:{root} cannot be read as an image folder: {exc}") from None
        xs, ys = zip(*(ds[i] for i in range(len(ds))))
        return torch.stack(xs), torch.tensor(ys)

    if (root / "train").is_dir() and (root / "val").is_dir():
        (xtr, ytr), (xte, yte) = load(root / "train"), load(root / "val")
        return Split(xtr, ytr, xte, yte)
    x, y = load(root)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0, stratify=y.numpy())
    return Split(x[tr], y[tr], x[te], y[te])


def image_size(config: Config) -> int:
    if config.image_size is not None:
        return config.image_size
    return {"lenet": 28, "rnn": 8, "alexnet-fc6": 64}[config.model]


def load_data(config: Config) -> Split:
    kind, _, where = config.data.partition(":")
    if kind == "digits" and not where:
        split = digits(flatten=False, image_size=image_size(config), seed=config.seed)
    elif kind == "mnist" and where:
        from priorlab.data.mnist import mnist

        split = mnist(where)
    elif kind == "images" and where:
        if not Path(where).is_dir():
            raise UserError(f"data=images:{where}: no such folder")
        split = _image_folder(Path(where), image_size(config))
    else:
        raise UserError(f"invalid data '{config.data}' (allowed: digits, mnist:<dir>, images:<dir>)")
    tr, te = config.train_limit, config.test_limit
    return Split(split.x_train[:tr], split.y_train[:tr], split.x_test[:te], split.y_test[:te])


# ----------------------------------------------------------------------------------------------
# models: body -> sheet (Linear or LocalityLinear, BatchNorm, ReLU) -> head


class SheetNet(nn.Module):
    """A feed-forward net whose penultimate layer is a sheet of units; forward returns (logits, sheet map)."""

    def __init__(self, body: nn.Module, sheet_in: int, side: int, n_classes: int, prior: dict | None):
        super().__init__()
        self.body = body
        n = side * side
        self.sheet_layer = LocalityLinear(sheet_in, (side, side), **prior) if prior else nn.Linear(sheet_in, n)
        self.norm = nn.BatchNorm1d(n)
        self.head = nn.Linear(n, n_classes)

    def forward(self, x):
        s = F.relu(self.norm(self.sheet_layer(self.body(x))))
        return self.head(s), s


class SheetRNN(nn.Module):
    """A vanilla RNN over image rows whose hidden units form the sheet; the prior sits on the recurrent matrix.
    The sheet map is the last hidden state (ReLU units)."""

    def __init__(self, n_inputs: int, side: int, n_classes: int, prior: dict | None):
        super().__init__()
        from priorlab.nets.locality import apply_locality

        n = side * side
        self.rnn = nn.RNN(n_inputs, n, nonlinearity="relu", batch_first=True)
        if prior:
            apply_locality(self.rnn, (side, side), (side, side), name="weight_hh_l0", **prior)
        self.sheet_layer = self.rnn
        self.head = nn.Linear(n, n_classes)

    def forward(self, x):
        _, h = self.rnn(x.flatten(1, -2) if x.dim() == 4 else x)  # [B, 1, H, W] -> rows [B, H, W]
        s = h[-1]
        return self.head(s), s


def lenet_body(dropout: float) -> nn.Module:
    """The study's LeNet up to its 49-unit fc1 (conv 10@5x5, pool, conv 20@5x5, pool, 320 -> 49)."""
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(10, 20, 5), nn.Dropout2d(dropout), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(dropout), nn.LazyLinear(49), nn.ReLU(), nn.Dropout(dropout),
    )


def alexnet_body(dropout: float) -> nn.Module:
    """torchvision AlexNet (weights=None) up to fc6's input: features, pool, dropout, 9216 -> 4096, ReLU, dropout."""
    from torchvision.models import alexnet

    net = alexnet(weights=None, dropout=dropout)
    return nn.Sequential(net.features, net.avgpool, nn.Flatten(), *list(net.classifier)[:4])


def build(config: Config, n_classes: int, image_shape: tuple, prior: dict | None) -> nn.Module:
    if config.model == "rnn":
        return SheetRNN(image_shape[-1], 7, n_classes, prior)
    if config.model == "alexnet-fc6":
        return SheetNet(alexnet_body(config.dropout), 4096, 64, n_classes, prior)
    if image_shape[-1] < 16:
        raise UserError(f"image_size={image_shape[-1]} is too small for LeNet's two 5x5 convolutions (use ≥ 16)")
    return SheetNet(lenet_body(config.dropout), 49, 7, n_classes, prior)


def side_of(model: nn.Module) -> int:
    return math.isqrt(model.head.in_features)


def sheet_weight(config: Config) -> str:
    """The matrix that carries the prior: the sheet layer's weight, or the RNN's recurrent matrix."""
    return "weight_hh_l0" if config.model == "rnn" else "weight"


def prior_kwargs(config: Config, cost: str | None = None, strength: float | None = None) -> dict:
    return {
        "layout": config.layout, "cost": cost or config.cost, "length_scale": config.length_scale,
        "strength": config.strength if strength is None else strength, "form": config.form,
    }


# ----------------------------------------------------------------------------------------------
# training and measuring


def make_optimizer(config: Config, params):
    lr = config.lr if config.lr is not None else (0.003 if config.model == "rnn" else 0.001)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay)
    return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)


def train(model: nn.Module, data: Split, config: Config, seed: int, device, wiring: torch.Tensor | None = None):
    """Minibatch training; the data order depends only on the seed, so control and locality nets see the same."""
    model.to(device)
    x, y = data.x_train.to(device), data.y_train.to(device)
    with torch.no_grad():
        model.eval()(x[:2])  # materialise lazy layers before the optimizer sees them (eval: BN stats untouched)
    opt = make_optimizer(config, model.parameters())
    order = torch.Generator().manual_seed(seed)
    step = 0
    for _ in range(config.epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=order).split(config.batch_size):
            if len(idx) < 2:
                continue
            logits, _ = model(x[idx.to(device)])
            loss = F.cross_entropy(logits, y[idx.to(device)])
            w = raw_weight(model.sheet_layer, sheet_weight(config))
            if config.l1:
                loss = loss + config.l1 * w.abs().sum()
            if wiring is not None:
                loss = loss + wiring_cost(w, wiring, config.wiring_lambda)
            check_finite(loss.item(), step)
            opt.zero_grad()
            loss.backward()
            if config.model == "rnn":
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
    return model.eval()


@torch.no_grad()
def evaluate(model: nn.Module, data: Split, device) -> tuple[float, np.ndarray]:
    """Test accuracy (%) and the sheet maps [N, side*side]."""
    model.eval()
    accs, maps = [], []
    for xb, yb in zip(data.x_test.split(512), data.y_test.split(512)):
        logits, s = model(xb.to(device))
        accs.append((logits.argmax(1).cpu() == yb).float())
        maps.append(s.cpu())
    return 100.0 * torch.cat(accs).mean().item(), torch.cat(maps).numpy()


def measure(model: nn.Module, data: Split, device, shuffles: int = 20, seed: int = 0) -> dict:
    """Accuracy, per-image and per-class spatial variance, and TDANN smoothness of one trained net."""
    side = side_of(model)
    acc, maps = evaluate(model, data, device)
    class_maps = topo.class_means(maps, data.y_test.numpy(), data.n_classes)
    sm = topo.smoothness(class_maps.T, topo.grid_positions((side, side)), shuffles=shuffles, seed=seed)
    return {
        "acc": acc,
        "var_image": topo.spatial_variance(maps, (side, side)),
        "var_class": topo.spatial_variance(class_maps, (side, side)),
        "class_maps": class_maps,
        "smooth": sm,
    }


def sparsity_curve(model: nn.Module, data: Split, config: Config, device) -> list[float]:
    """Accuracy after pruning the sheet layer to each kept fraction (on copies of the trained weights)."""
    name = sheet_weight(config)
    w = raw_weight(model.sheet_layer, name)
    saved = w.detach().clone()
    out = []
    for keep in config.keep_fractions:
        prune_smallest(model.sheet_layer, keep, name)
        out.append(evaluate(model, data, device)[0])
        with torch.no_grad():
            w.copy_(saved)
    return out


def train_net(config: Config, data: Split, seed: int, device, kind: str, cost=None, strength=None) -> nn.Module:
    """kind: 'control' (plain layer) or 'locality' (the prior, or the wiring cost when method=wiring)."""
    torch.manual_seed(seed)
    local = kind == "locality"
    prior = prior_kwargs(config, cost, strength) if local and config.method == "prior" else None
    model = build(config, data.n_classes, tuple(data.x_train.shape[1:]), prior)
    wiring = distances(*sheet_shapes(model, config), config.layout) if local and config.method == "wiring" else None
    return train(model, data, config, seed, device, wiring)


def _square(n: int) -> tuple[int, int]:
    side = math.isqrt(n)
    if side * side != n:
        raise UserError(f"layout=grid needs a square number of inputs to the sheet layer, got {n}")
    return (side, side)


def sheet_shapes(model: nn.Module, config: Config) -> tuple:
    """(input sheet, output sheet) of the layer that carries the prior."""
    side = side_of(model)
    if config.model == "rnn":
        return (side, side), (side, side)
    n_in = model.sheet_layer.in_features
    return (n_in if config.layout == "line" else _square(n_in)), (side, side)


# ----------------------------------------------------------------------------------------------
def run(config: Config, ctx: RunContext) -> dict[str, float]:
    if config.model == "alexnet-fc6" and not config.data.startswith("images:"):
        raise UserError("model=alexnet-fc6 needs data=images:<dir> (an ImageFolder of RGB images)")
    if config.model != "alexnet-fc6" and config.data.startswith("images:"):
        raise UserError("data=images:<dir> is for model=alexnet-fc6 (lenet and rnn take grey digits or MNIST)")
    if any(not 0 <= k <= 1 for k in config.keep_fractions):
        raise UserError("keep_fractions must lie in [0, 1]")
    if any(not 0 <= s <= 10 for s in config.sweep_strengths):
        raise UserError("sweep_strengths must lie in [0, 10]")
    data = load_data(config)
    if data.x_train.shape[1] != (3 if config.model == "alexnet-fc6" else 1):
        raise UserError(f"data '{config.data}' has {data.x_train.shape[1]} channels, model {config.model} needs "
                        f"{3 if config.model == 'alexnet-fc6' else 1}")
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
            sparsity[kind].append(sparsity_curve(net, data, config, dev))
            first.setdefault(kind, net)
    metrics = summarise(results, ctx)

    # 2. cost x strength sweep (locality nets; controls reused from step 1; identical priors trained once)
    sweep_rows = []
    if config.method == "prior" and config.sweep_repeats and config.sweep_costs and config.sweep_strengths:
        n = min(config.sweep_repeats, config.repeats)
        trained = {prior_key(config.cost, config.strength): results["locality"][:n]}
        cells = [(c, s) for c in config.sweep_costs for s in config.sweep_strengths]
        for cost, strength in ctx.progress(cells, description="cost sweep"):
            key = prior_key(cost, strength)
            if key not in trained:
                trained[key] = [
                    measure(train_net(config, data, seeds[r], dev, "locality", cost, strength), data, dev, 0, seeds[r])
                    for r in range(n)
                ]
            sweep_rows.append(sweep_row(cost, strength, trained[key], results["control"][:n]))
        ctx.table("Cost sweep (locality nets vs the controls of the same seeds)", sweep_rows)
        ctx.note(
            "The power-law costs are one family: linear, sqrt and quadratic give P = (1 + d)^−a with a = 1, 0.5 and 2 "
            "times the strength, so cells with the same a share one prior (and one set of trained networks)."
        )

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


def _mean(values) -> float:
    """Mean of the finite values (NaN, quietly, when there are none: e.g. smoothness of a sheet of dead units)."""
    a = np.asarray(values, dtype=float).ravel()
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


def summarise(results: dict, ctx: RunContext) -> dict[str, float]:
    var = {k: np.concatenate([r["var_image"] for r in v]) for k, v in results.items()}
    t, p = topo.paired_ttest(var["locality"], var["control"])
    vc = {k: np.concatenate([r["var_class"] for r in v]) for k, v in results.items()}
    t_c, p_c = topo.paired_ttest(vc["locality"], vc["control"])
    m = {}
    for k, v in results.items():
        m[f"acc_{k}"] = float(np.mean([r["acc"] for r in v]))
        m[f"spatial_var_{k}"] = _mean(var[k])
        m[f"smoothness_{k}"] = _mean([r["smooth"].value for r in v])
    m.update({"t": t, "p": p})
    m.update({
        "spatial_var_class_control": _mean(vc["control"]),
        "spatial_var_class_locality": _mean(vc["locality"]),
        "t_class": t_c, "p_class": p_c,
        "smoothness_shuffled": _mean([r["smooth"].shuffled for v in results.values() for r in v]),
    })
    rows = []
    for k, v in results.items():
        rows += [{"net": k, "seed": i, "accuracy %": r["acc"], "spatial variance (images)": _mean(r["var_image"]),
                  "spatial variance (class means)": _mean(r["var_class"]),
                  "smoothness": r["smooth"].value, "shuffled": r["smooth"].shuffled} for i, r in enumerate(v)]
    ctx.table("Per seed", rows)
    ctx.note(
        f"Paired t-test over {int(np.isfinite(var['locality'] - var['control']).sum())} (test image, seed) pairs, "
        f"locality − control spatial variance: t = {t:.3g}, p = {p:.3g}. Over class-mean maps "
        f"({len(vc['control'])} (class, seed) pairs): t = {t_c:.3g}, p = {p_c:.3g}. "
        "The study (LeNet, MNIST, one seed): 8.458 vs 8.667, t = −6.49, p = 1.35e-10; accuracy 97.9 vs 98.1."
    )
    return m


EXPONENT = {"sqrt": 0.5, "linear": 1.0, "quadratic": 2.0}


def prior_key(cost: str, strength: float) -> tuple:
    """Power-law costs are (1 + d)^−(k·strength): cells with the same product have the same prior."""
    return ("power", EXPONENT[cost] * strength) if cost in EXPONENT else (cost, strength)


def sweep_row(cost: str, strength: float, runs: list[dict], controls: list[dict]) -> dict:
    loc = np.concatenate([r["var_image"] for r in runs])
    ctl = np.concatenate([r["var_image"] for r in controls])
    t, p = topo.paired_ttest(loc, ctl)
    kind, a = prior_key(cost, strength)
    return {
        "cost": cost, "strength": strength, "P": f"(1+d)^-{a:g}" if kind == "power" else f"exp(-d)^{a:g}",
        "accuracy %": float(np.mean([r["acc"] for r in runs])),
        "control accuracy %": float(np.mean([r["acc"] for r in controls])),
        "spatial variance": _mean(loc), "control variance": _mean(ctl),
        "t": t, "p": p, "smoothness": _mean([r["smooth"].value for r in runs]),
    }


# ----------------------------------------------------------------------------------------------
# figures

COLORS = {"control": "tab:blue", "locality": "tab:orange"}


def figures(config: Config, ctx: RunContext, results: dict, sparsity: dict, first: dict, sweep_rows: list) -> None:
    import matplotlib.pyplot as plt

    side = side_of(first["control"])
    k = results["control"][0]["class_maps"].shape[0]

    # class-mean maps, first seed (one colour scale per network)
    fig, axes = plt.subplots(2, k, figsize=(1.5 * k + 1, 3.6), squeeze=False)
    for row, (kind, runs) in enumerate(results.items()):
        cm = runs[0]["class_maps"]
        for c in range(k):
            ax = axes[row, c]
            im = ax.imshow(cm[c].reshape(side, side), cmap="hot", interpolation="nearest", vmin=0,
                           vmax=np.nanmax(cm))
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(f"class {c}", fontsize=9)
        axes[row, 0].set_ylabel(kind)
        fig.colorbar(im, ax=list(axes[row]), fraction=0.015, pad=0.01, label="mean activation")
    fig.suptitle(f"Per-class mean activation of the {side}x{side} sheet ({config.model}, seed {ctx.seed})")
    ctx.save_figure("class_maps", fig)

    # the prior for a centre and a corner unit
    layer_in, sheet = sheet_shapes(first["control"], config)
    p = locality_prior(layer_in, sheet, config.layout, config.cost, config.length_scale, config.strength)
    in_side = layer_in if isinstance(layer_in, tuple) else (1, layer_in)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
    for ax, (title, unit) in zip(axes, [("centre unit", (side // 2) * side + side // 2), ("corner unit", 0)]):
        im = ax.imshow(p[unit].reshape(in_side).numpy(), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"prior P for the {title}")
        ax.set_xlabel("input unit column"), ax.set_ylabel("input unit row")
    fig.colorbar(im, ax=list(axes), label="P (fraction transmitted)")
    fig.suptitle(f"Locality prior: {config.cost} cost, strength {config.strength}, {config.layout} layout")
    ctx.save_figure("prior", fig)

    # spatial variance per class
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.38
    for i, kind in enumerate(results):
        v = np.stack([r["var_class"] for r in results[kind]])
        ax.bar(np.arange(k) + (i - 0.5) * width, np.nanmean(v, 0), width, yerr=np.nanstd(v, 0), label=kind,
               color=COLORS[kind], capsize=2)
    uniform = topo.spatial_variance(np.ones(side * side), sheet)
    ax.axhline(uniform, color="grey", ls="--", lw=1, label="uniform map")
    lo = np.nanmin([np.nanmin(r["var_class"]) for v in results.values() for r in v])
    ax.set_ylim(max(0, 0.8 * lo), None)
    ax.set_xticks(range(k)), ax.set_xlabel("class"), ax.set_ylabel("spatial variance (grid units²)")
    ax.set_title(f"Spatial variance of class-mean maps (mean ± SD over {len(results['control'])} seeds)")
    ax.legend(fontsize=8)
    ctx.save_figure("spatial_variance", fig)

    # smoothness curves
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for kind, runs in results.items():
        curves = np.stack([r["smooth"].curve for r in runs])
        centres = runs[0]["smooth"].bin_centres
        sm = _mean([r["smooth"].value for r in runs])
        ax.plot(centres, np.nanmean(curves, 0), "o-", color=COLORS[kind], label=f"{kind} (smoothness {sm:.2f})")
    ax.set_xlabel("distance between units (grid units)"), ax.set_ylabel("|Δ preference| (1 − r of class tuning)")
    shuffled = _mean([r["smooth"].shuffled for v in results.values() for r in v])
    ax.set_title(f"Tuning difference vs distance (shuffled positions: smoothness {shuffled:.2f})")
    ax.legend(fontsize=8)
    ctx.save_figure("smoothness", fig)

    # sparsity
    fig, ax = plt.subplots(figsize=(6, 3.6))
    keep = np.asarray(config.keep_fractions)
    for kind, curves in sparsity.items():
        c = np.asarray(curves)
        ax.errorbar(keep, c.mean(0), yerr=c.std(0), marker="o", capsize=3, color=COLORS[kind], label=kind)
    ax.set_xscale("log"), ax.set_xlabel("fraction of sheet connections kept (largest |W ⊙ P|)")
    ax.set_ylabel("test accuracy (%)"), ax.set_title("Accuracy after pruning the sheet layer")
    ax.legend(fontsize=8)
    ctx.save_figure("sparsity", fig)

    if sweep_rows:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
        for (ax, key, ctl_key, label) in zip(
            axes, ["accuracy %", "spatial variance", "smoothness"], ["control accuracy %", "control variance", None],
            ["test accuracy (%)", "spatial variance (images)", "smoothness"],
        ):
            for cost in dict.fromkeys(r["cost"] for r in sweep_rows):
                rows = [r for r in sweep_rows if r["cost"] == cost]
                ax.plot([r["strength"] for r in rows], [r[key] for r in rows], "o-", label=cost)
            ref = sweep_rows[0][ctl_key] if ctl_key else _mean(
                [r["smooth"].value for r in results["control"][: config.sweep_repeats]])
            ax.axhline(ref, color=COLORS["control"], ls="--", lw=1, label="control")
            ax.set_xlabel("prior strength (P = g(d)^strength)"), ax.set_ylabel(label)
        axes[0].legend(fontsize=8, title="cost")
        n = min(config.sweep_repeats, config.repeats)
        fig.suptitle(f"Cost sweep ({n} seed{'s' if n > 1 else ''} per point; control: the same seeds)")
        ctx.save_figure("sweep", fig)

