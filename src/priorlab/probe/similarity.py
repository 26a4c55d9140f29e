"""Representational similarity measures beyond RDMs: CKA, Procrustes, CCA and its variants, shape metrics.

    similarity(x, y, measure="procrustes")       # x [N, ...], y [N, ...]: two representations of the same N items
    similarity(x, y, measure="shape", alpha=0.5)

| measure | what it is | range | kind |
| --- | --- | --- | --- |
| ``cka`` | linear CKA (Kornblith et al. 2019); options of :func:`priorlab.probe.cka` pass through | [0, 1] | similarity |
| ``procrustes`` | orthogonal Procrustes distance min_R ‖X̂ − ŶR‖_F of the centred, unit-norm representations | [0, √2] | distance |
| ``cca`` | mean canonical correlation (all min(rank X, rank Y) pairs) | [0, 1] | similarity |
| ``svcca`` | mean CCA after keeping the top SVD directions that explain ``keep`` (0.99) of each one's variance (Raghu et al. 2017) | [0, 1] | similarity |
| ``pwcca`` | CCA weighted by how much of X each canonical direction accounts for (Morcos et al. 2018); not symmetric | [0, 1] | similarity |
| ``shape`` | angular shape metric with partial whitening α (Williams et al. 2021): α = 1 Procrustes (angular), α = 0 CCA-like | [0, π/2] | distance |

Every measure is invariant to isotropic scaling, and all but PWCCA to rotations of either representation (PWCCA's
weights sum absolute projections on the units, so they depend on the unit basis); CCA and ``shape`` at α = 0 are
invariant to any invertible linear map. Items are centred first. Computation is float64 on the inputs' device (CUDA when the
tensors are there).
"""

from __future__ import annotations

import math

import torch

from priorlab.probe.rdm import as_matrix

MEASURES = ("cka", "procrustes", "cca", "svcca", "pwcca", "shape")
DISTANCES = ("procrustes", "shape")

__all__ = ["DISTANCES", "MEASURES", "canonical_correlations", "cca", "procrustes", "pwcca", "shape_distance",
           "similarity", "svcca"]


def _pair(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = as_matrix(x).double(), as_matrix(y).double()
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must describe the same items: {x.shape[0]} vs {y.shape[0]} rows")
    if x.shape[0] < 3:
        raise ValueError(f"need at least 3 items, got {x.shape[0]}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("x and y must be finite (NaN or inf found)")
    y = y.to(x.device)
    return x - x.mean(0), y - y.mean(0)


def _unit(x: torch.Tensor) -> torch.Tensor:
    norm = torch.linalg.matrix_norm(x)
    if norm == 0:
        raise ValueError("a representation is constant across items (zero variance)")
    return x / norm


def _basis(x: torch.Tensor, tol: float = 1e-10) -> torch.Tensor:
    """Orthonormal basis [N, r] of the column space of the centred x (rank r by a relative singular-value cut)."""
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    if s.numel() == 0 or s[0] == 0:
        raise ValueError("a representation is constant across items (zero variance)")
    return u[:, s > tol * s[0]]


def procrustes(x, y) -> float:
    """Orthogonal Procrustes distance between centred, unit-Frobenius-norm x and y: √(2 − 2‖X̂ᵀŶ‖_*)."""
    x, y = _pair(x, y)
    nuc = torch.linalg.matrix_norm(_unit(x).T @ _unit(y), ord="nuc").clamp(max=1.0)
    return math.sqrt(max(0.0, 2.0 - 2.0 * nuc.item()))


def canonical_correlations(x, y) -> torch.Tensor:
    """All canonical correlations of x and y, largest first (length min(rank x, rank y))."""
    x, y = _pair(x, y)
    return torch.linalg.svdvals(_basis(x).T @ _basis(y)).clamp(0.0, 1.0)


def cca(x, y) -> float:
    """Mean canonical correlation."""
    return canonical_correlations(x, y).mean().item()


def _top_directions(x: torch.Tensor, keep: float) -> torch.Tensor:
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    var = s**2
    k = int(torch.searchsorted(torch.cumsum(var, 0) / var.sum(), torch.tensor(keep, dtype=var.dtype,
                                                                             device=var.device)).item()) + 1
    return u[:, :k] * s[:k]


def svcca(x, y, keep: float = 0.99) -> float:
    """Mean CCA of the top SVD directions explaining ``keep`` of each representation's variance."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    x, y = _pair(x, y)
    return cca(_top_directions(x, keep), _top_directions(y, keep))


def pwcca(x, y) -> float:
    """Projection-weighted CCA (Morcos et al. 2018): canonical correlations weighted by Σ_j |⟨h_i, x_j⟩|,
    h_i the canonical variates of x and x_j its centred columns."""
    x, y = _pair(x, y)
    bx, by = _basis(x), _basis(y)
    a, rho, _ = torch.linalg.svd(bx.T @ by, full_matrices=False)
    r = rho.numel()
    h = bx @ a[:, :r]  # canonical variates of x, unit norm
    weights = (h.T @ x).abs().sum(1)
    return (weights @ rho.clamp(0.0, 1.0) / weights.sum()).item()


def _inv_sqrt(c: torch.Tensor, eps: float) -> torch.Tensor:
    w, v = torch.linalg.eigh(c)
    w = w.clamp_min(0) + eps * w.max().clamp_min(1e-300)
    return (v / w.sqrt()) @ v.T


def shape_distance(x, y, alpha: float = 1.0, eps: float = 1e-12) -> float:
    """Angular shape distance with partial whitening: X̃ = X(αI + (1−α)Σ_X^{-1/2}), likewise Y;
    arccos(‖X̃ᵀỸ‖_* / (‖X̃‖_F‖Ỹ‖_F)). Representations of different widths are zero-padded to the wider one."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    x, y = _pair(x, y)
    width = max(x.shape[1], y.shape[1])
    x = torch.nn.functional.pad(x, (0, width - x.shape[1]))
    y = torch.nn.functional.pad(y, (0, width - y.shape[1]))

    def whiten(z):
        if alpha == 1.0:
            return z
        eye = torch.eye(width, dtype=z.dtype, device=z.device)
        return z @ (alpha * eye + (1 - alpha) * _inv_sqrt(z.T @ z / z.shape[0], eps))

    xt, yt = _unit(whiten(x)), _unit(whiten(y))
    score = torch.linalg.matrix_norm(xt.T @ yt, ord="nuc").clamp(-1.0, 1.0)
    return math.acos(score.item())


def similarity(x, y, measure: str = "cka", **options) -> float:
    """The named measure of two representations of the same items (see the table in this module's docstring)."""
    if measure == "cka":
        from priorlab.probe.cka import cka

        return cka(x, y, **options)
    fns = {"procrustes": procrustes, "cca": cca, "svcca": svcca, "pwcca": pwcca, "shape": shape_distance}
    if measure not in fns:
        raise ValueError(f"measure: unknown '{measure}' (allowed: {', '.join(MEASURES)})")
    return fns[measure](x, y, **options)
