"""How a layer folds its input: fold counts of the image of a straight line, and dead points.

Fold count. Map a straight input line, sampled densely and in order, through the network: its image is a polyline
(exactly piecewise linear for ReLU networks). Walk along it, segment by segment:

1. segments shorter than ``min_length`` × (the polyline's total length) are skipped: ReLU collapses whole stretches
   of the line onto one point, and those carry no direction;
2. the first kept segment sets the *reference direction*;
3. a segment whose direction differs from the reference by more than ``angle_tol`` degrees is a **fold**: it is
   counted and becomes the new reference.

Collinear pieces (any number of them) therefore count nothing; each kink sharper than ``angle_tol`` counts once; a
smooth bend (tanh) counts once per ``angle_tol`` degrees of accumulated turning. The count works in any dimension
(angles between segment vectors).

Dead points. After a ReLU layer, a point is *dead* when every unit of the layer outputs 0: the layers above then see
the same vector for all such points, so whatever told them apart is lost for good.
"""

from __future__ import annotations

import torch


def fold_count(curve: torch.Tensor, angle_tol: float = 20.0, min_length: float = 1e-4) -> int:
    """Number of folds of the polyline ``curve`` [P, D] (points in order along the mapped line)."""
    if curve.dim() != 2 or curve.shape[0] < 2:
        raise ValueError(f"curve must be [P ≥ 2, D], got shape {tuple(curve.shape)}")
    seg = (curve[1:] - curve[:-1]).double()
    length = seg.norm(dim=1)
    total = length.sum()
    if total <= 0:
        return 0
    keep = length > min_length * total
    directions = seg[keep] / length[keep, None]
    cos_tol = torch.cos(torch.deg2rad(torch.tensor(angle_tol, dtype=torch.float64)))
    folds, ref = 0, None
    for d in directions:
        if ref is None:
            ref = d
        elif torch.dot(ref, d) < cos_tol:
            folds += 1
            ref = d
    return folds


def mean_folds(curves: torch.Tensor, angle_tol: float = 20.0, min_length: float = 1e-4) -> float:
    """Mean :func:`fold_count` over a batch of curves [L, P, D] (the images of L straight lines)."""
    return sum(fold_count(c, angle_tol, min_length) for c in curves) / len(curves)


def dead_fraction(h: torch.Tensor) -> float:
    """Fraction of points (rows of ``h`` [N, units]) that are zero in every unit."""
    return (h == 0).all(dim=-1).float().mean().item()


def dead_mask(posts: list[torch.Tensor]) -> torch.Tensor:
    """Points dead at any of the given layers' outputs (each [..., N, units]): bool [..., N]."""
    dead = torch.zeros(posts[0].shape[:-1], dtype=torch.bool)
    for h in posts:
        dead |= (h == 0).all(dim=-1)
    return dead
