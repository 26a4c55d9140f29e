"""Functional smoothness layer by layer: Guest & Love's distortion protocol on any network.

    levels = noise_levels(20)                                  # SD 0.05·k, k = 0..19 (level 0: SD 1e-4)
    r = distortion_curves(model, prototypes, levels, seed=0)   # {layer: [levels]} mean Pearson r

Each prototype (a stimulus) gets a distorted version per level, prototype + σ_k·N(0, 1) noise on every input entry
(inputs standardised to unit SD make σ_k comparable with Guest & Love 2017, Fig. 2A, whose prototypes are N(0, 1)).
The measure at a layer is the Pearson r between the layer's output for the prototype and for its distorted version
(over the output's features), averaged over prototypes; r = 1 at level 0 means the layer is a smooth function of its
input there, and a fast fall with the noise level means similar inputs are mapped far apart. An item whose output is
constant at a layer (a dead ReLU layer) has no r and is left out of the mean; a layer with no r at all gives NaN.
Layers are named and captured by `priorlab.probe.capture` (one hook rule).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from priorlab.probe.capture import capture

STEP = 0.05  # noise SD per level (Guest & Love 2017)
FLOOR = 1e-4  # the SD of level 0


def noise_levels(n_levels: int = 20, step: float = STEP, floor: float = FLOOR) -> np.ndarray:
    """Noise SDs step·k for k = 0..n_levels−1, with level 0 at `floor` (so it is a tiny distortion, not none)."""
    if n_levels < 2:
        raise ValueError(f"n_levels must be ≥ 2, got {n_levels}")
    if not step > 0 or not floor > 0:
        raise ValueError(f"step and floor must be positive, got {step}, {floor}")
    levels = step * np.arange(n_levels, dtype=np.float64)
    levels[0] = floor
    return levels


def row_pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson r between matching rows of a and b ([N, ...] each, flattened), float64; NaN for a constant row."""
    a = a.reshape(a.shape[0], -1).double()
    b = b.reshape(b.shape[0], -1).double()
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    den = torch.linalg.vector_norm(a, dim=1) * torch.linalg.vector_norm(b, dim=1)
    r = (a * b).sum(1) / den
    return torch.where(den > 0, r, torch.nan)


def distorted(prototypes: torch.Tensor, sd: float, generator: torch.Generator) -> torch.Tensor:
    """prototypes + sd·N(0, 1), noise drawn on the CPU from `generator` (the same numbers on every device)."""
    noise = torch.randn(prototypes.shape, generator=generator, dtype=torch.float32)
    return prototypes + sd * noise.to(device=prototypes.device, dtype=prototypes.dtype)


def distortion_curves(
    model: nn.Module,
    prototypes: torch.Tensor,
    levels: Sequence[float] | np.ndarray | None = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    timesteps=None,
    names: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """{layer: [len(levels)] mean Pearson r of prototype vs distorted output}, in layer order.

    levels: noise SDs (default `noise_levels(20)`); layers: module paths for `capture` (None: the natural blocks);
    names: keep only these captured entries (e.g. the layers an RDM analysis kept after dropping aliases).
    The noise depends only on `seed`, so two networks see the same distorted stimuli."""
    levels = noise_levels() if levels is None else np.asarray(levels, dtype=np.float64)
    if prototypes.ndim < 2 or prototypes.shape[0] < 1:
        raise ValueError(f"prototypes must be [N, ...] with N ≥ 1, got shape {tuple(prototypes.shape)}")
    kw = {"batch_size": batch_size, **({"timesteps": timesteps} if timesteps is not None else {})}
    with torch.no_grad():
        clean = capture(model, prototypes, layers, **kw)
        keep = [n for n in clean if names is None or n in set(names)]
        gen = torch.Generator().manual_seed(int(seed))
        out = {n: np.empty(len(levels)) for n in keep}
        for k, sd in enumerate(levels):
            noisy = capture(model, distorted(prototypes, float(sd), gen), layers, **kw)
            for n in keep:
                r = row_pearson(clean[n], noisy[n])
                out[n][k] = float(r[torch.isfinite(r)].mean()) if bool(torch.isfinite(r).any()) else float("nan")
    return out


__all__ = ["distorted", "distortion_curves", "noise_levels", "row_pearson"]
