"""Topography: does activity cluster in space on a sheet of units?

- :func:`spatial_variance` — the locality-prior study's measure: an activation map on a grid, negative values
  clipped to 0 and normalised to sum 1, is a distribution over positions; its spatial variance
  ``E ||r − E r||²`` (the trace of the position covariance, in grid units²) is lower when the activity is
  concentrated in one place. A uniform map on a 7×7 grid gives 8.
- :func:`class_means` — per-class mean maps (the study computed the variance of these too).
- :func:`smoothness` — TDANN's measure (Margalit et al. 2024): the mean |Δ preference| between two units as a
  function of their distance on the sheet; ``smoothness = (max − curve[0]) / max`` is near 1 when neighbours
  share preferences and near 0 without topography; a shuffled-positions control gives the chance level.
- :func:`paired_ttest` — scipy's ``ttest_rel`` on paired measurements (the same test image under two networks).
- :func:`sheet_measures` — all of the above for the activation maps of one network's sheet on a labelled test set;
  :func:`finite_mean` averages such measures over the finite values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def grid_positions(shape: tuple[int, int]) -> np.ndarray:
    """Row-major (row, col) positions [rows*cols, 2] of a grid."""
    rows, cols = shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return np.stack([r.ravel(), c.ravel()], axis=1).astype(np.float64)


def spatial_variance(maps, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Spatial variance of each activation map treated as a distribution on the grid.

    maps: [..., rows, cols], or [..., n] with ``shape=(rows, cols)``. Negative values are clipped to 0 and
    each map is normalised to sum 1; the result ``Σ_r p(r) ||r − μ||²`` has the maps' leading shape.
    A map with no positive mass has no distribution: its variance is NaN.
    """
    m = _numpy(maps)
    if shape is None:
        if m.ndim < 2:
            raise ValueError("maps must be [..., rows, cols] or give shape=(rows, cols)")
        shape = m.shape[-2:]
        m = m.reshape(*m.shape[:-2], -1)
    if m.shape[-1] != shape[0] * shape[1]:
        raise ValueError(f"maps have {m.shape[-1]} units, shape {shape} needs {shape[0] * shape[1]}")
    p = np.clip(m, 0.0, None)
    total = p.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, p / total, np.nan)
    pos = grid_positions(shape)  # [n, 2]
    mean = p @ pos  # [..., 2]
    second = p @ (pos**2).sum(1)  # [...]
    return second - (mean**2).sum(-1)


def class_means(acts, labels, n_classes: int | None = None) -> np.ndarray:
    """Mean activation per class: acts [N, ...], labels [N] → [n_classes, ...] (NaN for an absent class)."""
    a, y = _numpy(acts), _numpy(labels).astype(int)
    k = int(y.max()) + 1 if n_classes is None else n_classes
    out = np.full((k, *a.shape[1:]), np.nan)
    for c in range(k):
        if (y == c).any():
            out[c] = a[y == c].mean(0)
    return out


# ----------------------------------------------------------------------------------------------
@dataclass
class Smoothness:
    value: float  # (max − curve[0]) / max
    curve: np.ndarray  # mean |Δ preference| per distance bin
    bin_centres: np.ndarray
    shuffled: float  # mean value over shuffled-position controls (NaN when shuffles=0)
    shuffled_values: np.ndarray


def preference_differences(preference) -> np.ndarray:
    """|Δ preference| for every pair of units [n, n].

    preference [n]: a scalar per unit (|p_i − p_j|); [n, k]: a tuning curve per unit (1 − Pearson r between
    curves; NaN for a unit with a flat curve).
    """
    p = _numpy(preference)
    if p.ndim == 1:
        return np.abs(p[:, None] - p[None, :])
    if p.ndim != 2:
        raise ValueError(f"preference must be [n] or [n, k], got shape {p.shape}")
    z = p - p.mean(1, keepdims=True)
    norm = np.sqrt((z**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = z / norm[:, None]
        z[norm == 0] = np.nan
    return 1.0 - z @ z.T


def _curve(diff: np.ndarray, dist: np.ndarray, edges: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(len(dist), k=1)
    d, v = dist[iu], diff[iu]
    ok = np.isfinite(v)
    d, v = d[ok], v[ok]
    idx = np.clip(np.digitize(d, edges) - 1, 0, len(edges) - 2)
    sums = np.bincount(idx, weights=v, minlength=len(edges) - 1)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _value(curve: np.ndarray) -> float:
    c = curve[np.isfinite(curve)]
    if len(c) == 0 or not np.isfinite(curve[0]) or c.max() <= 0:
        return float("nan")
    return float((c.max() - curve[0]) / c.max())


def smoothness(
    preference, positions, bins: int = 8, shuffles: int = 20, seed: int = 0, max_units: int = 1024
) -> Smoothness:
    """TDANN smoothness of a preference map over unit positions [n, dims].

    Pairs are binned by distance into ``bins`` equal-width bins from the smallest to the largest pairwise
    distance; ``curve[b]`` is the mean |Δ preference| in bin b. The control shuffles the positions
    ``shuffles`` times (same preferences, random placement) and reports the mean smoothness. Sheets larger
    than ``max_units`` are measured on a random subset of that many units (TDANN samples units too).
    """
    pref, pos = _numpy(preference), _numpy(positions)
    if len(pos) != len(pref):
        raise ValueError(f"{len(pref)} preferences but {len(pos)} positions")
    rng = np.random.default_rng(seed)
    if len(pos) > max_units:
        keep = np.sort(rng.choice(len(pos), max_units, replace=False))
        pref, pos = pref[keep], pos[keep]
    diff = preference_differences(pref)
    dist = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    iu = np.triu_indices(len(pos), k=1)
    edges = np.linspace(dist[iu].min(), dist[iu].max(), bins + 1)
    curve = _curve(diff, dist, edges)
    shuffled = []
    for _ in range(shuffles):
        perm = rng.permutation(len(pos))
        shuffled.append(_value(_curve(diff[np.ix_(perm, perm)], dist, edges)))
    shuffled = np.asarray(shuffled)
    return Smoothness(
        value=_value(curve),
        curve=curve,
        bin_centres=(edges[:-1] + edges[1:]) / 2,
        shuffled=float(np.mean(shuffled[np.isfinite(shuffled)])) if np.isfinite(shuffled).any() else float("nan"),
        shuffled_values=shuffled,
    )


# ----------------------------------------------------------------------------------------------
def paired_ttest(a, b) -> tuple[float, float]:
    """Paired t-test (scipy.stats.ttest_rel) of a − b; pairs with a NaN on either side are dropped."""
    x, y = _numpy(a).ravel(), _numpy(b).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples need equal lengths, got {len(x)} and {len(y)}")
    ok = np.isfinite(x) & np.isfinite(y)
    res = stats.ttest_rel(x[ok], y[ok])
    return float(res.statistic), float(res.pvalue)


# ----------------------------------------------------------------------------------------------
def sheet_measures(maps, labels, n_classes: int, side: int, shuffles: int = 20, seed: int = 0) -> dict:
    """Maps [N, side*side] of a square sheet on N labelled inputs → ``var_image`` [N] and ``var_class`` [n_classes]
    (spatial variance of each map and of each class-mean map), ``class_maps`` [n_classes, side*side] and ``smooth``
    (:class:`Smoothness` of the units' class tuning, ``shuffles`` shuffled-position controls drawn from ``seed``)."""
    class_maps = class_means(maps, labels, n_classes)
    sm = smoothness(class_maps.T, grid_positions((side, side)), shuffles=shuffles, seed=seed)
    return {
        "var_image": spatial_variance(maps, (side, side)),
        "var_class": spatial_variance(class_maps, (side, side)),
        "class_maps": class_maps,
        "smooth": sm,
    }


def finite_mean(values) -> float:
    """Mean of the finite values (NaN, quietly, when there are none: e.g. smoothness of a sheet of dead units)."""
    a = np.asarray(values, dtype=float).ravel()
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")
