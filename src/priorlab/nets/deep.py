"""Deep fully connected toy networks: `depth` layers of `width` units, each a Linear map then an activation.

    net = deep(100, 20, "tanh", init="normal", gain=0.1)   # the Guest & Love blog toy: weights 0.1·N(0, 1), no bias
    net = deep(1000, 30, "tanh", bias=True, init="fan-in", gain=1.5, bias_std=0.3)   # mean-field setting

The returned :class:`DeepNet` is an ``nn.Sequential`` of blocks named ``layer1`` … ``layerD`` (plus ``readout``
when ``out_features`` is given), so ``priorlab.probe.capture(net, x)`` shows one output per layer, and
``capture(net, x, layers=["layer3.linear"])`` the pre-activations of layer 3.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from priorlab.nets.onehidden import activation_fn


class Periodic(nn.Module):
    """A periodic non-linearity as a module: ``cos``, ``sin`` or ``saw`` (the periodic ReLU of
    :func:`priorlab.nets.onehidden.saw`, period 2π)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = activation_fn(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "linear": nn.Identity,
    "cos": lambda: Periodic("cos"),
    "sin": lambda: Periodic("sin"),
    "saw": lambda: Periodic("saw"),
}
INITS = ("normal", "fan-in", "torch-default")


def activation_module(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{name}' (allowed: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]()


class Block(nn.Module):
    """One layer: ``act(linear(x))``. Not a container, so capture() treats it as one block."""

    def __init__(self, linear: nn.Linear, act: nn.Module):
        super().__init__()
        self.linear = linear
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.linear(x))


class DeepNet(nn.Sequential):
    """``layer1`` … ``layerD`` (:class:`Block`), then an optional linear ``readout``."""

    @property
    def blocks(self) -> list[Block]:
        return [m for m in self if isinstance(m, Block)]


@torch.no_grad()
def init_linear(
    linear: nn.Linear,
    init: str = "normal",
    gain: float = 1.0,
    bias_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> None:
    """Weights N(0, gain²) ("normal") or N(0, gain²/fan_in) ("fan-in"); biases N(0, bias_std²)."""
    if init == "torch-default":
        return
    if init not in INITS:
        raise ValueError(f"unknown init '{init}' (allowed: {', '.join(INITS)})")
    std = gain if init == "normal" else gain / linear.in_features**0.5
    w = torch.randn(linear.weight.shape, generator=generator, dtype=linear.weight.dtype)
    linear.weight.copy_(w * std)
    if linear.bias is not None:
        b = torch.randn(linear.bias.shape, generator=generator, dtype=linear.bias.dtype)
        linear.bias.copy_(b * bias_std)


def deep(
    width: int,
    depth: int,
    activation: str = "tanh",
    bias: bool = False,
    init: str = "normal",
    gain: float = 1.0,
    in_features: int | None = None,
    out_features: int | None = None,
    bias_std: float = 0.0,
    seed: int | None = None,
) -> DeepNet:
    """A width × depth network of Linear+activation blocks.

    init: "normal" = entries N(0, gain²) (Guest & Love: gain 1, or 0.1 in the blog toy), "fan-in" =
    N(0, gain²/fan_in) (mean-field σ_w = gain), "torch-default" = PyTorch's own init.
    bias: add biases, drawn N(0, bias_std²) (zeros by default; mean-field σ_b = bias_std).
    in_features: input size (default `width`); out_features: add a linear ``readout`` with no activation.
    seed: draw the weights from a private generator (the global RNG is left alone); None uses the global RNG.
    """
    if width < 1 or depth < 1:
        raise ValueError(f"width and depth must be ≥ 1 (got width={width}, depth={depth})")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    fan_in = in_features or width
    for i in range(depth):
        linear = nn.Linear(fan_in, width, bias=bias)
        init_linear(linear, init, gain, bias_std, generator)
        layers[f"layer{i + 1}"] = Block(linear, activation_module(activation))
        fan_in = width
    if out_features is not None:
        readout = nn.Linear(width, out_features, bias=bias)
        init_linear(readout, init, gain, bias_std, generator)
        layers["readout"] = readout
    return DeepNet(layers)
