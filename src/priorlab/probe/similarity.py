"""Representational similarity measures beyond RDMs: CKA, Procrustes, CCA and its variants, shape metrics.

    similarity(x, y, measure="procrustes")       # x [N, ...], y [N, ...]: two representations of the same N items
    similarity(x, y, measure="shape", alpha=0.5)
    gram_similarity(gx, gy, measure="cca")       # the same from column-centred [N, N] Gram matrices

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

All measures but PWCCA depend on a representation only through its centred Gram matrix X Xᵀ, that is through its
:class:`Spectrum` (the item-space singular vectors U and singular values s of the centred X): :func:`spectrum` takes it
from the activations (an SVD), :func:`gram_spectrum` from a Gram matrix (an eigendecomposition, as
`priorlab.probe.layerwise` keeps them), and :func:`from_spectra` computes the measure from two spectra — one formula
for both routes. PWCCA also needs the units themselves: its canonical directions come from the spectra
(:func:`canonical_directions`), its weights from the activations (`priorlab.probe.paired_pwcca` makes one more pass
over a network for them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from priorlab.probe.rdm import as_matrix

MEASURES = ("cka", "procrustes", "cca", "svcca", "pwcca", "shape")
DISTANCES = ("procrustes", "shape")
GRAM_MEASURES = tuple(m for m in MEASURES if m != "pwcca")  # computable from Gram matrices
NOT_FROM_SPECTRA = {
    "pwcca": "measure: pwcca weights the units of x, which a Gram matrix does not keep; use similarity(x, y, "
    "'pwcca') on activations, or priorlab.probe.paired_pwcca for two networks' layers",
    "cka": "measure: cka from Gram matrices is priorlab.probe.cka_gram (or gram_similarity(gx, gy, 'cka'))",
}

__all__ = ["DISTANCES", "GRAM_MEASURES", "MEASURES", "Spectrum", "canonical_correlations", "canonical_directions",
           "cca", "from_spectra", "pwcca_weighted",
           "gram_similarity", "gram_spectrum", "procrustes", "pwcca", "shape_distance", "similarity", "spectrum",
           "svcca"]


@dataclass
class Spectrum:
    """A centred representation X = U diag(s) Vᵀ of N items seen from item space: U [N, r] orthonormal, s [r] > 0
    descending, r its numerical rank. Every measure but PWCCA depends on X only through (U, s)."""

    u: torch.Tensor
    s: torch.Tensor

    @property
    def n(self) -> int:
        return self.u.shape[0]

    def top(self, keep: float) -> Spectrum:
        """The leading directions that explain `keep` of the variance (SVCCA's reduction)."""
        var = self.s**2
        share = torch.cumsum(var, 0) / var.sum()
        k = int(torch.searchsorted(share, torch.tensor(keep, dtype=var.dtype, device=var.device)).item()) + 1
        return Spectrum(self.u[:, :k], self.s[:k])


def _check_items(n: int) -> None:
    if n < 3:
        raise ValueError(f"need at least 3 items, got {n}")


def _pair(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = as_matrix(x).double(), as_matrix(y).double()
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must describe the same items: {x.shape[0]} vs {y.shape[0]} rows")
    _check_items(x.shape[0])
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("x and y must be finite (NaN or inf found)")
    y = y.to(x.device)
    return x - x.mean(0), y - y.mean(0)


def _constant() -> ValueError:
    return ValueError("a representation is constant across items (zero variance)")


def spectrum(x, tol: float = 1e-10, centred: bool = False) -> Spectrum:
    """The spectrum of the item-centred x [N, ...] (float64, x's device); singular values below tol × the largest
    are dropped."""
    x = as_matrix(x).double()
    if not centred:
        x = x - x.mean(0)
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    if s.numel() == 0 or s[0] == 0:
        raise _constant()
    keep = s > tol * s[0]
    return Spectrum(u[:, keep], s[keep])


def gram_spectrum(g, eps: float = torch.finfo(torch.float64).eps) -> Spectrum:
    """The spectrum of a column-centred Gram matrix g = X Xᵀ [N, N] (float64, g's device).

    eps is the relative precision g was formed in (float64's by default; float32's when its products were float32):
    eigenvalues below N · eps × the largest are rounding noise and dropped, so directions with singular values below
    about √(N · eps) of the largest (1.5e-7 for 100 items in float64) are not resolved from a Gram matrix."""
    g = torch.as_tensor(g).double()
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"a Gram matrix must be square [N, N], got {tuple(g.shape)}")
    _check_items(g.shape[0])
    if not torch.isfinite(g).all():
        raise ValueError("the Gram matrix must be finite (NaN or inf found)")
    w, v = torch.linalg.eigh((g + g.T) / 2)
    w, v = w.flip(0), v.flip(1)
    if w[0] <= 0:
        raise _constant()
    keep = w > w[0] * max(g.shape[0], 1) * eps
    return Spectrum(v[:, keep], w[keep].sqrt())


# ---------------------------------------------------------------------------------------------- from spectra
def _cross(a: Spectrum, b: Spectrum, fa: torch.Tensor | None = None, fb: torch.Tensor | None = None) -> torch.Tensor:
    """diag(fa) Uaᵀ Ub diag(fb): the r_a × r_b core of Xᵀ Y (fa = sa, fb = sb) in the singular bases."""
    fa = a.s if fa is None else fa
    fb = b.s if fb is None else fb
    return fa[:, None] * (a.u.T @ b.u.to(a.u.device)) * fb.to(a.u.device)[None, :]


def _procrustes(a: Spectrum, b: Spectrum) -> float:
    nuc = torch.linalg.matrix_norm(_cross(a, b), ord="nuc") / (torch.linalg.vector_norm(a.s) *
                                                                torch.linalg.vector_norm(b.s))
    return math.sqrt(max(0.0, 2.0 - 2.0 * min(1.0, nuc.item())))


def _canonical(a: Spectrum, b: Spectrum) -> torch.Tensor:
    return torch.linalg.svdvals(a.u.T @ b.u.to(a.u.device)).clamp(0.0, 1.0)


def _whitened(sp: Spectrum, alpha: float, eps: float) -> torch.Tensor:
    """Singular values of X(αI + (1−α)Σ^{-1/2}), Σ = XᵀX / N regularised by eps × its largest eigenvalue."""
    if alpha == 1.0:
        return sp.s
    var = sp.s**2 / sp.n
    return sp.s * (alpha + (1 - alpha) / (var + eps * var[0]).sqrt())


def _shape(a: Spectrum, b: Spectrum, alpha: float, eps: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    fa, fb = _whitened(a, alpha, eps), _whitened(b, alpha, eps)
    score = torch.linalg.matrix_norm(_cross(a, b, fa, fb), ord="nuc") / (
        torch.linalg.vector_norm(fa) * torch.linalg.vector_norm(fb.to(fa.device))
    )
    return math.acos(min(1.0, max(-1.0, score.item())))


def _check_keep(keep: float) -> None:
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")


def from_spectra(a: Spectrum, b: Spectrum, measure: str, **options) -> float:
    """The measure (procrustes, cca, svcca or shape) of two representations of the same items given by their spectra.

    options: ``keep`` (svcca), ``alpha`` and ``eps`` (shape)."""
    if a.n != b.n:
        raise ValueError(f"the two representations describe different items: {a.n} vs {b.n}")
    if measure == "procrustes":
        return _procrustes(a, b)
    if measure == "cca":
        return _canonical(a, b).mean().item()
    if measure == "svcca":
        keep = options.get("keep", 0.99)
        _check_keep(keep)
        return _canonical(a.top(keep), b.top(keep)).mean().item()
    if measure == "shape":
        return _shape(a, b, options.get("alpha", 1.0), options.get("eps", 1e-12))
    if measure in ("pwcca", "cka"):
        raise ValueError(NOT_FROM_SPECTRA[measure])
    raise ValueError(f"measure: unknown '{measure}' (allowed: {', '.join(MEASURES)})")


# ---------------------------------------------------------------------------------------------- from activations
def procrustes(x, y) -> float:
    """Orthogonal Procrustes distance between centred, unit-Frobenius-norm x and y: √(2 − 2‖X̂ᵀŶ‖_*)."""
    x, y = _pair(x, y)
    return _procrustes(spectrum(x, centred=True), spectrum(y, centred=True))


def canonical_correlations(x, y) -> torch.Tensor:
    """All canonical correlations of x and y, largest first (length min(rank x, rank y))."""
    x, y = _pair(x, y)
    return _canonical(spectrum(x, centred=True), spectrum(y, centred=True))


def cca(x, y) -> float:
    """Mean canonical correlation."""
    return canonical_correlations(x, y).mean().item()


def svcca(x, y, keep: float = 0.99) -> float:
    """Mean CCA of the top SVD directions explaining ``keep`` of each representation's variance."""
    _check_keep(keep)
    x, y = _pair(x, y)
    return from_spectra(spectrum(x, centred=True), spectrum(y, centred=True), "svcca", keep=keep)


def canonical_directions(a: Spectrum, b: Spectrum) -> tuple[torch.Tensor, torch.Tensor]:
    """(h [N, r], ρ [r]): x's canonical variates (unit-norm item-space directions) and the canonical correlations."""
    left, rho, _ = torch.linalg.svd(a.u.T @ b.u.to(a.u.device), full_matrices=False)
    return a.u @ left[:, : rho.numel()], rho.clamp(0.0, 1.0)


def pwcca_weighted(weights: torch.Tensor, rho: torch.Tensor) -> float:
    """PWCCA from the weights Σ_j |⟨h_i, x_j⟩| of the canonical directions and their correlations."""
    weights = weights.to(rho.device, rho.dtype)
    return (weights @ rho / weights.sum()).item()


def pwcca(x, y) -> float:
    """Projection-weighted CCA (Morcos et al. 2018): canonical correlations weighted by Σ_j |⟨h_i, x_j⟩|,
    h_i the canonical variates of x and x_j its centred columns."""
    x, y = _pair(x, y)
    h, rho = canonical_directions(spectrum(x, centred=True), spectrum(y, centred=True))
    return pwcca_weighted((h.T @ x).abs().sum(1), rho)


def shape_distance(x, y, alpha: float = 1.0, eps: float = 1e-12) -> float:
    """Angular shape distance with partial whitening: X̃ = X(αI + (1−α)Σ_X^{-1/2}), likewise Y;
    arccos(‖X̃ᵀỸ‖_* / (‖X̃‖_F‖Ỹ‖_F)). Σ_X^{-1/2} is regularised by eps × Σ_X's largest eigenvalue."""
    x, y = _pair(x, y)
    return _shape(spectrum(x, centred=True), spectrum(y, centred=True), alpha, eps)


def similarity(x, y, measure: str = "cka", **options) -> float:
    """The named measure of two representations of the same items (see the table in this module's docstring)."""
    if measure == "cka":
        from priorlab.probe.cka import cka

        return cka(x, y, **options)
    fns = {"procrustes": procrustes, "cca": cca, "svcca": svcca, "pwcca": pwcca, "shape": shape_distance}
    if measure not in fns:
        raise ValueError(f"measure: unknown '{measure}' (allowed: {', '.join(MEASURES)})")
    return fns[measure](x, y, **options)


def gram_similarity(gx, gy, measure: str = "cka", eps: float = torch.finfo(torch.float64).eps, **options) -> float:
    """The named measure from two column-centred Gram matrices of the same items (any measure but pwcca).

    eps: the relative precision the Grams were formed in (see :func:`gram_spectrum`). For ``cka`` the option
    ``debiased`` passes through to :func:`priorlab.probe.cka_gram`."""
    if measure == "cka":
        from priorlab.probe.cka import cka_gram

        return cka_gram(torch.as_tensor(gx).double(), torch.as_tensor(gy).double(), **options)
    if measure not in MEASURES:
        raise ValueError(f"measure: unknown '{measure}' (allowed: {', '.join(MEASURES)})")
    if measure == "pwcca":
        raise ValueError(NOT_FROM_SPECTRA["pwcca"])
    return from_spectra(gram_spectrum(gx, eps), gram_spectrum(gy, eps), measure, **options)
