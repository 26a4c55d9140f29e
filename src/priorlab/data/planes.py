"""Two-class tasks in the plane: spiral (default), circles, xor, moons, gaussians.

``plane(task, n, noise, seed)`` returns points ``x`` [n, 2] (float32, roughly inside [-1, 1]²) and labels ``y`` [n]
(int64, 0 or 1, balanced). The same arguments always give the same points.
"""

from __future__ import annotations

import numpy as np
import torch

TASKS = ("spiral", "circles", "xor", "moons", "gaussians")


def _spiral(rng, n0, n1, turns: float = 0.75):
    """Two interleaved arms r = t, angle = 2π·turns·t (+π for the second class), t in [0.15, 1]."""
    out = []
    for cls, n in ((0, n0), (1, n1)):
        t = rng.uniform(0.15, 1.0, n)
        a = 2 * np.pi * turns * t + np.pi * cls
        out.append(np.stack([t * np.cos(a), t * np.sin(a)], 1))
    return out


def _circles(rng, n0, n1):
    """An inner disc (class 0, radius < 0.45) inside a ring (class 1, radius 0.65–1)."""
    out = []
    for r_lo, r_hi, n in ((0.0, 0.45, n0), (0.65, 1.0, n1)):
        r = np.sqrt(rng.uniform(r_lo**2, r_hi**2, n))
        a = rng.uniform(0, 2 * np.pi, n)
        out.append(np.stack([r * np.cos(a), r * np.sin(a)], 1))
    return out


def _xor(rng, n0, n1):
    """Uniform in [-1, 1]² away from the axes; class = sign(x)·sign(y) < 0."""
    out = []
    for cls, n in ((0, n0), (1, n1)):
        p = rng.uniform(0.1, 1.0, (n, 2)) * rng.choice([-1.0, 1.0], (n, 1))
        p[:, 1] *= 1 if cls == 0 else -1
        out.append(p)
    return out


def _moons(rng, n0, n1):
    """scikit-learn's two half moons, scaled into [-1, 1]²."""
    a0, a1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    m0 = np.stack([np.cos(a0), np.sin(a0)], 1)
    m1 = np.stack([1 - np.cos(a1), 0.5 - np.sin(a1)], 1)
    centre, scale = np.array([0.5, 0.25]), 1.5
    return [(m0 - centre) / scale, (m1 - centre) / scale]


def _gaussians(rng, n0, n1):
    """Two isotropic Gaussian blobs centred at (-0.5, -0.5) and (0.5, 0.5), SD 0.3."""
    return [rng.normal(c, 0.3, (n, 2)) for c, n in ((-0.5, n0), (0.5, n1))]


def _spiral_k(rng, counts, turns: float = 0.75):
    """k interleaved arms, arm c turned by 2πc/k (k = 2 is :func:`_spiral`)."""
    k, out = len(counts), []
    for cls, n in enumerate(counts):
        t = rng.uniform(0.15, 1.0, n)
        a = 2 * np.pi * turns * t + 2 * np.pi * cls / k
        out.append(np.stack([t * np.cos(a), t * np.sin(a)], 1))
    return out


def _circles_k(rng, counts):
    """k concentric rings: class c has radius in [c, c + 0.7]/(k − 0.3) (the innermost a disc)."""
    k, out = len(counts), []
    for cls, n in enumerate(counts):
        r_lo, r_hi = cls / (k - 0.3), (cls + 0.7) / (k - 0.3)
        r = np.sqrt(rng.uniform(r_lo**2, r_hi**2, n))
        a = rng.uniform(0, 2 * np.pi, n)
        out.append(np.stack([r * np.cos(a), r * np.sin(a)], 1))
    return out


def _xor_k(rng, counts):
    """The quadrants away from the axes; class c takes quadrants c, c + k, … (k ≤ 4; 4 = one class a quadrant)."""
    k = len(counts)
    signs = [(1, 1), (-1, 1), (-1, -1), (1, -1)]
    out = []
    for cls, n in enumerate(counts):
        quads = np.array([q for q in range(4) if q % k == cls])
        pick = np.array(signs)[rng.choice(quads, n)]
        out.append(rng.uniform(0.1, 1.0, (n, 2)) * pick)
    return out


def _moons_k(rng, counts):
    """k half moons side by side, opening alternately up and down, scaled into [-1, 1]²."""
    out = []
    for cls, n in enumerate(counts):
        a = rng.uniform(0, np.pi, n)
        flip = 1 if cls % 2 == 0 else -1
        m = np.stack([np.cos(a) + cls, flip * np.sin(a) + (0 if flip == 1 else 0.5)], 1)
        out.append(m)
    allp = np.concatenate(out)
    centre, scale = (allp.max(0) + allp.min(0)) / 2, (allp.max(0) - allp.min(0)).max() / 2
    return [(m - centre) / scale for m in out]


def _gaussians_k(rng, counts):
    """k isotropic Gaussian blobs (SD 0.2) on a circle of radius 0.6."""
    k = len(counts)
    centres = [0.6 * np.array([np.cos(2 * np.pi * c / k), np.sin(2 * np.pi * c / k)]) for c in range(k)]
    return [rng.normal(centres[c], 0.2, (n, 2)) for c, n in enumerate(counts)]


_MAKERS_K = {"spiral": _spiral_k, "circles": _circles_k, "xor": _xor_k, "moons": _moons_k, "gaussians": _gaussians_k}
MAX_CLASSES = {"spiral": 5, "circles": 5, "xor": 4, "moons": 5, "gaussians": 5}

_MAKERS = {"spiral": _spiral, "circles": _circles, "xor": _xor, "moons": _moons, "gaussians": _gaussians}


def plane(
    task: str = "spiral", n: int = 1000, noise: float = 0.05, seed: int = 0, classes: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of ``task`` (one of :data:`TASKS`) with Gaussian jitter of SD ``noise``, shuffled.

    ``classes``: 2 (the tasks above) up to :data:`MAX_CLASSES` ``[task]`` (labels 0 … classes − 1, balanced)."""
    if task not in _MAKERS:
        raise ValueError(f"unknown task '{task}' (allowed: {', '.join(TASKS)})")
    if not 2 <= classes <= MAX_CLASSES[task]:
        raise ValueError(f"classes must be 2–{MAX_CLASSES[task]} for '{task}', got {classes}")
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be ≥ 0, got {noise}")
    rng = np.random.default_rng(seed)
    if classes == 2:
        parts = _MAKERS[task](rng, n // 2, n - n // 2)
    else:
        parts = _MAKERS_K[task](rng, [n // classes + (c < n % classes) for c in range(classes)])
    x = np.concatenate(parts) + rng.normal(0, noise, (n, 2))
    y = np.concatenate([np.full(len(p), c) for c, p in enumerate(parts)])
    order = rng.permutation(n)
    return torch.tensor(x[order], dtype=torch.float32), torch.tensor(y[order], dtype=torch.int64)


def grid_lines(lo: float = -1.2, hi: float = 1.2, lines: int = 13, points: int = 200) -> torch.Tensor:
    """Horizontal then vertical straight lines across [lo, hi]²: [2·lines, points, 2], ordered along each line."""
    ticks = torch.linspace(lo, hi, lines)
    along = torch.linspace(lo, hi, points)
    horizontal = torch.stack(torch.broadcast_tensors(along[None, :], ticks[:, None]), -1)
    vertical = torch.stack(torch.broadcast_tensors(ticks[:, None], along[None, :]), -1)
    return torch.cat([horizontal, vertical])
