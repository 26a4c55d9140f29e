"""Random vector functional-link network (Igelnik & Pao 1995): fixed random features, a linear readout.

    model = RVFL(d, n, "tanh", scale=1.0, direct_link=True, generator=g)
    priorlab.regimes.fit_readout(priorlab.regimes.apply(model, "readout"), x, y, lam)   # closed-form readout
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "RVFL"]

ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "cos": torch.cos}


class RVFL(nn.Module):
    """y = readout([act(W x + b), x]): W, b ~ U(−scale, scale) fixed; the readout alone is fitted."""

    def __init__(
        self,
        d: int,
        n: int,
        activation: str = "tanh",
        scale: float = 1.0,
        direct_link: bool = True,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.hidden = nn.Linear(d, n)
        with torch.no_grad():
            for p in self.hidden.parameters():
                p.copy_(scale * (2 * torch.rand(p.shape, generator=generator, dtype=p.dtype) - 1))
        self.act = ACTIVATIONS[activation]
        self.direct_link = direct_link
        self.readout = nn.Linear(n + d * direct_link, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.hidden(x))
        return torch.cat([h, x], 1) if self.direct_link else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))
