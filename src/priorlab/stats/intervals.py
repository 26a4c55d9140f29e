"""Intervals for repeated experiments: a success rate over trials, a mean over seeds.

    wilson(17, 20)                       # Interval(value=0.85, low=..., high=...): Wilson score interval
    mean_ci(per_seed_acc, n_boot=10000)  # Interval(mean, percentile-bootstrap low, high)
    value, low, high = mean_ci(values)   # an Interval unpacks
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
