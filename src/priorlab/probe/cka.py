"""Centered kernel alignment (Kornblith et al. 2019) and its minibatch form (Nguyen et al. 2021).

    cka(x, y)                            # linear CKA of two representations of the same N items
    cka(x, y, debiased=True)             # with the unbiased HSIC estimator (Song et al. 2012)
    cka(x, y, kernel="rbf", threshold=0.5)   # RBF kernel, bandwidth = threshold × median distance
    minibatch_cka((xb, yb) for xb, yb in batches)   # unbiased HSIC summed over batches of >= 4 items

Inputs are [N, ...] tensors (or arrays); rows are items. Computation stays on the input's device and dtype.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from priorlab.probe.rdm import as_matrix

KERNELS = ("linear", "rbf")


def gram_linear(x) -> torch.Tensor:
    x = as_matrix(x)
    return x @ x.T


def _median(v: torch.Tensor) -> torch.Tensor:
    """numpy's median: the mean of the two middle values for an even count."""
    v = v.flatten()
    n = v.numel()
    lo = torch.kthvalue(v, (n + 1) // 2).values
    hi = torch.kthvalue(v, n // 2 + 1).values
    return (lo + hi) / 2


def gram_rbf(x, threshold: float = 0.5) -> torch.Tensor:
    """exp(-d² / (2 (threshold × median d)²)) with the median over all N² squared distances (Kornblith's code)."""
    g = gram_linear(x)
    sq = torch.diagonal(g)
    d2 = (sq[:, None] + sq[None, :] - 2 * g).clamp_min(0)
    return torch.exp(-d2 / (2 * threshold**2 * _median(d2)))


def center_gram(g: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """Double-centre a Gram matrix; with `unbiased`, the centring behind the unbiased HSIC estimator
    (diagonal zeroed, Kornblith's `center_gram(unbiased=True)`)."""
    g = g.clone()
    n = g.shape[0]
    if unbiased:
        if n < 4:
            raise ValueError(f"debiased CKA needs at least 4 items, got {n}")
        g.fill_diagonal_(0)
        means = g.sum(0) / (n - 2)
        means = means - means.sum() / (2 * (n - 1))
        g = g - means[:, None] - means[None, :]
        g.fill_diagonal_(0)
    else:
        means = g.mean(0)
        means = means - means.mean() / 2
        g = g - means[:, None] - means[None, :]
    return g


def cka_gram(gx: torch.Tensor, gy: torch.Tensor, debiased: bool = False) -> float:
    """CKA from two [N, N] Gram matrices."""
    if gx.shape != gy.shape:
        raise ValueError(f"the Gram matrices differ in shape: {tuple(gx.shape)} vs {tuple(gy.shape)}")
    gx, gy = center_gram(gx, debiased), center_gram(gy.to(gx.device), debiased)
    hsic = (gx * gy).sum()
    return float(hsic / (torch.linalg.matrix_norm(gx) * torch.linalg.matrix_norm(gy)))


def _linear_cka_features(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA in feature space, cheaper than Grams when N exceeds the widths."""
    x, y = x - x.mean(0), y - y.mean(0)
    xy = torch.linalg.matrix_norm(y.T @ x) ** 2
    return float(xy / (torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)))


def cka(x, y, kernel: str = "linear", debiased: bool = False, threshold: float = 0.5) -> float:
    """CKA between representations `x` [N, ...] and `y` [N, ...] of the same N items."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}; got {kernel!r}")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold!r}")
    x, y = as_matrix(x), as_matrix(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of items (rows): {x.shape[0]} vs {y.shape[0]}")
    y = y.to(device=x.device, dtype=torch.promote_types(x.dtype, y.dtype))
    x = x.to(y.dtype)
    if kernel == "linear":
        if not debiased and x.shape[0] > x.shape[1] + y.shape[1]:
            return _linear_cka_features(x, y)
        return cka_gram(gram_linear(x), gram_linear(y), debiased)
    return cka_gram(gram_rbf(x, threshold), gram_rbf(y, threshold), debiased)


def hsic_unbiased(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """Unbiased HSIC estimator (Song et al. 2012) of two [n, n] kernel matrices, n >= 4; Nguyen et al.'s HSIC_1."""
    n = k.shape[0]
    if n < 4:
        raise ValueError(f"minibatch CKA needs batches of at least 4 items, got {n}")
    k, l = k.clone(), l.clone()
    k.fill_diagonal_(0)
    l.fill_diagonal_(0)
    ones_k, ones_l = k.sum(0), l.sum(0)
    trace = (k * l).sum()
    return (trace + ones_k.sum() * ones_l.sum() / ((n - 1) * (n - 2)) - 2 * (ones_k @ ones_l) / (n - 2)) / (
        n * (n - 3)
    )


class MinibatchCKA:
    """Accumulates linear CKA over minibatches: Σ HSIC₁(X_i, Y_i) / sqrt(Σ HSIC₁(X_i, X_i) · Σ HSIC₁(Y_i, Y_i)).

    A single pass over the data keeps three numbers, whatever N is (Nguyen, Raghu & Kornblith 2021)."""

    def __init__(self):
        self.xy = self.xx = self.yy = 0.0
        self.batches = 0

    def update(self, x, y) -> None:
        x, y = as_matrix(x), as_matrix(y)
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"x and y batches must have the same number of items: {x.shape[0]} vs {y.shape[0]}"
            )
        y = y.to(device=x.device, dtype=torch.promote_types(x.dtype, y.dtype))
        kx, ky = gram_linear(x.to(y.dtype)), gram_linear(y)
        self.xy += float(hsic_unbiased(kx, ky))
        self.xx += float(hsic_unbiased(kx, kx))
        self.yy += float(hsic_unbiased(ky, ky))
        self.batches += 1

    def value(self) -> float:
        if self.batches == 0:
            raise ValueError("minibatch CKA has seen no batches")
        return self.xy / (self.xx * self.yy) ** 0.5


def minibatch_cka(pairs: Iterable[tuple]) -> float:
    """Linear minibatch CKA over an iterable of (x_batch, y_batch) pairs, each of at least 4 items."""
    acc = MinibatchCKA()
    for x, y in pairs:
        acc.update(x, y)
    return acc.value()
