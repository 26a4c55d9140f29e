"""One hidden layer on a scalar input: h_i = f(w_i x + b_i), y = sum_i v_i h_i + c."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

ACTIVATIONS = ("sigmoid", "tanh", "relu", "cos", "sin", "saw")
PERIODIC = ("cos", "sin", "saw")


class SawFunction(torch.autograd.Function):
    """s(z; p) = z mod p, with the gradient a.e.: ds/dz = 1, ds/dp = -floor(z / p).

    The period gets a real gradient: moving p moves every tooth after the first. Together with the
    pre-activation w x + b this gives a periodic ReLU ("saw wave") whose frequency w is learnable.

    Written in the ``torch.func`` form (``forward`` without ctx, ``setup_context``, ``generate_vmap_rule``), so it
    works under ``torch.func.vmap`` / ``grad`` (the ensemble engine) as well as plain autograd.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(z: torch.Tensor, period: torch.Tensor) -> torch.Tensor:
        return z - period * torch.floor(z / period)

    @staticmethod
    def setup_context(ctx, inputs, output):
        z, period = inputs
        ctx.save_for_backward(z, period)

    @staticmethod
    def backward(ctx, grad):
        z, period = ctx.saved_tensors
        gz = grad if ctx.needs_input_grad[0] else None
        gp = None
        if ctx.needs_input_grad[1]:  # reduce over the dimensions the period was broadcast along
            gp = (-(grad * torch.floor(z / period))).sum_to_size(period.shape)
        return gz, gp


def saw(z: torch.Tensor, period: torch.Tensor | float = 2 * math.pi) -> torch.Tensor:
    """Periodic ReLU in [-1, 1): a ramp of slope 2/period that resets every `period`."""
    p = torch.as_tensor(period, dtype=z.dtype, device=z.device)
    return 2.0 * SawFunction.apply(z, p) / p - 1.0


def activation_fn(name: str):
    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "cos": torch.cos,
        "sin": torch.sin,
        "saw": saw,
    }[name]


class OneHidden(nn.Module):
    """y = sum_i v_i f(w_i x + b_i) + c, with torch's default Linear initialisation."""

    def __init__(self, hidden: int, activation: str = "sigmoid"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}")
        self.activation = activation
        self.hidden = nn.Linear(1, hidden)
        self.out = nn.Linear(hidden, 1)
        self.f = activation_fn(activation)

    def units(self, x: torch.Tensor) -> torch.Tensor:
        """h_i(x), shape [N, hidden] for x of shape [N]."""
        return self.f(self.hidden(x[:, None]))

    def contributions(self, x: torch.Tensor) -> torch.Tensor:
        """v_i h_i(x), shape [N, hidden]; their sum plus c is the output."""
        return self.units(x) * self.out.weight[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.units(x))[:, 0]

    def to_array(self) -> np.ndarray:
        """The parameters as one float64 array [hidden + 1, 3]: rows (w_i, b_i, v_i), then (0, 0, c)."""
        w, b = self.hidden.weight[:, 0].detach(), self.hidden.bias.detach()
        rows = torch.stack([w, b, self.out.weight[0].detach()], 1).double()
        return torch.cat([rows, torch.tensor([[0.0, 0.0, self.out.bias.item()]], dtype=torch.float64)]).numpy()

    @classmethod
    def from_array(cls, a: np.ndarray, activation: str) -> OneHidden:
        """The network :meth:`to_array` wrote (float32)."""
        a = torch.as_tensor(np.asarray(a), dtype=torch.float32)
        model = cls(a.shape[0] - 1, activation)
        with torch.no_grad():
            model.hidden.weight.copy_(a[:-1, 0:1])
            model.hidden.bias.copy_(a[:-1, 1])
            model.out.weight.copy_(a[:-1, 2][None])
            model.out.bias.fill_(float(a[-1, 2]))
        return model


def fourier_terms(model: OneHidden) -> list[dict]:
    """A periodic network's units read as Fourier terms a·cos(ω x + φ): ω = |w_i|, φ from b_i, a = |v_i|
    (saw units: frequency and signed amplitude only, no phase)."""
    w = model.hidden.weight[:, 0].detach().double()
    b = model.hidden.bias.detach().double()
    v = model.out.weight[0].detach().double()
    rows = []
    for i in range(len(w)):
        omega, phase, amp = w[i].item(), b[i].item(), v[i].item()
        if model.activation == "sin":  # sin(t) = cos(t - pi/2)
            phase -= math.pi / 2
        if model.activation == "saw":  # saw period 2*pi in z: fundamental frequency |w|
            rows.append({"term": f"unit {i}", "frequency": abs(omega), "phase": None, "amplitude": amp})
            continue
        if omega < 0:  # cos(-a x + b) = cos(a x - b)
            omega, phase = -omega, -phase
        if amp < 0:
            amp, phase = -amp, phase + math.pi
        rows.append({"term": f"unit {i}", "frequency": omega, "phase": math.remainder(phase, 2 * math.pi),
                     "amplitude": amp})
    return rows


def combined_terms(rows: list[dict], rel_tol: float = 0.1) -> list[dict]:
    """Units of (nearly) one frequency are one Fourier term: their phasors a·e^{iφ} add. Groups frequencies within
    ``rel_tol`` of the group's first; returns one row per group with ≥ 2 units, strongest first."""
    groups: list[list[dict]] = []
    for r in sorted((r for r in rows if r["phase"] is not None and r["frequency"] > 0), key=lambda r: r["frequency"]):
        if groups and r["frequency"] <= groups[-1][0]["frequency"] * (1 + rel_tol):
            groups[-1].append(r)
        else:
            groups.append([r])
    out = []
    for g in groups:
        if len(g) < 2:
            continue
        z = sum(r["amplitude"] * complex(math.cos(r["phase"]), math.sin(r["phase"])) for r in g)
        weights = [r["amplitude"] for r in g]
        omega = sum(r["frequency"] * a for r, a in zip(g, weights)) / max(sum(weights), 1e-12)
        out.append({"term": "combined " + " + ".join(r["term"] for r in g), "frequency": omega,
                    "phase": math.atan2(z.imag, z.real), "amplitude": abs(z)})
    return sorted(out, key=lambda r: -r["amplitude"])


def strongest_term(model: OneHidden) -> dict:
    """The strongest Fourier term of a cos/sin network, units of one frequency combined."""
    rows = fourier_terms(model)
    return max(rows + combined_terms(rows), key=lambda r: r["amplitude"])
