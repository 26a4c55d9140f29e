"""Confidence intervals over seeds, shared by the bias-learning and locality experiments.

A private stand-in until ``priorlab.stats`` has ``mean_ci``; same call: ``mean_ci(values, n_boot, seed)``.
"""

from __future__ import annotations

import numpy as np


def mean_ci(values, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of `values` and its percentile-bootstrap interval (one value: (v, v, v))."""
    v = np.asarray(values, dtype=float).ravel()
    mean = float(v.mean())
    if v.size < 2:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    boots = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return mean, float(lo), float(hi)


def with_ci(metrics: dict[str, float], name: str, values, seed: int = 0) -> None:
    """Write ``name``, ``name_ci_low`` and ``name_ci_high`` (bootstrap over `values`) into `metrics`."""
    metrics[name], metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = mean_ci(values, seed=seed)
