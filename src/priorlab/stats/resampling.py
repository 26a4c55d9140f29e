"""Batched RDM comparisons under stimulus resamples and permutations, and empirical p-values.

    idx = bootstrap_indices(n, 1000, generator)       # [B, N] stimuli drawn with replacement
    r = resampled(a, b, idx, "spearman")              # [B] comparisons, self-pairs of a duplicated stimulus dropped
    perms = permutations(n, 1000, generator)          # [P, N]
    r0 = permuted(a, b, perms, "spearman")            # [P] comparisons with b's stimuli reordered
    p = empirical_p(r0, observed, "two-sided")        # (1 + #extreme) / (1 + P)

`a` and `b` are float64 symmetric [N, N] tensors on one device (see `checks.rdm_matrix`); index tensors are drawn on
the CPU from a seeded `torch.Generator` (the same numbers on every device) and moved to the RDMs' device. Work is done
in chunks of resamples so that no intermediate exceeds a few million entries (`CHUNK_ENTRIES`). Spearman ranks of a
resample come from a histogram of its pairs' precomputed dense ranks (no sort per resample); under a permutation the
ranks are only reordered, so they are computed once.

A bootstrap resample keeps stimulus k at every position it was drawn to; the pair of two positions holding the same
stimulus is dropped (its dissimilarity would be the trivial 0 on the diagonal), while pairs of distinct stimuli are
kept with their multiplicity -- exactly what rsatoolbox's `bootstrap_sample_pattern` + `compare` do (its
`subsample_pattern` puts NaN on the diagonal before indexing and `compare` drops NaN entries). Resamples with fewer
than 3 distinct stimuli give NaN (rsatoolbox's `eval_bootstrap_pattern` skips them too).
"""

from __future__ import annotations

import numpy as np
import torch

from priorlab.probe.rdm import kendall_tau_a, rankdata

CHUNK_ENTRIES = {"cpu": 2**22, "cuda": 2**24}  # entries of one [chunk, M] intermediate
TOLERANCE = 1e-12  # relative: null values this close to the observed one count as ties (floating-point noise)


def upper_indices(n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    i, j = torch.triu_indices(n, n, offset=1, device=device)
    return i, j


def bootstrap_indices(n: int, n_boot: int, generator: torch.Generator) -> torch.Tensor:
    """[n_boot, n] stimulus indices drawn uniformly with replacement."""
    return torch.randint(n, (n_boot, n), generator=generator)


def permutations(n: int, n_perm: int, generator: torch.Generator) -> torch.Tensor:
    """[n_perm, n] independent uniform permutations of 0..n-1."""
    return torch.argsort(torch.rand(n_perm, n, generator=generator, dtype=torch.float64), dim=1)


def generators(seed: int, k: int) -> list[torch.Generator]:
    """`k` independent CPU generators from one seed (so the bootstrap's draws do not depend on n_perm, and so on)."""
    states = np.random.SeedSequence(seed).generate_state(k, dtype=np.uint64)
    return [torch.Generator().manual_seed(int(s) & (2**63 - 1)) for s in states]


def _chunks(rows: torch.Tensor, entries_per_row: int):
    budget = CHUNK_ENTRIES.get(rows.device.type, CHUNK_ENTRIES["cpu"])
    step = max(1, budget // max(1, entries_per_row))
    for start in range(0, rows.shape[0], step):
        yield rows[start : start + step]


def rank_rows(v: torch.Tensor) -> torch.Tensor:
    """Row-wise ranks 1..M of a [B, M] tensor, ties given their average rank (+inf entries rank last, tied)."""
    s, order = torch.sort(v, dim=1)
    m = v.shape[1]
    pos = torch.arange(m, device=v.device).expand_as(s)
    change = s[:, 1:] != s[:, :-1]
    edge = torch.ones(v.shape[0], 1, dtype=torch.bool, device=v.device)
    start = torch.where(torch.cat([edge, change], 1), pos, 0).cummax(1).values
    end = torch.where(torch.cat([change, edge], 1), pos, m).flip(1).cummin(1).values.flip(1)
    avg = (start + end).to(torch.float64) / 2 + 1
    return torch.empty_like(avg).scatter_(1, order, avg)


def _weighted_corr(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, centre: bool) -> torch.Tensor:
    """Row-wise Pearson correlation (or cosine, centre=False) of x and y over the entries where w is 1."""
    if centre:
        total = w.sum(1, keepdim=True)
        x = x - (x * w).sum(1, keepdim=True) / total
        y = y - (y * w).sum(1, keepdim=True) / total
    x, y = x * w, y * w
    return (x * y).sum(1) / torch.sqrt((x * x).sum(1) * (y * y).sum(1))


def _distinct(idx: torch.Tensor) -> torch.Tensor:
    """Number of distinct stimuli in each row of an index tensor."""
    s = torch.sort(idx, dim=1).values
    return (s[:, 1:] != s[:, :-1]).sum(1) + 1


def _value_keys(d: torch.Tensor) -> tuple[torch.Tensor, int]:
    """([N, N] int64 matrix of each pair's dense rank among the upper-triangle values, number of distinct values)."""
    n = d.shape[0]
    i, j = upper_indices(n, d.device)
    distinct, keys = torch.unique(d[i, j], return_inverse=True)
    square = torch.zeros(n, n, dtype=torch.int64, device=d.device)
    square[i, j], square[j, i] = keys, keys
    return square.reshape(-1), distinct.numel()


def _resampled_ranks(keys: torch.Tensor, n_keys: int, valid: torch.Tensor) -> torch.Tensor:
    """Average ranks (1..m) of each row's valid entries, from their values' dense ranks `keys` [B, M].

    A histogram of the keys per row replaces sorting: rank = #(smaller) + (#(equal) + 1) / 2."""
    counts = torch.zeros(keys.shape[0], n_keys, dtype=torch.float64, device=keys.device)
    counts.scatter_add_(1, keys, valid.to(torch.float64))
    below = torch.cumsum(counts, 1) - counts
    return (below + (counts + 1) / 2).gather(1, keys)


def resampled(a: torch.Tensor, b: torch.Tensor, idx: torch.Tensor, method: str) -> torch.Tensor:
    """[B] comparisons of a and b restricted to each row of `idx` (pairs of a stimulus with its copy dropped)."""
    n = a.shape[0]
    idx = idx.to(a.device)
    i, j = upper_indices(idx.shape[1], a.device)
    if method == "spearman":  # gather each pair's dense rank instead of its value
        (flat_a, distinct_a), (flat_b, distinct_b) = _value_keys(a), _value_keys(b)
    else:
        flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    out = []
    for chunk in _chunks(idx, i.numel()):
        left, right = chunk[:, i], chunk[:, j]
        valid = left != right
        where = left * n + right
        va, vb = flat_a[where], flat_b[where]
        if method == "kendall_a":
            r = torch.tensor(
                [kendall_tau_a(va[k][valid[k]], vb[k][valid[k]]) if valid[k].sum() > 1 else float("nan")
                 for k in range(chunk.shape[0])],
                dtype=torch.float64,
                device=a.device,
            )
        else:
            if method == "spearman":
                va, vb = _resampled_ranks(va, distinct_a, valid), _resampled_ranks(vb, distinct_b, valid)
            r = _weighted_corr(va, vb, valid.to(torch.float64), centre=method != "cosine")
        out.append(torch.where(_distinct(chunk) >= 3, r, torch.nan))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64, device=a.device)


def prepared(v: torch.Tensor, method: str) -> torch.Tensor:
    """An upper-triangle vector transformed so that pearson/spearman/cosine become a dot product of unit vectors."""
    if method == "spearman":
        v = rankdata(v)
    if method != "cosine":
        v = v - v.mean()
    return v / torch.linalg.vector_norm(v)


def permuted(a: torch.Tensor, b: torch.Tensor, perms: torch.Tensor, method: str) -> torch.Tensor:
    """[P] comparisons of a with b's stimuli reordered by each row of `perms` (rows and columns together).

    Reordering the stimuli only permutes b's upper-triangle entries, so b's ranks, mean and norm are computed once
    and each permutation is a gather and a dot product with a's prepared vector."""
    n = a.shape[0]
    perms = perms.to(a.device)
    i, j = upper_indices(n, a.device)
    if method == "kendall_a":
        va = a[i, j]
        return torch.tensor(
            [kendall_tau_a(va, b[p[i], p[j]]) for p in perms], dtype=torch.float64, device=a.device
        )
    va = prepared(a[i, j], method)
    square = torch.zeros_like(b)
    vb = prepared(b[i, j], method)
    square[i, j], square[j, i] = vb, vb
    flat = square.reshape(-1)
    out = [flat[chunk[:, i] * n + chunk[:, j]] @ va for chunk in _chunks(perms, i.numel())]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64, device=a.device)


def empirical_p(null, observed, alternative: str) -> np.ndarray:
    """Permutation/null p-value(s) with the +1 correction: (1 + #{null at least as extreme}) / (1 + K).

    null: [K] or [K, L]; observed: scalar or [L]. "greater"/"less" count null >= / <= observed; "two-sided" is twice
    the smaller one-sided p (capped at 1), as `scipy.stats.permutation_test` does."""
    null = np.asarray(null, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    tol = TOLERANCE * np.maximum(1.0, np.abs(observed))
    k = null.shape[0]
    greater = (1 + (null >= observed - tol).sum(0)) / (1 + k)
    less = (1 + (null <= observed + tol).sum(0)) / (1 + k)
    if alternative == "greater":
        return greater
    if alternative == "less":
        return less
    return np.minimum(1.0, 2 * np.minimum(greater, less))


def percentile_interval(values, confidence: float) -> tuple[float, float]:
    """The central `confidence` percentile interval of the finite values (NaN when there are none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(v, [tail, 100 - tail])
    return float(low), float(high)


def standard_error(values) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1)) if v.size > 1 else float("nan")
