"""Mean-field signal propagation through deep random networks (Poole et al. 2016; Schoenholz et al. 2017).

A fully connected network with weights N(0, σ_w²/fan_in), biases N(0, σ_b²) and an elementwise activation φ.
Two inputs with mean squared entry q0 and (uncentred) correlation c0. In the wide limit the pre-activations
h^l = W^l φ(h^{l-1}) + b^l of both inputs are Gaussian with, at layer l + 1,

    q^{l+1}   = σ_w² E[φ(u)²] + σ_b²,                 u ~ N(0, q^l)               (length map)
    q12^{l+1} = σ_w² E[φ(u1) φ(u2)] + σ_b²,           (u1, u2) ~ N(0, q^l [[1, c], [c, 1]])
    c^{l+1}   = q12^{l+1} / q^{l+1}                                                (correlation map)

and the first weight layer W x + b gives q^1 = σ_w² q0 + σ_b², c^1 = (σ_w² c0 q0 + σ_b²) / q^1.
χ₁ = σ_w² E[φ'(u)²] at the length map's fixed point q* is the slope of the correlation map at c = 1:
χ₁ < 1 is the ordered phase (correlations go to 1), χ₁ > 1 the chaotic phase.
Expectations use Gaussian quadrature (composite Gauss–Legendre against the normal density), so φ may be any
elementwise function.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import erf, expit

Activation = str | Callable

_PHI = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
    "sigmoid": expit,
    "erf": erf,
    "sin": np.sin,
    "cos": np.cos,
}
_DPHI = {
    "tanh": lambda x: 1 - np.tanh(x) ** 2,
    "relu": lambda x: (x > 0).astype(float),
    "linear": np.ones_like,
    "sigmoid": lambda x: expit(x) * (1 - expit(x)),
    "erf": lambda x: 2 / np.sqrt(np.pi) * np.exp(-(x**2)),
    "sin": np.cos,
    "cos": lambda x: -np.sin(x),
}
ACTIVATIONS = tuple(_PHI)
GL_ORDER = 8  # Gauss–Legendre nodes per panel
PANEL = 1.0  # target panel width, in units of the pre-activation
MAX_PANELS = 400


@lru_cache(maxsize=1)
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(GL_ORDER)


def _panels(half: float, max_panels: int) -> int:
    """An even number of panels over [-half, half] (±9 SD): at most PANEL and at most 1 SD wide."""
    return int(min(max_panels, max(18, 2 * np.ceil(half / PANEL))))


def _composite(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on consecutive panels given by their edges (last axis)."""
    x, w = _legendre()
    mid, rad = (edges[..., 1:] + edges[..., :-1]) / 2, (edges[..., 1:] - edges[..., :-1]) / 2
    nodes = mid[..., :, None] + rad[..., :, None] * x
    weights = rad[..., :, None] * w * np.ones_like(nodes)
    return nodes.reshape(*edges.shape[:-1], -1), weights.reshape(*edges.shape[:-1], -1)


def normal_rule(var: float, max_panels: int = MAX_PANELS) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(u)], u ~ N(0, var): composite Gauss–Legendre over ±9 SD in panels about
    PANEL wide (an even number, so u = 0 is a panel edge: kinks at 0 such as ReLU's cost nothing).
    Plain Gauss–Hermite fails here: for large var its nodes straddle the O(1)-wide features of φ."""
    if var <= 0:
        return np.zeros(1), np.ones(1)
    half = 9 * np.sqrt(var)
    u, w = _composite(np.linspace(-half, half, _panels(half, max_panels) + 1))
    w = w * np.exp(-(u**2) / (2 * var))
    return u, w / w.sum()


def _conditional_rule(centers: np.ndarray, var: float, max_panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per center m, nodes and weights for E[f(u)], u ~ N(m, var), with a panel edge at u = 0 in every row."""
    half = 9 * np.sqrt(var)
    m = _panels(half, max_panels)
    h = 2 * half / m
    shift = np.mod(half + h - centers, h)  # puts an edge exactly at u = 0
    edges = centers[:, None] - half - h + shift[:, None] + h * np.arange(m + 2)  # covers [m - half, m + half]
    u, w = _composite(edges)
    w = w * np.exp(-((u - centers[:, None]) ** 2) / (2 * var))
    return u, w / w.sum(1, keepdims=True)


def _elementwise(f: Callable) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a callable so it maps float64 arrays to arrays (torch functions are accepted too)."""

    def g(x: np.ndarray) -> np.ndarray:
        try:
            y = f(x)
        except TypeError:
            import torch

            y = f(torch.from_numpy(np.asarray(x, dtype=np.float64)))
        if hasattr(y, "detach"):
            y = y.detach().cpu().numpy()
        return np.asarray(y, dtype=np.float64)

    return g


def activation_fn(activation: Activation) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(activation, str):
        if activation not in _PHI:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)} or a callable; got {activation!r}"
            )
        return _PHI[activation]
    if not callable(activation):
        raise TypeError(f"activation must be a name or a callable; got {activation!r}")
    return _elementwise(activation)


def derivative_fn(activation: Activation) -> Callable[[np.ndarray], np.ndarray]:
    """φ' for a named activation; a central difference for any other callable."""
    if isinstance(activation, str):
        activation_fn(activation)  # validates the name
        return _DPHI[activation]
    phi, h = activation_fn(activation), 1e-5
    return lambda x: (phi(x + h) - phi(x - h)) / (2 * h)


def gauss_mean(f: Callable, q: float) -> float:
    """E[f(u)] for u ~ N(0, q)."""
    u, w = normal_rule(q)
    return float(w @ f(u))


def gauss_mean2(f: Callable, q: float, c: float) -> float:
    """E[f(u1) f(u2)] for (u1, u2) ~ N(0, q [[1, c], [c, 1]]), as E[f(u1) E[f(u2) | u1]], u2 | u1 ~ N(c u1, q (1 - c²))."""
    c = min(max(c, -1.0), 1.0)
    u1, w1 = normal_rule(q, MAX_PANELS // 4)
    var = q * (1 - c * c)
    if var <= 1e-14 * q:
        inner = f(c * u1)
    else:
        u2, w2 = _conditional_rule(c * u1, var, MAX_PANELS // 4)
        inner = (f(u2) * w2).sum(1)
    return float(w1 @ (f(u1) * inner))


def _check(
    sigma_w: float, sigma_b: float, depth: int | None = None, q0: float | None = None, c0: float | None = None
):
    if sigma_w < 0 or sigma_b < 0:
        raise ValueError(f"sigma_w and sigma_b must be >= 0; got {sigma_w}, {sigma_b}")
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1; got {depth}")
    if q0 is not None and not q0 > 0:
        raise ValueError(f"q0 must be > 0; got {q0}")
    if c0 is not None and not -1 <= c0 <= 1:
        raise ValueError(f"c0 must be in [-1, 1]; got {c0}")


def length_map(
    activation: Activation, sigma_w: float, sigma_b: float, depth: int, q0: float = 1.0
) -> np.ndarray:
    """q^{l+1} for l = 0 … depth-1: the variance of a pre-activation unit at each weight layer."""
    _check(sigma_w, sigma_b, depth, q0)
    phi = activation_fn(activation)
    q = np.empty(depth)
    q[0] = sigma_w**2 * q0 + sigma_b**2
    for l in range(1, depth):
        q[l] = sigma_w**2 * gauss_mean(lambda u: phi(u) ** 2, q[l - 1]) + sigma_b**2
    return q


def correlation_map(
    activation: Activation, sigma_w: float, sigma_b: float, depth: int, c0: float, q0: float = 1.0
) -> np.ndarray:
    """Predicted uncentred correlation of two inputs' pre-activations at weight layers 1 … depth (entry 0 = W x + b)."""
    _check(sigma_w, sigma_b, depth, q0, c0)
    phi = activation_fn(activation)
    q = length_map(activation, sigma_w, sigma_b, depth, q0)
    c = np.empty(depth)
    c[0] = (sigma_w**2 * c0 * q0 + sigma_b**2) / q[0]
    for l in range(1, depth):
        q12 = sigma_w**2 * gauss_mean2(phi, q[l - 1], c[l - 1]) + sigma_b**2
        c[l] = q12 / q[l]
    return c


def fixed_point_q(activation: Activation, sigma_w: float, sigma_b: float, q_max: float = 1e12) -> float:
    """q* of the length map: its first stable fixed point above 0 (inf when q grows without bound, as for
    ReLU with σ_w² ≥ 2; 0 when q decays to 0, as for tanh with σ_b = 0 and σ_w ≤ 1). Found by root bracketing,
    which stays exact near the order/chaos boundary where iterating the map converges very slowly."""
    _check(sigma_w, sigma_b)
    phi = activation_fn(activation)
    gap = lambda q: sigma_w**2 * gauss_mean(lambda u: phi(u) ** 2, q) + sigma_b**2 - q
    lo = 1e-12
    if gap(lo) <= 0:
        return 0.0 if sigma_b == 0 else float(brentq(gap, 0.0, lo))
    hi = 1.0
    while gap(hi) > 0:
        lo, hi = hi, hi * 2
        if hi > q_max:
            return float("inf")
    return float(brentq(gap, lo, hi, xtol=1e-14, rtol=1e-13))


def chi1(activation: Activation, sigma_w: float, sigma_b: float, q: float | None = None) -> float:
    """χ₁ = σ_w² E[φ'(u)²], u ~ N(0, q); at the fixed point q* when q is None."""
    if q is None:
        q = fixed_point_q(activation, sigma_w, sigma_b)
    dphi = derivative_fn(activation)
    if not np.isfinite(q):  # a diverging length map: use a very large q (exact for ReLU, whose χ₁ ignores q)
        q = 1e12
    q = max(q, 1e-30)  # q* = 0 (no bias, ordered phase): the limit q -> 0+
    return sigma_w**2 * gauss_mean(lambda u: dphi(u) ** 2, q)


def critical_sigma_w(activation: Activation, sigma_b: float, lo: float = 1e-3, hi: float = 20.0) -> float:
    """The σ_w at which χ₁ = 1 for this σ_b (the order/chaos boundary), by root finding in [lo, hi]."""
    _check(1.0, sigma_b)
    f = lambda sw: chi1(activation, sw, sigma_b) - 1.0
    f_lo, f_hi = f(lo), f(hi)
    if np.sign(f_lo) == np.sign(f_hi):
        raise ValueError(f"no order/chaos boundary for sigma_b={sigma_b} with sigma_w in [{lo}, {hi}]")
    return float(brentq(f, lo, hi, xtol=1e-10))


def phase_boundary(activation: Activation, sigma_bs) -> np.ndarray:
    """Critical σ_w for each σ_b: the χ₁ = 1 line in the (σ_w, σ_b) plane."""
    return np.array([critical_sigma_w(activation, float(sb)) for sb in np.atleast_1d(sigma_bs)])
