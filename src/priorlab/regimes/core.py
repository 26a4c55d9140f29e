"""Parameter regimes for any ``nn.Module``: which tensors learning may change, and how weights are made (w = H(u)).

``apply(model, regime, **options)`` modifies the module in place and returns it:

- freezing is ``requires_grad`` (optimizers skip tensors whose ``.grad`` stays ``None``);
- transformations are ``torch.nn.utils.parametrize`` parametrizations (see ``parametrizations.py``).

Tensor kinds, decided by name and owner: a *weight* is a parameter whose name contains ``weight`` in any
module that is not a normalisation layer (Linear, ConvNd, RNN/LSTM/GRU ``weight_ih_l0`` …, Embedding); a
*bias* is one whose name contains ``bias`` outside normalisation layers; *norm* tensors are the affine terms of
BatchNorm/LayerNorm/GroupNorm/InstanceNorm/RMSNorm. Buffers (BatchNorm running statistics) are not parameters:
they still update in ``train()`` mode under every regime; call ``model.eval()`` to keep them fixed.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from priorlab.regimes import parametrizations as pz

NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*
    nn.LayerNorm,
    nn.GroupNorm,
) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())


# ----------------------------------------------------------------------------------------------
# finding tensors


def is_norm(module: nn.Module) -> bool:
    return isinstance(module, NORM_TYPES)


def _own_tensors(module: nn.Module) -> list[str]:
    """Names of the tensors a module owns directly, parametrized ones under their plain name."""
    names = [n for n, _ in module.named_parameters(recurse=False)]
    if parametrize.is_parametrized(module):
        names += list(module.parametrizations.keys())
    return names


def tensors(model: nn.Module, kind: str) -> list[tuple[str, nn.Module, str]]:
    """(path, owner module, tensor name) of every ``weight``, ``bias`` or ``norm`` tensor, in module order."""
    out = []
    for path, module in model.named_modules():
        if path.endswith("parametrizations") or ".parametrizations." in f".{path}.":
            continue  # parametrization internals
        for name in _own_tensors(module):
            norm = is_norm(module)
            if (
                (kind == "norm" and norm)
                or (kind == "weight" and not norm and "weight" in name)
                or (kind == "bias" and not norm and "bias" in name)
            ):
                out.append((path, module, name))
    return out


def _param_owner(name: str) -> str:
    """The layer path that owns a parameter name as ``named_parameters`` writes it."""
    if name.startswith("parametrizations."):
        return ""
    if ".parametrizations." in name:
        return name.split(".parametrizations.")[0]
    return name.rpartition(".")[0]


def submodule(model: nn.Module, path: str) -> nn.Module:
    """The module at ``path`` (as ``print(model)`` names it); a ValueError listing the layers if there is none."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        names = [n for n, m in model.named_modules() if n and any(True for _ in m.parameters(recurse=False))]
        raise ValueError(
            f"no layer {path!r} in the model (layers with parameters: {', '.join(names)})"
        ) from None


def find_readout(model: nn.Module, layer: str | None = None) -> tuple[str, nn.Module]:
    """The readout layer: the module at ``layer`` or else the last ``nn.Linear`` in module order."""
    if layer is not None:
        return layer, submodule(model, layer)
    last = None
    for path, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = (path, module)
    if last is None:
        raise ValueError("the model has no nn.Linear to use as readout; pass layer='path.to.module'")
    return last


# ----------------------------------------------------------------------------------------------
# the regimes


def _ids(items: list[tuple[str, nn.Module, str]]) -> set[int]:
    """Identities of the stored tensors behind (path, module, name) triples."""
    out = set()
    for _, module, name in items:
        if parametrize.is_parametrized(module, name):
            out.update(id(p) for p in module.parametrizations[name].parameters())
        else:
            out.add(id(getattr(module, name)))
    return out


def _by_id(model: nn.Module, keep: set[int]) -> None:
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)


def _full(model):
    model.requires_grad_(True)


def _frozen(model):
    model.requires_grad_(False)


def _bias_only(model, learn_norm: bool = False):
    keep = _ids(tensors(model, "bias"))
    if learn_norm:
        keep |= _ids(tensors(model, "norm"))
    _by_id(model, keep)


def _readout(model, layer: str | None = None):
    _, module = find_readout(model, layer)
    _by_id(model, {id(p) for p in module.parameters()})


def _register(model: nn.Module, make) -> list[nn.Module]:
    """Register ``make(weight)`` on every weight tensor; returns the parametrization modules."""
    made = []
    for _, module, name in tensors(model, "weight"):
        p = make(getattr(module, name))
        parametrize.register_parametrization(module, name, p)
        made.append(p)
    if not made:
        raise ValueError("the model has no weight tensors to parametrize")
    return made


def _mask(model, fraction: float = 0.5):
    made = _register(model, lambda w: pz.Mask(w, fraction))
    _by_id(model, {id(m.scores) for m in made})


PERMUTE_METHODS = {"rank": pz.Permute, "sinkhorn": pz.SinkhornPermute}


def _permute(model, method: str = "rank"):
    if method not in PERMUTE_METHODS:
        raise ValueError(f"unknown permute method {method!r} (allowed: {', '.join(PERMUTE_METHODS)})")
    made = _register(model, PERMUTE_METHODS[method])
    if method == "rank":  # the latents are the stored tensors
        _by_id(model, _ids(tensors(model, "weight")))
    else:  # the stored weights are the fixed values; the logits learn
        _by_id(model, {id(m.logits) for m in made})


def _shared(model, map: dict | None = None, fraction: float = 0.1, seed: int = 0):
    """``map``: {"layer.weight": index tensor of the weight's shape}; other weights stay free.
    Without a map every weight is tied HashedNets-style into ceil(fraction · numel) random groups."""
    if map is None:
        ws = tensors(model, "weight")
        for i, (_, module, name) in enumerate(ws):
            w = getattr(module, name)
            k = min(w.numel(), max(1, math.ceil(fraction * w.numel() - 1e-9)))
            parametrize.register_parametrization(module, name, pz.Shared(pz.hashed_index(w.shape, k, seed + i)))
    else:
        for key, index in map.items():
            path, _, name = key.rpartition(".")
            module = submodule(model, path)
            if not hasattr(module, name):
                raise ValueError(f"shared map key {key!r} names no tensor of the model")
            parametrize.register_parametrization(module, name, pz.Shared(index))
    _full(model)


def _hyper(
    model,
    target: str | list[str] | None = None,
    embed_dim: int = 8,
    chunk: int = 64,
    hidden: int = 32,
    from_input: bool = False,
    seed: int = 0,
):
    """``target``: a layer path (or list); None = every weight tensor. One generator is shared by all targets."""
    generator = pz.Generator(embed_dim, chunk, hidden)
    if target is None:
        items = tensors(model, "weight")
    else:
        paths = [target] if isinstance(target, str) else list(target)
        items = []
        for path in paths:
            module = submodule(model, path)
            names = [n for n in _own_tensors(module) if "weight" in n]
            if not names:
                raise ValueError(f"hyper target {path!r} has no weight tensor")
            items += [(path, module, n) for n in names]
    if from_input:
        for i, (path, module, _) in enumerate(items):
            if not isinstance(module, nn.Linear):
                raise TypeError(
                    f"hyper from_input=True needs nn.Linear targets; {path!r} is {type(module).__name__}"
                )
            parent, _, child = path.rpartition(".")
            owner = model.get_submodule(parent) if parent else model
            if owner is module:
                raise ValueError("hyper from_input=True cannot replace the model itself; target a sub-layer")
            setattr(owner, child, pz.InputHyperLinear(module, generator, seed=seed + i))
    else:
        for i, (_, module, name) in enumerate(items):
            parametrize.register_parametrization(
                module, name, pz.Hyper(getattr(module, name), generator, seed=seed + i)
            )
    _full(model)


def _locality(
    model,
    layers: str | list[str] | None = None,
    layout: str = "grid",
    cost: str = "linear",
    length_scale: float = 1.0,
    strength: float = 1.0,
    form: str = "weights",
):
    """The fixed locality prior (priorlab.nets.locality) on every nn.Linear and nn.Conv2d (or the modules at
    ``layers``): a Linear's inputs and outputs, a Conv2d's input and output channels, each on a sheet (the most
    square rows × cols grid of the count for grid/torus), W ↦ W ⊙ P; every raw tensor learns."""
    from priorlab.nets.locality import LAYOUTS, apply_locality, square_sheet

    if layout not in LAYOUTS:
        raise ValueError(f"locality layout must be one of {LAYOUTS}, got {layout!r}")
    if layers is None:
        items = [(p, m) for p, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    else:
        items = [(p, submodule(model, p)) for p in ([layers] if isinstance(layers, str) else layers)]
    if not items:
        raise ValueError("the model has no nn.Linear or nn.Conv2d for the locality prior; pass layers=[...]")
    for path, module in items:
        w = getattr(module, "weight", None)
        if not isinstance(w, torch.Tensor) or w.dim() < 2:
            raise ValueError(f"locality: {path!r} ({type(module).__name__}) has no weight matrix or kernel")
        n_out, n_in = w.shape[0], w.shape[1]
        shape = (lambda n: n) if layout == "line" else square_sheet
        apply_locality(module, shape(n_in), shape(n_out), layout=layout, cost=cost, length_scale=length_scale,
                       strength=strength, form=form)
    _full(model)


REGIMES = {
    "full": _full,
    "frozen": _frozen,
    "bias_only": _bias_only,
    "readout": _readout,
    "mask": _mask,
    "permute": _permute,
    "shared": _shared,
    "hyper": _hyper,
    "locality": _locality,
}
_PARAMETRIZING = {"mask", "permute", "shared", "hyper", "locality"}


def apply(model: nn.Module, regime: str, **options) -> nn.Module:
    """Put ``model`` under ``regime`` in place and return it.

    Regimes and options:
      full;
      frozen                        nothing learns (every requires_grad off): evaluate the model as it is;
                                    priorlab.train.loop.fit refuses it with "nothing to train";
      bias_only(learn_norm=False)   biases learned (and norm-layer affine terms when learn_norm);
      readout(layer=None)           only the readout (last nn.Linear, or the module at ``layer``) learned;
      mask(fraction=0.5)            edge-popup supermask scores learned over frozen weights;
      permute(method="rank")        each weight an exact permutation of its initial values (rank | sinkhorn);
      shared(map=None, fraction=0.1, seed=0)  w = u[index] per weight tensor (map: {"path.weight": index});
      hyper(target=None, embed_dim=8, chunk=64, hidden=32, from_input=False, seed=0)  generated weights;
      locality(layers=None, layout="grid", cost="linear", length_scale=1.0, strength=1.0, form="weights")
                                    W ⊙ P on every Linear and Conv2d (channels on a sheet), P = g(distance).

    :func:`remove` bakes the parametrizing regimes back into plain weights.
    """
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r} (allowed: {', '.join(REGIMES)})")
    fn = REGIMES[regime]
    allowed = [p for p in inspect.signature(fn).parameters if p != "model"]
    for key in options:
        if key not in allowed:
            raise TypeError(
                f"regime {regime!r} has no option {key!r} (allowed: {', '.join(allowed) or 'none'})"
            )
    if regime in _PARAMETRIZING and any(parametrize.is_parametrized(m) for m in model.modules()):
        raise ValueError(f"the model already has parametrizations; apply {regime!r} to a fresh model")
    fn(model, **options)
    return model


def remove(model: nn.Module) -> nn.Module:
    """Bake every parametrization (mask, permute, shared, hyper, locality, any ``torch.nn.utils.parametrize`` one)
    into plain weights, in place, and return the model: its state_dict then has the plain architecture's keys
    (``weight``, not ``parametrizations.weight.original``) and its outputs are unchanged. Each baked tensor keeps
    its ``requires_grad``. ``hyper(from_input=True)`` layers make their weights from each input and cannot be
    baked (a ValueError)."""
    for path, module in model.named_modules():
        if isinstance(module, pz.InputHyperLinear):
            raise ValueError(
                f"{path or 'the model'} is a hyper(from_input=True) layer: its weights depend on each input, "
                "so there are no plain weights to bake"
            )
    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return model


# ----------------------------------------------------------------------------------------------
# summary


class Summary(list):
    """Rows ``{"layer", "trainable", "total"}`` (one per module owning parameters) with ``.trainable``, ``.total``."""

    @property
    def trainable(self) -> int:
        return sum(r["trainable"] for r in self)

    @property
    def total(self) -> int:
        return sum(r["total"] for r in self)

    def rows(self) -> list[dict]:
        """The rows plus a final ``total`` row (for a report table)."""
        return [*self, {"layer": "total", "trainable": self.trainable, "total": self.total}]

    def __str__(self) -> str:
        rows = self.rows()
        w = max(len(r["layer"]) for r in rows)
        lines = [f"{'layer':<{w}}  {'trainable':>10}  {'total':>10}"]
        lines += [f"{r['layer']:<{w}}  {r['trainable']:>10,}  {r['total']:>10,}" for r in rows]
        return "\n".join(lines)


def summary(model: nn.Module) -> Summary:
    """Trainable and total parameter counts per layer (parametrization tensors counted with their layer;
    a tensor shared between layers is counted once, with the first layer that holds it)."""
    rows: dict[str, dict] = {}
    for name, p in model.named_parameters():
        layer = _param_owner(name) or "(model)"
        row = rows.setdefault(layer, {"layer": layer, "trainable": 0, "total": 0})
        row["total"] += p.numel()
        if p.requires_grad:
            row["trainable"] += p.numel()
    return Summary(rows.values())


# ----------------------------------------------------------------------------------------------
# closed-form readout


@dataclass
class Ridge:
    weight: torch.Tensor  # [outputs, features], nn.Linear convention
    bias: torch.Tensor  # [outputs]


def ridge_readout(
    features: torch.Tensor, targets: torch.Tensor, lam: float = 1e-6, bias: bool = True
) -> Ridge:
    """Ridge regression minimising ||F Wᵀ + b − Y||² + lam ||W||² (the bias unpenalised), in float64 via the SVD.

    features [n, p]; targets [n] or [n, k] (class labels: pass one-hot). Works for p > n and lam = 0 (minimum-norm
    least squares). Returns weight [k, p] and bias [k] in the features' dtype.
    """
    if features.dim() != 2:
        raise ValueError(f"features must be [n, p], got shape {tuple(features.shape)}")
    if lam < 0:
        raise ValueError(f"ridge lam must be >= 0, got {lam}")
    y = targets[:, None] if targets.dim() == 1 else targets
    if y.shape[0] != features.shape[0]:
        raise ValueError(f"features have {features.shape[0]} rows, targets {y.shape[0]}")
    f64, y64 = features.double(), y.double()
    if bias:
        fm, ym = f64.mean(0), y64.mean(0)
        f64, y64 = f64 - fm, y64 - ym
    u, s, vh = torch.linalg.svd(f64, full_matrices=False)
    tol = s.max() * max(f64.shape) * torch.finfo(torch.float64).eps if s.numel() else 0.0
    shrink = torch.where(s > tol, s / (s**2 + lam), torch.zeros_like(s))
    w = vh.T @ (shrink[:, None] * (u.T @ y64))  # [p, k]
    b = (ym - fm @ w) if bias else torch.zeros(y64.shape[1], dtype=torch.float64)
    return Ridge(weight=w.T.to(features.dtype), bias=b.to(features.dtype))


@torch.no_grad()
def fit_readout(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, lam: float = 1e-6, layer: str | None = None
) -> Ridge:
    """Solve the readout layer (an ``nn.Linear``) of ``model`` in closed form on (inputs, targets) and write it in.

    The features are what the readout receives when ``model(inputs)`` runs (captured by a forward pre-hook).
    Targets are what the readout should output (one-hot for classes).
    """
    path, module = find_readout(model, layer)
    if not isinstance(module, nn.Linear):
        raise TypeError(f"closed-form readout needs an nn.Linear; {path!r} is {type(module).__name__}")
    captured = {}
    handle = module.register_forward_pre_hook(lambda m, args: captured.setdefault("x", args[0].detach()))
    try:
        model(inputs)
    finally:
        handle.remove()
    feats = captured["x"].reshape(-1, module.in_features)
    fit = ridge_readout(
        feats, targets.reshape(feats.shape[0], -1).to(feats.dtype), lam, bias=module.bias is not None
    )
    module.weight.copy_(fit.weight)
    if module.bias is not None:
        module.bias.copy_(fit.bias)
    return fit
