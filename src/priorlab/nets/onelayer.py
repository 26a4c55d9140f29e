"""One random hidden ReLU layer, y = W2 relu(W1 x + b1) + b2 (Williams et al. 2024), and what trains it cheaply.

    net = one_hidden(64, 1024, 10, seed=0)       # W1 ~ N(0, 1/d), W2 ~ N(0, 1/N), biases 0
    forward = full_batch(net, x)                 # net(x); x W1ᵀ computed once while W1 is frozen
    UnitMask(1024, keep=0.5, seed=0)             # a learned on/off mask over hidden units (straight-through)
    task_net("bias", 1024, 10, shared_w1, seed=1, keep=0.5)   # one task's net on a shared frozen W1 (multitask)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from priorlab.randomization import randomize
from priorlab.regimes import apply

__all__ = ["FrozenFirstLayer", "UnitMask", "full_batch", "matched_width", "one_hidden", "task_net"]


def one_hidden(inputs: int, width: int, outputs: int, seed: int) -> nn.Sequential:
    """y = W2 relu(W1 x + b1) + b2 with W1 ~ N(0, 1/d), W2 ~ N(0, 1/N), biases 0."""
    net = nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, outputs))
    return randomize(net, init="fan-in", seed=seed)


def matched_width(width: int, inputs: int, outputs: int) -> int:
    """Width of a fully trained net with as many parameters as a bias-only net of `width` (width + outputs)."""
    return max(1, round(width / (inputs + 1 + outputs)))


class FrozenFirstLayer:
    """net(x) for a fixed x, with x W1ᵀ computed once: valid while W1 (net[0].weight) does not learn."""

    def __init__(self, net: nn.Sequential, x: torch.Tensor):
        self.first, self.rest = net[0], net[1:]
        with torch.no_grad():
            self.pre = x @ self.first.weight.T

    def __call__(self) -> torch.Tensor:
        return self.rest(self.pre + self.first.bias)


def full_batch(net: nn.Sequential, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """net(x) as a function of nothing: the cached :class:`FrozenFirstLayer` when W1 is frozen, else net(x)."""
    return FrozenFirstLayer(net, x) if not net[0].weight.requires_grad else (lambda: net(x))


class UnitMask(nn.Module):
    """h -> h * m with m the indicator of the top `keep` fraction of `scores`; gradients pass straight through to
    the scores (m + s - s.detach()), as edge-popup does for weights."""

    def __init__(self, units: int, keep: float, seed: int):
        super().__init__()
        self.k = max(1, round(keep * units))
        self.scores = nn.Parameter(torch.rand(units, generator=torch.Generator().manual_seed(seed)))

    def mask(self) -> torch.Tensor:
        m = torch.zeros_like(self.scores)
        m[self.scores.topk(self.k).indices] = 1.0
        return m + self.scores - self.scores.detach()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * self.mask()


def task_net(
    method: str, width: int, classes: int, shared: torch.Tensor, seed: int, keep: float
) -> nn.Sequential:
    """A one-hidden-layer net on the frozen first-layer weight `shared` [width, d], with its own zero hidden bias
    and its own random frozen head. method ``bias``: b1 and b2 learn; ``mask``: the scores of a :class:`UnitMask`
    after the ReLU (the top `keep` fraction of units on) and b2 learn, b1 stays 0."""
    net = one_hidden(shared.shape[1], width, classes, seed)
    net[0].weight = shared
    if method == "bias":
        return apply(net, "bias_only")
    net = apply(nn.Sequential(net[0], net[1], UnitMask(width, keep, seed), net[2]), "frozen")
    net[2].scores.requires_grad_(True)
    net[3].bias.requires_grad_(True)
    return net
