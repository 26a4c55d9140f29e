"""Trajectories of dynamical systems, integrated in torch with a fixed-step fourth-order Runge-Kutta scheme.

    rk4(f, x0, dt, n_steps)          generic integrator for dx/dt = f(x); returns [n_steps + 1, d]
    lorenz(n, dt, ...)               Lorenz (1963) system, sigma=10, rho=28, beta=8/3
    van_der_pol(n, dt, mu=...)       Van der Pol oscillator written as a first-order system
    cosine(n, period)                cos(2 pi t / period) sampled at t = 0 .. n-1

`trajectory(name, ...)` picks a system by name, drops a transient and subsamples (the form the forecasting
experiments use); `RandomWindows(xs, length, batch_size, steps, generator)` cuts training batches from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

Field = Callable[[torch.Tensor], torch.Tensor]


def rk4(f: Field, x0: torch.Tensor, dt: float, n_steps: int) -> torch.Tensor:
    """Integrate dx/dt = f(x) from x0 with n_steps classical RK4 steps of size dt: [n_steps + 1, *x0.shape]."""
    if n_steps < 0:
        raise ValueError("n_steps must be >= 0")
    xs = [x0]
    x = x0
    for _ in range(n_steps):
        k1 = f(x)
        k2 = f(x + 0.5 * dt * k1)
        k3 = f(x + 0.5 * dt * k2)
        k4 = f(x + dt * k3)
        x = x + (dt / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        xs.append(x)
    return torch.stack(xs)


def lorenz_field(sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0) -> Field:
    def f(x: torch.Tensor) -> torch.Tensor:
        a, b, c = x[..., 0], x[..., 1], x[..., 2]
        return torch.stack([sigma * (b - a), a * (rho - c) - b, a * b - beta * c], dim=-1)

    return f


def van_der_pol_field(mu: float = 1.0) -> Field:
    def f(x: torch.Tensor) -> torch.Tensor:
        p, v = x[..., 0], x[..., 1]
        return torch.stack([v, mu * (1 - p * p) * v - p], dim=-1)

    return f


def lorenz(
    n_steps: int,
    dt: float = 0.01,
    x0: tuple[float, float, float] = (1.0, 1.0, 1.0),
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
) -> torch.Tensor:
    """Lorenz trajectory [n_steps + 1, 3] (float64)."""
    x = torch.tensor(x0, dtype=torch.float64)
    return rk4(lorenz_field(sigma, rho, beta), x, dt, n_steps)


def van_der_pol(
    n_steps: int, dt: float = 0.01, x0: tuple[float, float] = (1.0, 0.0), mu: float = 1.0
) -> torch.Tensor:
    """Van der Pol trajectory [n_steps + 1, 2] (position, velocity; float64)."""
    x = torch.tensor(x0, dtype=torch.float64)
    return rk4(van_der_pol_field(mu), x, dt, n_steps)


def cosine(n: int, period: float = 25.0, phase: float = 0.0) -> torch.Tensor:
    """cos(2 pi t / period + phase) for t = 0, 1, ..., n-1: [n]."""
    t = torch.arange(n, dtype=torch.float64)
    return torch.cos(2 * math.pi * t / period + phase)


SYSTEMS = {"lorenz": (lorenz, 0.01), "vanderpol": (van_der_pol, 0.01)}


# the time unit of each system's forecast horizon: Lorenz's Lyapunov time 1/λ_max (λ_max ≈ 0.906 for σ=10, ρ=28,
# β=8/3); Van der Pol (μ = 1) has no positive exponent, so its limit-cycle period (≈ 6.663) is used instead
TIME_SCALE = {"lorenz": ("Lyapunov times", 1 / 0.9056), "vanderpol": ("limit-cycle periods", 6.6633)}


def trajectory(name: str, n_samples: int, every: int, transient: int = 2000) -> torch.Tensor:
    """`n_samples` states of system `name`, one every `every` RK4 steps, after `transient` steps: [n_samples, d]."""
    if name not in SYSTEMS:
        raise ValueError(f"unknown system '{name}' (allowed: {', '.join(SYSTEMS)})")
    integrate, dt = SYSTEMS[name]
    xs = integrate(transient + (n_samples - 1) * every, dt=dt)
    return xs[transient::every]


class RandomWindows:
    """``steps`` batches of ``batch_size`` windows of ``length`` consecutive samples of ``xs`` [T, d], each batch
    [length, batch_size, d]; the starts are drawn uniformly from 0 .. T - length - 1 with ``generator``."""

    def __init__(self, xs: torch.Tensor, length: int, batch_size: int, steps: int, generator: torch.Generator):
        if length >= len(xs):
            raise ValueError(f"windows of {length} samples need more than {len(xs)} samples")
        self.xs, self.length, self.batch_size, self.steps, self.generator = xs, length, batch_size, steps, generator

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[torch.Tensor]:
        for _ in range(self.steps):
            starts = torch.randint(0, len(self.xs) - self.length, (self.batch_size,), generator=self.generator)
            yield torch.stack([self.xs[s : s + self.length] for s in starts], 1)
