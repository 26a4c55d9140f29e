"""Networks with a sheet of units: a square layer whose units sit on a grid, with or without the locality prior.

    model = build("lenet", n_classes=10, image_shape=(1, 28, 28), prior={"cost": "linear", ...}, dropout=0.25)
    logits, sheet = model(x)          # sheet: [B, side*side], the activation map of the sheet

- :class:`SheetNet`: a body (e.g. :func:`lenet_body`, :func:`alexnet_body`) → the sheet layer (``nn.Linear``, or
  :class:`~priorlab.nets.locality.LocalityLinear` with a prior) → BatchNorm → ReLU → a linear head.
- :class:`SheetRNN`: a vanilla ReLU RNN over image rows whose hidden units are the sheet; the prior sits on its
  recurrent matrix ``weight_hh_l0``.

``prior`` is the keyword arguments of the locality prior (layout, cost, length_scale, strength, form), or None for
the control. ``model.sheet_layer`` is the module carrying the prior, ``model.sheet_weight`` the name of its matrix,
``model.input_layer`` the module whose output feeds the sheet layer (None for the RNN).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from priorlab.errors import UserError
from priorlab.nets.locality import LocalityLinear, apply_locality

__all__ = ["SheetNet", "SheetRNN", "alexnet_body", "build", "evaluate", "lenet_body", "sheet_inputs"]


class SheetNet(nn.Module):
    """A feed-forward net whose penultimate layer is a sheet of units; forward returns (logits, sheet map)."""

    sheet_weight = "weight"
    input_layer = "body"  # the module whose output is the sheet layer's input (for probe.capture)

    def __init__(self, body: nn.Module, sheet_in: int, side: int, n_classes: int, prior: dict | None):
        super().__init__()
        self.body = body
        n = side * side
        self.sheet_layer = LocalityLinear(sheet_in, (side, side), **prior) if prior else nn.Linear(sheet_in, n)
        self.norm = nn.BatchNorm1d(n)
        self.head = nn.Linear(n, n_classes)

    @property
    def side(self) -> int:
        return math.isqrt(self.head.in_features)

    def sheet_shapes(self, layout: str) -> tuple:
        """(input sheet, output sheet) of the sheet layer: its inputs on a line, or on a square grid."""
        n_in = self.sheet_layer.in_features
        if layout == "line":
            return n_in, (self.side, self.side)
        side_in = math.isqrt(n_in)
        if side_in * side_in != n_in:
            raise ValueError(f"layout={layout} needs a square number of inputs to the sheet layer, got {n_in}")
        return (side_in, side_in), (self.side, self.side)

    def forward(self, x):
        s = F.relu(self.norm(self.sheet_layer(self.body(x))))
        return self.head(s), s


class SheetRNN(nn.Module):
    """A vanilla RNN over image rows whose hidden units form the sheet; the prior sits on the recurrent matrix.
    The sheet map is the last hidden state (ReLU units)."""

    sheet_weight = "weight_hh_l0"
    input_layer = None  # the recurrent matrix's input is the sheet itself, one step earlier

    def __init__(self, n_inputs: int, side: int, n_classes: int, prior: dict | None):
        super().__init__()
        n = side * side
        self.rnn = nn.RNN(n_inputs, n, nonlinearity="relu", batch_first=True)
        if prior:
            apply_locality(self.rnn, (side, side), (side, side), name="weight_hh_l0", **prior)
        self.sheet_layer = self.rnn
        self.head = nn.Linear(n, n_classes)

    @property
    def side(self) -> int:
        return math.isqrt(self.head.in_features)

    def sheet_shapes(self, layout: str) -> tuple:
        """(input sheet, output sheet) of the recurrent matrix: the sheet onto itself."""
        return (self.side, self.side), (self.side, self.side)

    def forward(self, x):
        _, h = self.rnn(x.flatten(1, -2) if x.dim() == 4 else x)  # [B, 1, H, W] -> rows [B, H, W]
        s = h[-1]
        return self.head(s), s


def lenet_body(dropout: float) -> nn.Module:
    """The locality study's LeNet up to its 49-unit fc1 (conv 10@5x5, pool, conv 20@5x5, pool, 320 -> 49)."""
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(10, 20, 5), nn.Dropout2d(dropout), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(dropout), nn.LazyLinear(49), nn.ReLU(), nn.Dropout(dropout),
    )


def alexnet_body(dropout: float) -> nn.Module:
    """torchvision AlexNet (weights=None) up to fc6's input: features, pool, dropout, 9216 -> 4096, ReLU, dropout."""
    from torchvision.models import alexnet

    net = alexnet(weights=None, dropout=dropout)
    return nn.Sequential(net.features, net.avgpool, nn.Flatten(), *list(net.classifier)[:4])


def build(model: str, n_classes: int, image_shape: tuple, prior: dict | None, dropout: float) -> SheetNet | SheetRNN:
    """``lenet``: LeNet + a 7x7 sheet; ``rnn``: a 49-unit (7x7) RNN over the image rows; ``alexnet-fc6``: AlexNet
    with fc6 as a 64x64 sheet. ``image_shape`` is one input's (C, H, W)."""
    if model == "rnn":
        return SheetRNN(image_shape[-1], 7, n_classes, prior)
    if model == "alexnet-fc6":
        return SheetNet(alexnet_body(dropout), 4096, 64, n_classes, prior)
    if model != "lenet":
        raise ValueError(f"model must be lenet, rnn or alexnet-fc6, got {model!r}")
    if image_shape[-1] < 16:
        raise UserError(f"image_size={image_shape[-1]} is too small for LeNet's two 5x5 convolutions (use ≥ 16)")
    return SheetNet(lenet_body(dropout), 49, 7, n_classes, prior)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device) -> tuple[float, np.ndarray]:
    """Accuracy (a fraction) of a sheet net on (x, y), in eval mode, and its sheet maps [N, side*side]."""
    model.eval()
    accs, maps = [], []
    for xb, yb in zip(x.split(512), y.split(512)):
        logits, s = model(xb.to(device))
        accs.append((logits.argmax(1).cpu() == yb).float())
        maps.append(s.cpu())
    return torch.cat(accs).mean().item(), torch.cat(maps).numpy()


def sheet_inputs(model: nn.Module, x: torch.Tensor, device) -> np.ndarray | None:
    """What the sheet layer reads, [N, n_in] (``model.input_layer``'s output, through ``probe.capture``), or None
    for a model whose sheet layer has no separate input (the RNN)."""
    from priorlab.probe.capture import capture

    if model.input_layer is None:
        return None
    acts = capture(model.eval(), x.to(device), [model.input_layer], flatten=True, batch_size=512)
    return acts[model.input_layer].cpu().numpy()
