"""A locality prior for fully connected layers (and convolutions' channels): units sit on a sheet, long connections
transmit less.

The units of a layer's input and output are given positions on a 1-D line, a 2-D grid (no wraparound) or a
torus. A fixed prior matrix ``P[i, j] = g(d_ij)`` shrinks each connection by the distance ``d_ij`` between
output unit ``i`` and input unit ``j``, and the layer computes with the effective weight ``W ⊙ P``::

    cost        g(d)                      (d in units of the output grid, divided by length_scale)
    linear      1 / (1 + d)               the study's choice
    sqrt        1 / sqrt(1 + d)
    quadratic   1 / (1 + d)^2
    exp         exp(-d)

``strength`` s raises the prior to a power, ``P = g(d)^s``: s = 0 gives all ones (no prior, the control),
s = 1 the study's prior, s > 1 a steeper one.

Inputs and outputs of different sizes are mapped to common coordinates: each unit sits at the centre of its
cell, and the input sheet is stretched to cover the output sheet (positions in output-grid units).

The prior is a :mod:`torch.nn.utils.parametrize` parametrization (a buffer P and ``forward(W) = W * P``), so the
trainable parameter stays the raw ``W`` (``layer.parametrizations.weight.original``); gradients reach ``W``,
never ``P``, and weight decay on ``W`` makes long connections expensive (a long connection needs a large
``W`` to transmit anything). Two forms:

- ``form="weights"`` — ``y = (W ⊙ P) x + b``: what the study's code does. Each connection is shrunk by its own
  length, so the layer becomes local.
- ``form="output"`` — ``y = r ⊙ (W x + b)`` with ``r_i`` the mean of row ``i`` of P: the study's README formula
  ``A = P ⊙ (Wx + b)`` read literally (a K×K matrix times a K-vector broadcasts to one gain per output unit).
  It rescales whole units — central units get a larger gain than corner units — but says nothing about
  *which* inputs a unit listens to, so it cannot make connections local. It is kept as a control: the same
  gain profile with no locality.

As an alternative to the fixed prior, :func:`wiring_cost` gives the penalty ``λ Σ |W_ij| d_ij`` (an L1 penalty
weighted by connection length) to add to the loss of an ordinary layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

LAYOUTS = ("line", "grid", "torus")
COSTS = ("linear", "sqrt", "quadratic", "exp")
FORMS = ("weights", "output")

Shape = int | Sequence[int]


# ----------------------------------------------------------------------------------------------
# geometry


def sheet_shape(shape: Shape, layout: str) -> tuple[int, ...]:
    """The (length,) of a line or (rows, cols) of a grid/torus; a square count n maps to (√n, √n)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    dims = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(s < 1 for s in dims):
        raise ValueError(f"sheet sizes must be positive, got {dims}")
    if layout == "line":
        return (math.prod(dims),)
    if len(dims) == 1:
        side = math.isqrt(dims[0])
        if side * side != dims[0]:
            raise ValueError(f"a {layout} of {dims[0]} units needs (rows, cols); {dims[0]} is not a square")
        dims = (side, side)
    if len(dims) != 2:
        raise ValueError(f"a {layout} takes (rows, cols), got {dims}")
    return dims


def positions(shape: Shape, layout: str = "grid", frame: Shape | None = None) -> torch.Tensor:
    """Unit positions [n, dims], row-major, at cell centres in the units of ``frame``'s grid (default: own grid).

    A sheet of n cells stretched over a frame of m cells puts cell k at ``(k + 0.5) * m / n - 0.5``, so that
    equal sizes give integer positions 0..n-1.
    """
    dims = sheet_shape(shape, layout)
    ref = sheet_shape(frame, layout) if frame is not None else dims
    axes = [(torch.arange(n, dtype=torch.float64) + 0.5) * m / n - 0.5 for n, m in zip(dims, ref)]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([a.reshape(-1) for a in mesh], dim=1)


def distances(in_shape: Shape, out_shape: Shape, layout: str = "grid") -> torch.Tensor:
    """Distance d[i, j] between output unit i and input unit j, in output-grid units (Euclidean; a torus wraps)."""
    period = torch.tensor(sheet_shape(out_shape, layout), dtype=torch.float64)
    p_in = positions(in_shape, layout, frame=out_shape)
    p_out = positions(out_shape, layout)
    d2 = torch.zeros(len(p_out), len(p_in), dtype=torch.float64)
    for axis in range(p_in.shape[1]):  # one axis at a time: a 4096x4096 sheet stays at two [n_out, n_in] arrays
        diff = (p_out[:, axis, None] - p_in[None, :, axis]).abs()
        if layout == "torus":
            diff = torch.minimum(diff, period[axis] - diff)
        d2 += diff.pow(2)
    return d2.sqrt()


def locality_prior(
    in_shape: Shape,
    out_shape: Shape,
    layout: str = "grid",
    cost: str = "linear",
    length_scale: float = 1.0,
    strength: float = 1.0,
) -> torch.Tensor:
    """The prior P [n_out, n_in] (float32): ``g(d / length_scale) ** strength`` for the cost g (module docstring)."""
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
    if not length_scale > 0:
        raise ValueError(f"length_scale must be > 0, got {length_scale}")
    if not strength >= 0:
        raise ValueError(f"strength must be ≥ 0, got {strength}")
    d = distances(in_shape, out_shape, layout) / length_scale
    g = {
        "linear": lambda: 1.0 / (1.0 + d),
        "sqrt": lambda: 1.0 / (1.0 + d).sqrt(),
        "quadratic": lambda: 1.0 / (1.0 + d) ** 2,
        "exp": lambda: torch.exp(-d),
    }[cost]()
    return g.pow(strength).float()


POWER = {"sqrt": 0.5, "linear": 1.0, "quadratic": 2.0}


def prior_family(cost: str, strength: float) -> tuple[str, float]:
    """Which prior a (cost, strength) pair gives: ``("power", a)`` for P = (1 + d)^−a (linear, sqrt and quadratic are
    one family, a = 1, ½, 2 × strength) or ``("exp", strength)``; equal pairs give the same P."""
    return ("power", POWER[cost] * strength) if cost in POWER else (cost, strength)


# ----------------------------------------------------------------------------------------------
# the parametrization


class Prior(nn.Module):
    """Parametrization ``W ↦ W ⊙ P`` with P a fixed buffer (broadcast: a [n_out, 1] or [n_out] P is a per-unit gain)."""

    def __init__(self, prior: torch.Tensor):
        super().__init__()
        self.register_buffer("prior", prior)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w * self.prior


def _shapes_of(module: nn.Module, name: str) -> tuple[int, int]:
    """(n_in, n_out) of a weight matrix, or the (in, out) channels of a convolution's kernel [out, in, *k]."""
    w = getattr(module, name)
    if w.dim() < 2:
        raise ValueError(f"{name} must be a matrix or a convolution kernel, got shape {tuple(w.shape)}")
    if w.dim() > 2 and getattr(module, "groups", 1) != 1:
        raise ValueError(f"a grouped convolution (groups={module.groups}) has no full channel-to-channel matrix")
    return w.shape[1], w.shape[0]


def square_sheet(n: int) -> tuple[int, int]:
    """The most square rows × cols grid of `n` units (rows ≤ cols; a prime n gives 1 × n, a line)."""
    rows = max(r for r in range(1, math.isqrt(n) + 1) if n % r == 0)
    return rows, n // rows


def apply_locality(
    module: nn.Module,
    in_shape: Shape | None = None,
    out_shape: Shape | None = None,
    *,
    name: str = "weight",
    layout: str = "grid",
    cost: str = "linear",
    length_scale: float = 1.0,
    strength: float = 1.0,
    form: str = "weights",
) -> nn.Module:
    """Put the locality prior on ``module.<name>`` (any nn.Linear, ``name="weight_hh_l0"`` of an nn.RNN, or an
    nn.Conv1d/2d/3d).

    Shapes default to the matrix's own sizes (a square count becomes a square grid). ``form="output"`` also
    scales the matching bias (``bias``, or ``bias_hh_l0`` for ``weight_hh_l0``) by the same per-unit gain.
    A convolution's channels sit on the sheets (its input channels on one, its output channels on the other) and
    P [out, in] scales each channel-to-channel connection: the kernel becomes ``W[o, i] · P[o, i]`` at every
    spatial offset. Returns the module (modified in place).
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    n_in, n_out = _shapes_of(module, name)
    in_shape = n_in if in_shape is None else in_shape
    out_shape = n_out if out_shape is None else out_shape
    p = locality_prior(in_shape, out_shape, layout, cost, length_scale, strength)
    if p.shape != (n_out, n_in):
        raise ValueError(f"sheets {in_shape} -> {out_shape} give a {tuple(p.shape)} prior for a {n_out}x{n_in} {name}")
    w = getattr(module, name)
    p = p.to(w.device)
    spatial = (1,) * (w.dim() - 2)  # a convolution's kernel offsets share their channel pair's prior
    if form == "weights":
        parametrize.register_parametrization(module, name, Prior(p.reshape(*p.shape, *spatial)))
        return module
    gain = p.mean(dim=1)
    parametrize.register_parametrization(module, name, Prior(gain.reshape(-1, 1, *spatial)))
    bias_name = name.replace("weight", "bias")
    if getattr(module, bias_name, None) is not None:
        parametrize.register_parametrization(module, bias_name, Prior(gain))
    return module


class LocalityLinear(nn.Linear):
    """An nn.Linear from a sheet of ``in_shape`` units to a sheet of ``out_shape`` units carrying the prior.

    ``layer.weight`` is the effective weight (W ⊙ P); the trainable W is
    ``layer.parametrizations.weight.original`` and the prior ``layer.prior``.
    """

    def __init__(
        self,
        in_shape: Shape,
        out_shape: Shape,
        bias: bool = True,
        *,
        layout: str = "grid",
        cost: str = "linear",
        length_scale: float = 1.0,
        strength: float = 1.0,
        form: str = "weights",
    ):
        n_in = math.prod(sheet_shape(in_shape, layout))
        n_out = math.prod(sheet_shape(out_shape, layout))
        super().__init__(n_in, n_out, bias=bias)
        self.in_shape, self.out_shape, self.layout = in_shape, out_shape, layout
        self.cost, self.form = cost, form
        apply_locality(
            self, in_shape, out_shape, layout=layout, cost=cost, length_scale=length_scale,
            strength=strength, form=form,
        )

    @property
    def prior(self) -> torch.Tensor:
        """P [n_out, n_in] (for form="output", the per-unit gain broadcast to [n_out, 1])."""
        return self.parametrizations.weight[0].prior

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, layout={self.layout}, cost={self.cost}, form={self.form}"


# ----------------------------------------------------------------------------------------------
# wiring cost and pruning


def wiring_cost(weight: torch.Tensor, dist: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """``λ Σ |W_ij| d_ij``: an L1 penalty weighted by connection length (add it to the loss)."""
    return lam * (weight.abs() * dist.to(weight)).sum()


def raw_weight(module: nn.Module, name: str = "weight") -> torch.Tensor:
    """The trainable matrix: the parametrization's original when there is one, else the weight itself."""
    if parametrize.is_parametrized(module, name):
        return getattr(module.parametrizations, name).original
    return getattr(module, name)


def pruning_curve(module: nn.Module, keep: Sequence[float], evaluate, name: str = "weight") -> list:
    """``evaluate()`` after :func:`prune_smallest` to each kept fraction, restoring the trained weights after each."""
    w = raw_weight(module, name)
    saved = w.detach().clone()
    out = []
    for k in keep:
        prune_smallest(module, k, name)
        out.append(evaluate())
        with torch.no_grad():
            w.copy_(saved)
    return out


@torch.no_grad()
def prune_smallest(module: nn.Module, keep: float, name: str = "weight") -> int:
    """Zero the raw weights whose effective weight |W ⊙ P| is smallest, keeping a fraction ``keep``.

    Returns the number of connections kept (ties at the threshold are kept).
    """
    if not 0.0 <= keep <= 1.0:
        raise ValueError(f"keep must be in [0, 1], got {keep}")
    effective = getattr(module, name).abs()
    n_keep = round(keep * effective.numel())
    mask = torch.zeros_like(effective, dtype=torch.bool)
    if n_keep > 0:
        threshold = effective.flatten().kthvalue(effective.numel() - n_keep + 1).values
        mask = effective >= threshold
    raw_weight(module, name).mul_(mask)
    return int(mask.sum())
