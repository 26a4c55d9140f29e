"""Representational dissimilarity matrices (RDMs) and their comparison, on torch tensors (CPU or CUDA).

    d = rdm(layer_output, "correlation")        # [N, N]
    r = compare(d, rdm(inputs), "spearman")     # over the upper triangle

Metrics (rows of `x` flattened to D features):
    correlation   1 - Pearson r between two rows
    cosine        1 - cosine similarity
    euclidean     Euclidean distance
    sqeuclidean   squared Euclidean distance / D  (rsatoolbox's "euclidean")
Comparisons: pearson (rsatoolbox "corr"), spearman (ranks with ties averaged), kendall_a (rsatoolbox "tau-a",
no tie correction; O(n log² n) by merge-sort inversion counting), cosine.

Everything is computed in the input's floating dtype (float32 stays float32) on the input's device.
"""

from __future__ import annotations

import torch

METRICS = ("correlation", "cosine", "euclidean", "sqeuclidean")
METHODS = ("pearson", "spearman", "kendall_a", "cosine")


def as_matrix(x) -> torch.Tensor:
    """`x` ([N, ...], tensor or array) as a floating [N, D] tensor on its own device."""
    x = torch.as_tensor(x)
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"x must have shape [N, ...] with N >= 1, got {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    return x.reshape(x.shape[0], -1)


def gram(x: torch.Tensor, metric: str) -> torch.Tensor:
    """The [N, N] inner-product matrix of rows prepared for `metric` (see `from_gram`)."""
    if metric == "correlation":
        x = x - x.mean(1, keepdim=True)
        x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True)
    elif metric == "cosine":
        x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True)
    elif metric in ("euclidean", "sqeuclidean"):
        x = x - x.mean(0, keepdim=True)  # distances are translation invariant; centring limits cancellation
    else:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    return self_gram(x)


def self_gram(x: torch.Tensor, blocks: int = 8) -> torch.Tensor:
    """x xᵀ from the upper triangle of row blocks only (about 56% of the multiply-adds for 8 blocks)."""
    n = x.shape[0]
    if n < 256:
        return x @ x.T
    rows = -(-n // blocks)
    g = torch.empty(n, n, dtype=x.dtype, device=x.device)
    for a in range(0, n, rows):
        g[a : a + rows, a:] = x[a : a + rows] @ x[a:].T
    return torch.triu(g) + torch.triu(g, diagonal=1).T


def from_gram(g: torch.Tensor, metric: str, n_features: int) -> torch.Tensor:
    """Turn a Gram matrix from `gram` (or its blockwise sum) into the RDM for `metric`."""
    if metric in ("correlation", "cosine"):
        d = 1 - g
    else:
        sq = torch.diagonal(g)
        d = (sq[:, None] + sq[None, :] - 2 * g).clamp_min(0)
        d = d.sqrt() if metric == "euclidean" else d / n_features
    d = (d + d.T) / 2
    d.fill_diagonal_(0)
    return d


def rdm(x, metric: str = "correlation") -> torch.Tensor:
    """The [N, N] RDM of the N ≥ 3 rows of `x` ([N, ...]) under `metric` (fewer items: ValueError naming the count;
    with 2 there is a single dissimilarity, nothing an RDM comparison can use)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    x = as_matrix(x)
    if x.shape[0] < 3:
        raise ValueError(f"an RDM needs at least 3 items (rows of x), got {x.shape[0]}")
    return from_gram(gram(x, metric), metric, x.shape[1])


def upper(d) -> torch.Tensor:
    """The strict upper triangle of a square RDM, row by row (scipy's `squareform` order); vectors pass through."""
    d = torch.as_tensor(d)
    if d.ndim == 1:
        return d
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(
            f"an RDM must be square [N, N] or a vector of its upper triangle, got {tuple(d.shape)}"
        )
    i, j = torch.triu_indices(d.shape[0], d.shape[0], offset=1, device=d.device)
    return d[i, j]


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(), b - b.mean()
    return (a @ b) / (torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b))


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b) / (torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b))


def _tie_groups(sorted_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(inverse group index, group sizes) of a sorted vector's runs of equal values."""
    _, inverse, counts = torch.unique_consecutive(sorted_v, return_inverse=True, return_counts=True)
    return inverse, counts


def rankdata(v: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n with ties given their average rank (scipy.stats.rankdata's default)."""
    sorted_v, order = torch.sort(v, stable=True)
    inverse, counts = _tie_groups(sorted_v)
    ends = torch.cumsum(counts, 0).to(v.dtype)
    avg = ends - (counts.to(v.dtype) - 1) / 2
    ranks = torch.empty_like(v)
    ranks[order] = avg[inverse]
    return ranks


def _dense_ranks(v: torch.Tensor) -> torch.Tensor:
    """Ranks 0..k-1, equal values sharing a rank."""
    return torch.unique(v, return_inverse=True)[1]


def _pairs_tied(ranks: torch.Tensor) -> int:
    counts = torch.bincount(ranks).to(torch.int64)
    return int((counts * (counts - 1) // 2).sum())


def count_inversions(v: torch.Tensor) -> int:
    """Number of pairs i < j with v[i] > v[j] for an integer vector `v`, by bottom-up merge sort.

    At each level the array is made of sorted blocks of size s; for every element of a right block we count the
    elements of its left partner that exceed it with one global `searchsorted` (keys offset by the pair index),
    then merge each pair with one global sort. O(n log² n), fully vectorised."""
    n = v.numel()
    if n < 2:
        return 0
    v = v.to(torch.int64) - v.min()
    span = int(v.max()) + 1
    pos = torch.arange(n, device=v.device)
    total, s = 0, 1
    while s < n:
        pair = pos // (2 * s)
        keys = pair * span + v  # 0 <= v < span, so keys sort by pair, then value
        is_left = (pos % (2 * s)) < s
        left_keys = keys[is_left]  # sorted: each left block is sorted and pairs increase
        right_keys, right_pair = keys[~is_left], pair[~is_left]
        # a right block exists only behind a full left block; pair p's left block is left_keys[p*s : (p+1)*s]
        not_greater = torch.searchsorted(left_keys, right_keys, right=True) - right_pair * s
        total += int((s - not_greater).sum())
        # merge each pair of blocks: sorting the keys keeps every pair in place
        v = torch.sort(keys).values - pair * span
        s *= 2
    return total


def kendall_tau_a(a: torch.Tensor, b: torch.Tensor) -> float:
    """Kendall's tau-a: (concordant - discordant) / (n (n - 1) / 2), ties counting as neither."""
    n = a.numel()
    ra, rb = _dense_ranks(a), _dense_ranks(b)
    order = torch.argsort(ra * n + rb)  # sort by a, ties broken by b
    ra, rb = ra[order], rb[order]
    discordant = count_inversions(rb)  # strict inversions of b once sorted by (a, b)
    joint = _pairs_tied(_dense_ranks(ra * n + rb))
    total = n * (n - 1) // 2
    con_minus_dis = total - _pairs_tied(ra) - _pairs_tied(rb) + joint - 2 * discordant
    return con_minus_dis / total


def compare(rdm_a, rdm_b, method: str = "spearman") -> float:
    """Similarity of two RDMs (square or upper-triangle vectors) over their upper triangle.

    NaN when either RDM has a NaN entry (with a RuntimeWarning giving their count)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    a, b = upper(rdm_a), upper(rdm_b)
    if a.shape != b.shape:
        raise ValueError(
            f"the two RDMs differ in size: {tuple(a.shape)} vs {tuple(b.shape)} upper-triangle entries"
        )
    if a.numel() < 2:
        raise ValueError("an RDM comparison needs at least 3 items (2 dissimilarities)")
    dtype = torch.promote_types(a.dtype, b.dtype) if a.is_floating_point() else torch.float64
    dtype = torch.promote_types(dtype, torch.float32)
    a, b = a.to(dtype), b.to(dtype=dtype, device=a.device)
    nan = int((torch.isnan(a) | torch.isnan(b)).sum())
    if nan:  # a NaN has no rank: the comparison is undefined, not a number computed around it
        import warnings

        warnings.warn(f"compare: {nan} of {a.numel()} dissimilarities are NaN (e.g. from constant rows under "
                      "the correlation metric); the result is NaN", RuntimeWarning, stacklevel=2)
        return float("nan")
    if method == "pearson":
        return float(_pearson(a, b))
    if method == "spearman":
        return float(_pearson(rankdata(a), rankdata(b)))
    if method == "cosine":
        return float(_cosine(a, b))
    return float(kendall_tau_a(a, b))
