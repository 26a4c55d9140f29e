"""Multi-index regression data, y = g(Uᵀx), and a control target with no low-dimensional structure.

    data = multi_index(d=20, k=2, n_train=160, n_test=2000, seed=0)              # U: d x k orthonormal
    data = multi_index(d=20, k=2, n_train=160, n_test=2000, seed=0, structured=False)

x ~ N(0, I_d). The structured target is g(z) = sin(1.5 z_1) + z_1 z_2 on z = Uᵀx (k = 2) or sin(1.5 z) + z²/2
(k = 1); the control is a random ReLU teacher on 20 isotropic directions of R^d, so it varies along every input
direction. Both targets are standardised on train and test together (mean 0, SD 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["MultiIndex", "multi_index"]


@dataclass
class MultiIndex:
    u: torch.Tensor  # [d, k] orthonormal columns: the index subspace (of the structured target)
    x_train: torch.Tensor
    y_train: torch.Tensor  # [n, 1]
    x_test: torch.Tensor
    y_test: torch.Tensor


def _g(z: torch.Tensor) -> torch.Tensor:
    if z.shape[1] == 1:
        return torch.sin(1.5 * z[:, 0]) + z[:, 0] ** 2 / 2
    return torch.sin(1.5 * z[:, 0]) + z[:, 0] * z[:, 1]


def multi_index(d: int, k: int, n_train: int, n_test: int, seed: int, structured: bool = True) -> MultiIndex:
    g = torch.Generator().manual_seed(seed)
    u = torch.linalg.qr(torch.randn(d, k, generator=g))[0]
    x = torch.randn(n_train + n_test, d, generator=g)
    if structured:
        y = _g(x @ u)
    else:
        directions = torch.randn(d, 20, generator=g) / d**0.5
        y = torch.relu(x @ directions) @ torch.randn(20, generator=g) / 20**0.5
    y = ((y - y.mean()) / y.std())[:, None]
    return MultiIndex(u, x[:n_train], y[:n_train], x[n_train:], y[n_train:])
