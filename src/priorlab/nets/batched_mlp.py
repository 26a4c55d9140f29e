"""Many small MLPs in one module: one weight tensor per layer with a leading seed dimension, applied with torch.bmm.

Tiny networks (2–8 units wide) waste a whole kernel launch per matrix product; stacking S networks of one shape turns
S small products into one batched one. The networks never interact: train the module with
:func:`priorlab.train.loop.fit` on the sum of the S networks' losses (:func:`cross_entropy`); Adam updates every
element on its own, so network s trains exactly as it would alone (tested)::

    model = BatchedMLP([2, 4, 4, 2], "relu", seeds=8, seed=0)
    fit(model, lambda step: cross_entropy(model(x), y).sum(), 500, lr=0.03)
    acc = accuracy(model(x), y)                                 # [8]
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "leaky_relu": lambda h: nn.functional.leaky_relu(h, 0.01),
    "sigmoid": torch.sigmoid,
}
_MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.01), "sigmoid": nn.Sigmoid}


@dataclass
class Layers:
    """What a forward pass saw: ``pre[l]`` = affine output of layer l, ``post[l]`` = after the non-linearity
    (the last layer is linear, so its ``post`` is its ``pre``). Each is [S, N, width_l]."""

    pre: list[torch.Tensor]
    post: list[torch.Tensor]


class BatchedMLP(nn.Module):
    """``seeds`` independent MLPs with layer sizes ``sizes`` (input, hidden..., output).

    Initialised like ``nn.Linear`` (weights and biases uniform in ±1/√fan_in), each network from its own seed
    ``seed + s``, so network s is the same whatever the number of networks beside it.
    """

    def __init__(self, sizes: list[int], activation: str = "relu", seeds: int = 1, seed: int = 0):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}' (allowed: {', '.join(ACTIVATIONS)})")
        self.sizes, self.activation, self.seed = list(sizes), activation, seed
        weights = [[] for _ in sizes[1:]]
        biases = [[] for _ in sizes[1:]]
        for s in range(seeds):
            gen = torch.Generator().manual_seed(seed + s)
            for l, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
                bound = 1 / math.sqrt(fan_in)
                weights[l].append((torch.rand(fan_in, fan_out, generator=gen) * 2 - 1) * bound)
                biases[l].append((torch.rand(1, fan_out, generator=gen) * 2 - 1) * bound)
        self.weights = nn.ParameterList([nn.Parameter(torch.stack(w)) for w in weights])  # [S, in, out]
        self.biases = nn.ParameterList([nn.Parameter(torch.stack(b)) for b in biases])  # [S, 1, out]

    @property
    def seeds(self) -> int:
        return self.weights[0].shape[0]

    @property
    def depth(self) -> int:
        """Number of weight layers (hidden layers + the output layer)."""
        return len(self.weights)

    def forward(self, x: torch.Tensor, layers: bool = False):
        """``x`` is [N, in] (shared by all networks) or [S, N, in]; returns logits [S, N, out] (and :class:`Layers`)."""
        h = x.expand(self.seeds, *x.shape) if x.dim() == 2 else x
        act = ACTIVATIONS[self.activation]
        pre, post = [], []
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = torch.baddbmm(b, h, w)
            h = act(z) if l < self.depth - 1 else z
            pre.append(z)
            post.append(h)
        return (h, Layers(pre, post)) if layers else h

    def to_sequential(self, s: int = 0) -> nn.Sequential:
        """Network ``s`` as an ordinary ``nn.Sequential`` of ``nn.Linear`` and activation modules."""
        mods: list[nn.Module] = []
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            lin = nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                lin.weight.copy_(w[s].T)
                lin.bias.copy_(b[s, 0])
            mods.append(lin)
            if l < self.depth - 1:
                mods.append(_MODULES[self.activation]())
        return nn.Sequential(*mods)


def stages(model: BatchedMLP, s: int, x: torch.Tensor) -> list[torch.Tensor]:
    """Network ``s``'s view of ``x`` [..., 2]: input, then (affine, non-linearity) per hidden layer, then output."""
    flat = x.reshape(-1, 2)
    with torch.no_grad():
        _, layers = model(flat, layers=True)
    out = [flat]
    for l in range(model.depth - 1):
        out += [layers.pre[l][s], layers.post[l][s]]
    out.append(layers.pre[-1][s])
    return [t.reshape(*x.shape[:-1], t.shape[-1]) for t in out]


def stage_names(model: BatchedMLP) -> list[str]:
    """Names of the :func:`stages`: ``input``, ``layer l: affine``, ``layer l: <activation>``, …, output logits."""
    act = model.activation
    names = ["input"]
    for l in range(1, model.depth):
        names += [f"layer {l}: affine", f"layer {l}: {act}"]
    return names + [f"layer {model.depth}: output logits"]


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-network mean cross-entropy [S] of logits [S, N, C] against labels [N]."""
    seeds, _, n_classes = logits.shape
    return (
        nn.functional.cross_entropy(logits.reshape(-1, n_classes), y.repeat(seeds), reduction="none")
        .view(seeds, -1)
        .mean(1)
    )


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-network accuracy [S] of logits [S, N, C] against labels [N]."""
    return (logits.argmax(-1) == y).float().mean(-1)

