"""A shallow ReLU network behind L extra linear layers (Parkinson, Ongie & Willett 2024), and its input map.

    net = linear_relu(inputs=20, extra=2, width=100, seed=0)   # Linear(20,20,no bias) x2, Linear(20,100), ReLU, Linear
    m = input_map(net)        # the end-to-end input matrix W1 A_L ... A_1  [width, inputs]
    alignment(m, u)           # mean cos² of the principal angles between m's top-k right singular vectors and span(u)
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["alignment", "input_map", "linear_relu", "weight_norm2"]


def linear_relu(inputs: int, extra: int, width: int, seed: int) -> nn.Sequential:
    """`extra` bias-free d x d linear layers, then y = W2 relu(W1 x + b1) + b2 (PyTorch's default init, seeded)."""
    torch.manual_seed(seed)
    layers = [nn.Linear(inputs, inputs, bias=False) for _ in range(extra)]
    return nn.Sequential(*layers, nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, 1))


def weight_norm2(net: nn.Module) -> torch.Tensor:
    """Σ ||W||² over the weight matrices (not the biases): the representation cost weight decay charges."""
    return sum((p**2).sum() for name, p in net.named_parameters() if name.endswith("weight"))


@torch.no_grad()
def input_map(net: nn.Sequential) -> torch.Tensor:
    """W1 A_L ... A_1: what the network does to x before the first ReLU (its input layer, end to end)."""
    linears = [m for m in net if isinstance(m, nn.Linear)][:-1]
    m = linears[-1].weight
    for layer in reversed(linears[:-1]):
        m = m @ layer.weight
    return m.clone()


def alignment(m: torch.Tensor, u: torch.Tensor) -> float:
    """Mean cos² of the principal angles between the top-k right singular vectors of `m` and span(u) (u: d x k,
    orthonormal). 1: the same subspace; a random k-plane in R^d scores about k/d."""
    k = u.shape[1]
    v = torch.linalg.svd(m, full_matrices=False)[2][:k].T
    return float((torch.linalg.svdvals(v.T @ u) ** 2).mean())
