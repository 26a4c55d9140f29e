"""Input checks shared by the statistics functions: each failure is one-line `UserError` naming the argument.

    a = rdm_matrix(a, "a")                         # float64 [N, N] tensor, symmetric from its upper triangle
    check_comparable(a, "a", method)               # its dissimilarities are not all equal (or, for cosine, not all zero)
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch

from priorlab.errors import UserError
from priorlab.probe.rdm import METHODS

ALTERNATIVES = ("two-sided", "greater", "less")


def choice(value, name: str, allowed: tuple[str, ...]) -> str:
    """`value` when it is one of `allowed`, else a UserError listing them."""
    if value not in allowed:
        raise UserError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def method(value) -> str:
    return choice(value, "method", METHODS)


def alternative(value) -> str:
    return choice(value, "alternative", ALTERNATIVES)


def count(value, name: str, minimum: int) -> int:
    """A whole number >= `minimum` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise UserError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    return int(value)


def seed(value) -> int:
    return count(value, "seed", 0)


def level(value, name: str = "confidence") -> float:
    """A probability strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise UserError(f"{name} must be a number strictly between 0 and 1; got {value!r}")
    return float(value)


def rdm_matrix(x, name: str, device: torch.device | None = None) -> torch.Tensor:
    """`x` as a float64 [N, N] tensor (N >= 3, finite), made symmetric from its strict upper triangle.

    Only the upper triangle is used (as `priorlab.probe.compare` does); the diagonal is set to 0."""
    try:
        t = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as e:
        raise UserError(f"{name}: not a numeric array ({e})") from None
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise UserError(f"{name}: an RDM must be a square [N, N] matrix, got shape {tuple(t.shape)}")
    if t.shape[0] < 3:
        raise UserError(f"{name}: an RDM comparison needs N >= 3 stimuli, got N = {t.shape[0]}")
    if t.is_complex() or t.dtype == torch.bool:
        raise UserError(f"{name}: an RDM must hold real numbers, got {t.dtype}")
    t = t.to(device=device if device is not None else t.device, dtype=torch.float64)
    up = torch.triu(t, diagonal=1)
    if not bool(torch.isfinite(up).all()):
        raise UserError(f"{name}: the RDM has NaN or infinite dissimilarities")
    return up + up.T


def rdm_stack(x, name: str, device: torch.device | None = None) -> torch.Tensor:
    """`x` ([S, N, N], or a sequence of [N, N]) as a float64 stack of checked RDMs."""
    if isinstance(x, (list, tuple)):
        items = list(x)
    else:
        try:
            t = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as e:
            raise UserError(f"{name}: not a numeric array ({e})") from None
        if t.ndim != 3:
            raise UserError(f"{name}: expected a stack of RDMs [S, N, N], got shape {tuple(t.shape)}")
        items = list(t)
    mats = [rdm_matrix(m, f"{name}[{s}]", device) for s, m in enumerate(items)]
    same_size(mats, name)
    return torch.stack(mats) if mats else torch.empty(0, 0, 0, dtype=torch.float64)


def same_size(mats: list[torch.Tensor], name: str) -> None:
    sizes = sorted({m.shape[0] for m in mats})
    if len(sizes) > 1:
        raise UserError(f"{name}: the RDMs have different sizes (N = {', '.join(map(str, sizes))})")


def check_pair(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str] = ("a", "b")) -> None:
    """Two checked RDMs of the same number of stimuli."""
    if a.shape != b.shape:
        raise UserError(
            f"{names[0]} and {names[1]}: the RDMs have different sizes ({a.shape[0]} vs {b.shape[0]} stimuli)"
        )


def check_comparable(d: torch.Tensor, name: str, how: str) -> None:
    """A correlation needs dissimilarities that are not all equal; a cosine needs them not all zero."""
    i, j = torch.triu_indices(d.shape[0], d.shape[0], offset=1, device=d.device)
    v = d[i, j]
    if how == "cosine":
        if not bool((v != 0).any()):
            raise UserError(f"{name}: every dissimilarity is 0, so a cosine comparison is undefined")
    elif bool((v == v[0]).all()):
        raise UserError(f"{name}: the RDM is constant (all dissimilarities equal), so a {how} comparison is undefined")


def pvalues(p, name: str = "pvalues") -> np.ndarray:
    """A non-empty 1-D array of p-values in [0, 1]."""
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise UserError(f"{name}: not a numeric array ({e})") from None
    if arr.ndim != 1 or arr.size == 0:
        raise UserError(f"{name}: expected a non-empty 1-D list of p-values, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise UserError(f"{name}: contains NaN or infinite values")
    if ((arr < 0) | (arr > 1)).any():
        raise UserError(f"{name}: p-values must lie in [0, 1]; got {arr[(arr < 0) | (arr > 1)][0]:g}")
    return arr


def finite_values(x, name: str, minimum: int = 2) -> np.ndarray:
    """A 1-D array of at least `minimum` finite numbers."""
    try:
        arr = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise UserError(f"{name}: not a numeric array ({e})") from None
    if arr.ndim != 1 or arr.size < minimum:
        raise UserError(f"{name}: expected a 1-D list of at least {minimum} numbers, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise UserError(f"{name}: contains NaN or infinite values")
    return arr


def is_whole(x) -> bool:
    return not isinstance(x, bool) and isinstance(x, (Integral, float)) and math.isfinite(x) and x == int(x)
