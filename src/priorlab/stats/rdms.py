"""RDM comparisons with uncertainty: a bootstrap CI over stimuli and a permutation (Mantel) test.

    c = compare_rdms(layer_rdm, target_rdm, "spearman", n_boot=1000, n_perm=1000, seed=0)
    c.value, c.ci_low, c.ci_high, c.se, c.p
    d = paired_difference({"conv1": trained1, ...}, {"conv1": random1, ...}, target)   # trained - random per layer
    d.difference, d.ci_low, d.ci_high, d.p

The bootstrap resamples stimuli with replacement and drops the pairs of a stimulus with its own copy (as
rsatoolbox's pattern bootstrap does); the CI is the percentile interval, `se` the standard deviation of the
resampled values. The permutation test reorders the stimuli of `b` (rows and columns together); p counts the
permutations at least as extreme as the observed value, with the +1 correction. Computations run in float64 on
the device of `a`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from priorlab.errors import UserError
from priorlab.probe.rdm import compare
from priorlab.stats import checks
from priorlab.stats.resampling import (
    bootstrap_indices,
    empirical_p,
    generators,
    percentile_interval,
    permutations,
    permuted,
    resampled,
    standard_error,
)


@dataclass(frozen=True)
class Comparison:
    """One RDM comparison: the value, its bootstrap CI and SE over stimuli, and its permutation p-value."""

    value: float
    ci_low: float
    ci_high: float
    p: float
    se: float
    method: str
    n_boot: int
    n_perm: int
    alternative: str = "two-sided"


def _observed(a: torch.Tensor, b: torch.Tensor, method: str) -> float:
    if method == "kendall_a":
        return compare(a, b, method)
    identity = torch.arange(a.shape[0])[None]
    return float(permuted(a, b, identity, method)[0])


def _pair(a, b, method):
    a = checks.rdm_matrix(a, "a")
    b = checks.rdm_matrix(b, "b", device=a.device)
    checks.check_pair(a, b)
    checks.check_comparable(a, "a", method)
    checks.check_comparable(b, "b", method)
    return a, b


def compare_rdms(
    a,
    b,
    method: str = "spearman",
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: int = 0,
    alternative: str = "two-sided",
    confidence: float = 0.95,
) -> Comparison:
    """Compare two [N, N] RDMs (upper triangles) with a bootstrap CI over stimuli and a permutation p-value.

    n_boot = 0 skips the bootstrap (ci and se NaN); n_perm = 0 skips the test (p NaN). `alternative` is
    "two-sided", "greater" (similarity above chance) or "less"."""
    method = checks.method(method)
    alternative = checks.alternative(alternative)
    n_boot, n_perm = checks.count(n_boot, "n_boot", 0), checks.count(n_perm, "n_perm", 0)
    seed, confidence = checks.seed(seed), checks.level(confidence)
    a, b = _pair(a, b, method)
    value = _observed(a, b, method)
    boot_gen, perm_gen = generators(seed, 2)
    ci_low = ci_high = se = p = float("nan")
    if n_boot:
        boot = resampled(a, b, bootstrap_indices(a.shape[0], n_boot, boot_gen), method).cpu().numpy()
        ci_low, ci_high = percentile_interval(boot, confidence)
        se = standard_error(boot)
    if n_perm:
        null = permuted(a, b, permutations(a.shape[0], n_perm, perm_gen), method).cpu().numpy()
        p = float(empirical_p(null, value, alternative))
    return Comparison(value, ci_low, ci_high, p, se, method, n_boot, n_perm, alternative)


@dataclass(frozen=True)
class PairedDifference:
    """Per layer: compare(a_l, target) - compare(b_l, target), with a bootstrap CI from shared resamples.

    p is the two-sided bootstrap test of "no difference": twice the smaller share of resampled differences on
    either side of 0, with the +1 correction (it is below 1 - confidence exactly when 0 lies outside a CI)."""

    layers: tuple[str, ...]
    value_a: np.ndarray
    value_b: np.ndarray
    difference: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    se: np.ndarray
    p: np.ndarray
    method: str
    n_boot: int


def _layered(rdms, name: str) -> dict[str, object]:
    """Per-layer RDMs as {name: RDM} from a mapping, a sequence of [N, N], or an [L, N, N] array."""
    if isinstance(rdms, Mapping):
        return {str(k): v for k, v in rdms.items()}
    if isinstance(rdms, (torch.Tensor, np.ndarray)):
        if rdms.ndim != 3:
            raise UserError(f"{name}: expected per-layer RDMs [L, N, N], got shape {tuple(rdms.shape)}")
        return {str(k): v for k, v in enumerate(rdms)}
    if isinstance(rdms, Sequence) and not isinstance(rdms, str):
        return {str(k): v for k, v in enumerate(rdms)}
    raise UserError(f"{name}: expected a mapping layer -> RDM, a list of RDMs or an [L, N, N] array")


def paired_difference(
    rdms_a,
    rdms_b,
    target,
    method: str = "spearman",
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedDifference:
    """Trained - random (a - b) similarity to `target`, per layer, with CIs over stimuli from the SAME resamples.

    rdms_a, rdms_b: per-layer RDMs of the two networks on the same N stimuli, as {layer: [N, N]} (same keys, in
    a's order), a list, or an [L, N, N] array. target: one [N, N] RDM."""
    method = checks.method(method)
    n_boot, seed, confidence = checks.count(n_boot, "n_boot", 1), checks.seed(seed), checks.level(confidence)
    target = checks.rdm_matrix(target, "target")
    checks.check_comparable(target, "target", method)
    la, lb = _layered(rdms_a, "rdms_a"), _layered(rdms_b, "rdms_b")
    if not la:
        raise UserError("rdms_a: no layers given")
    if set(la) != set(lb):
        raise UserError(
            f"rdms_a and rdms_b: the layers differ (only in a: {sorted(set(la) - set(lb))}, "
            f"only in b: {sorted(set(lb) - set(la))})"
        )
    idx = bootstrap_indices(target.shape[0], n_boot, generators(seed, 1)[0])
    rows = []
    for layer in la:
        pair = []
        for label, source in (("rdms_a", la), ("rdms_b", lb)):
            d = checks.rdm_matrix(source[layer], f"{label}[{layer!r}]", device=target.device)
            checks.check_pair(d, target, (f"{label}[{layer!r}]", "target"))
            checks.check_comparable(d, f"{label}[{layer!r}]", method)
            pair.append(d)
        va, vb = (_observed(d, target, method) for d in pair)
        diff = (resampled(pair[0], target, idx, method) - resampled(pair[1], target, idx, method)).cpu().numpy()
        finite = diff[np.isfinite(diff)]
        below, above = (finite <= 0).sum(), (finite >= 0).sum()
        p = min(1.0, 2 * (1 + min(below, above)) / (1 + finite.size))
        rows.append((va, vb, va - vb, *percentile_interval(diff, confidence), standard_error(diff), p))
    cols = [np.array(c, dtype=np.float64) for c in zip(*rows)]
    return PairedDifference(tuple(la), *cols, method=method, n_boot=n_boot)


__all__ = ["Comparison", "PairedDifference", "compare_rdms", "paired_difference"]
