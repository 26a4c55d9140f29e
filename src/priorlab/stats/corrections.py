"""Multiple-comparison corrections across layers (or any family of tests).

    correct([0.01, 0.04, 0.03], "holm")      # family-wise error (Holm 1979, step-down)
    correct([0.01, 0.04, 0.03], "fdr_bh")    # false discovery rate (Benjamini & Hochberg 1995)

Both return adjusted p-values in the input's order: reject hypothesis i at level alpha when adjusted[i] <= alpha.
"""

from __future__ import annotations

import numpy as np

from priorlab.stats import checks

METHODS = ("holm", "fdr_bh")


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: the running maximum of (m - rank) * p over the sorted p-values, capped at 1."""
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def correct(pvalues, method: str = "holm") -> np.ndarray:
    """Adjusted p-values for a family of tests: "holm" (family-wise) or "fdr_bh" (false discovery rate)."""
    method = checks.choice(method, "method", METHODS)
    p = checks.pvalues(pvalues)
    if method == "holm":
        return holm(p)
    import scipy.stats  # here, not at import: scipy.stats costs every process that imports an experiment ~1 s

    return scipy.stats.false_discovery_control(p, method="bh")
