"""A leaky tanh rate RNN with fixed random weights (Williams et al. 2024): only its biases are meant to learn.

    h_{t+1} = (1 - alpha) h_t + alpha tanh(W h_t + U x_t + b),     y_t = V h_t + c

W ~ N(0, g²/N), U ~ N(0, 1/d), V ~ N(0, 1/N) (`priorlab.randomize`, `fan-in`); put it under
``priorlab.regimes.apply(net, "bias_only")`` to train b and c alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from priorlab.randomization import randomize

__all__ = ["BiasRNN", "jacobian_disc", "jacobian_eigenvalues", "valid_steps"]


class BiasRNN(nn.Module):
    """Leaky tanh RNN h <- (1 - alpha) h + alpha tanh(W h + U x + b), y = V h + c, with a fixed initial state."""

    def __init__(self, units: int, inputs: int, outputs: int, gain: float, alpha: float, seed: int):
        super().__init__()
        self.alpha = alpha
        self.rec = nn.Linear(units, units)
        self.inp = nn.Linear(inputs, units, bias=False) if inputs else None
        self.out = nn.Linear(units, outputs)
        randomize(self.rec, init="fan-in", gain=gain, seed=seed)
        randomize(self.out, init="fan-in", seed=seed + 1)
        if self.inp is not None:
            randomize(self.inp, init="fan-in", seed=seed + 2)
        h0 = torch.randn(units, generator=torch.Generator().manual_seed(seed + 3)) * 0.5
        self.register_buffer("h0", h0)

    def step(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        drive = self.rec(h) if x is None else self.rec(h) + self.inp(x)
        return (1 - self.alpha) * h + self.alpha * torch.tanh(drive)

    def closed_loop(self, h: torch.Tensor) -> torch.Tensor:
        """The autonomous map: with an input, the output is fed back as the next input."""
        return self.step(h) if self.inp is None else self.step(h, self.out(h))

    def generate(self, n: int, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs y_0 .. y_{n-1} of the closed-loop map from h (default h0): ([n, ..., outputs], last state)."""
        h = self.h0 if h is None else h
        ys = []
        for _ in range(n):
            ys.append(self.out(h))
            h = self.closed_loop(h)
        return torch.stack(ys), h

    def teacher_forced(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Drive with xs [T, B, d] from h = 0; returns the predictions y_t of x_{t+1}: ([T, B, d], last state)."""
        h = torch.zeros(xs.shape[1], self.rec.in_features, dtype=xs.dtype)
        ys = []
        for x in xs:
            h = self.step(h, x)
            ys.append(self.out(h))
        return torch.stack(ys), h


def jacobian_eigenvalues(net: BiasRNN, h: torch.Tensor) -> np.ndarray:
    """Eigenvalues of the Jacobian of the closed-loop map at state h."""
    jac = torch.autograd.functional.jacobian(net.closed_loop, h.detach())
    return torch.linalg.eigvals(jac).detach().numpy()


@torch.no_grad()
def jacobian_disc(net: BiasRNN, h: torch.Tensor) -> tuple[float, float]:
    """Where the leak puts the closed-loop Jacobian's eigenvalues: J = (1 - α) I + α D W_eff with D = diag(1 - tanh²)
    at h, so they sit in a disc centred at 1 - α of radius ≈ α g rms(D) (circular law for D W, W ~ N(0, g²/N); the
    rank-d feedback U V only adds a few outliers). Returns (centre, radius)."""
    drive = net.rec(h) if net.inp is None else net.rec(h) + net.inp(net.out(h))
    slope = 1 - torch.tanh(drive) ** 2
    gain = float(net.rec.weight.std() * net.rec.in_features**0.5)
    return 1 - net.alpha, float(net.alpha * gain * slope.pow(2).mean().sqrt())


def valid_steps(pred: torch.Tensor, truth: torch.Tensor, threshold: float = 0.4) -> torch.Tensor:
    """Per forecast (pred, truth [T, B, d], standardised so the attractor's SD is 1 per component): the number of
    steps before the RMS error over the components first exceeds `threshold` (T if it never does). [B]"""
    err = ((pred - truth) ** 2).mean(-1).sqrt()  # [T, B]
    over = err > threshold
    first = torch.where(over.any(0), over.float().argmax(0), torch.full_like(over[0], len(err), dtype=torch.long))
    return first.float()
