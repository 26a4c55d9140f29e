"""Intervals for repeated experiments: a success rate over trials, a mean over seeds.

    wilson(17, 20)                       # Interval(value=0.85, low=..., high=...): Wilson score interval
    mean_ci(per_seed_acc, n_boot=10000)  # Interval(mean, percentile-bootstrap low, high)
    value, low, high = mean_ci(values)   # an Interval unpacks
    mean_cis(r_runs)                     # [runs, ...] -> Interval of arrays [...]: one CI per column, shared resamples
    with_ci(metrics, "acc", per_seed)    # writes acc, acc_ci_low, acc_ci_high, acc_n (CI only when n >= 2)
    with_wilson(metrics, "success_rate", k, n)  # the same keys for a success rate
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass

import numpy as np
import scipy.stats

from priorlab.errors import UserError
from priorlab.stats import checks


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def __iter__(self):
        return iter(astuple(self))


def wilson(k: int, n: int, confidence: float = 0.95) -> Interval:
    """The Wilson score interval for k successes in n trials (no continuity correction)."""
    if not checks.is_whole(n) or n < 1:
        raise UserError(f"n: the number of trials must be a whole number >= 1; got {n!r}")
    if not checks.is_whole(k) or not 0 <= k <= n:
        raise UserError(f"k: the number of successes must be a whole number in [0, n = {int(n)}]; got {k!r}")
    confidence = checks.level(confidence)
    k, n = int(k), int(n)
    z = scipy.stats.norm.ppf((1 + confidence) / 2)
    rate = k / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return Interval(rate, max(0.0, centre - half), min(1.0, centre + half))


def mean_ci(values, n_boot: int = 10000, seed: int = 0, confidence: float = 0.95) -> Interval:
    """The mean of `values` (e.g. one per seed) with a percentile-bootstrap CI (values resampled with replacement)."""
    v = checks.finite_values(values, "values", minimum=2)
    n_boot = checks.count(n_boot, "n_boot", 1)
    seed, confidence = checks.seed(seed), checks.level(confidence)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(v.mean()), float(low), float(high))


def mean_cis(values, n_boot: int = 10000, seed: int = 0, confidence: float = 0.95) -> Interval:
    """`mean_ci` of every column of `values` [n, ...] at once (the same resamples of the n rows for every column):
    an Interval of arrays shaped like ``values[0]``; column by column it equals ``mean_ci(values[:, j], ...)``."""
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as e:
        raise UserError(f"values: not a numeric array ({e})") from None
    if v.ndim < 1 or v.shape[0] < 2:
        raise UserError(f"values: a bootstrap CI needs at least 2 rows (one per seed); got shape {v.shape}")
    if not np.isfinite(v).all():
        raise UserError("values: NaN or infinite entries")
    n_boot = checks.count(n_boot, "n_boot", 1)
    seed, confidence = checks.seed(seed), checks.level(confidence)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.shape[0], size=(n_boot, v.shape[0]))
    flat = v.reshape(v.shape[0], -1)
    means = np.empty((n_boot, flat.shape[1]))
    step = max(1, 2**22 // max(1, v.shape[0] * flat.shape[1]))  # resamples per block: bounded memory
    for start in range(0, n_boot, step):
        means[start:start + step] = flat[idx[start:start + step]].mean(1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    shape = v.shape[1:]
    return Interval(flat.mean(0).reshape(shape), low.reshape(shape), high.reshape(shape))


def with_ci(metrics: dict, name: str, values, seed: int = 0, n_boot: int = 10000, confidence: float = 0.95) -> dict:
    """Write the mean of `values` (one per seed) as ``name``, their number as ``name_n`` and, when there are at
    least two, the percentile-bootstrap CI as ``name_ci_low`` / ``name_ci_high`` into `metrics`; returns `metrics`."""
    v = checks.finite_values(values, name, minimum=1)
    metrics[name], metrics[f"{name}_n"] = float(v.mean()), int(v.size)
    if v.size >= 2:
        _, metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = mean_ci(v, n_boot, seed, confidence)
    return metrics


def with_wilson(metrics: dict, name: str, k: int, n: int, confidence: float = 0.95) -> dict:
    """Write the success rate k / n as ``name``, its Wilson interval as ``name_ci_low`` / ``name_ci_high`` and the
    number of trials as ``name_n`` into `metrics`; returns `metrics`."""
    metrics[name], metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = wilson(k, n, confidence)
    metrics[f"{name}_n"] = int(n)
    return metrics


def ci_text(metrics: dict, name: str, digits: int = 3) -> str:
    """``name`` from `metrics` as "mean [low, high] (n = N)", the form the report tables use ("mean (n = 1)" without
    a CI, just the number when the metrics have no ``name_n``)."""
    text = f"{metrics[name]:.{digits}f}"
    if f"{name}_ci_low" in metrics and f"{name}_ci_high" in metrics:
        text += f" [{metrics[f'{name}_ci_low']:.{digits}f}, {metrics[f'{name}_ci_high']:.{digits}f}]"
    if f"{name}_n" in metrics:
        text += f" (n = {metrics[f'{name}_n']})"
    return text
