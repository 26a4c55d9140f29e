"""Recurrent networks with fixed random weights and learned biases: generate a cosine, forecast chaotic systems.

The network (discrete-time leaky rate units):

    h_{t+1} = (1 - alpha) h_t + alpha tanh(W h_t + U x_t + b),     y_t = V h_t + c

W ~ N(0, g²/N), U ~ N(0, 1/d), V ~ N(0, 1/N) are drawn once and frozen (`priorlab.randomize`, `fan-in`);
only the biases b and c learn (`priorlab.regimes.apply(net, "bias_only")`).

(a) generation: no input; from a fixed random h_0 the output must trace cos(2 pi t / 25). Trained by
    backpropagation through the first `train_periods` periods, scored on the `4` periods that follow.
(b) forecasting: the input is the current state of a Lorenz or Van der Pol trajectory (RK4, standardised), the
    output the next state (teacher forcing, random windows). Scored in closed loop on held-out time: after a
    warm-up the network's output is fed back as its next input for `horizon` steps.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, UserError
from priorlab.context import RunContext
from priorlab.data.dynamics import cosine, trajectory
from priorlab.errors import check_finite
from priorlab.randomization import randomize
from priorlab.regimes import apply, summary

DESCRIPTION = (
    "RNN with fixed random weights and learned biases: generate a cosine, forecast Lorenz / Van der Pol"
)
ORDER = 43
CITATION = (
    "Williams, Ryoo, Jiralerspong, Payeur, Perich, Mazzucato, Lajoie (2024). Expressivity of Neural Networks with "
    "Random Weights and Learned Biases. ICLR 2025."
)
FIGURES = {
    "generation": "Target cosine (period 25) and the bias-only RNN's autonomous output; the shaded span is the "
    "training window, the rest is scored as gen_nmse.",
    "forecast": "Held-out closed-loop forecasts (dashed) against the true trajectory, one panel per system; "
    "the first samples are the teacher-forced warm-up.",
    "jacobian": "Eigenvalues of the Jacobian of the network's autonomous (closed-loop) map at the last state, "
    "with the unit circle.",
}
DEMO = [{}]

SYSTEMS = {"lorenz": 2, "vanderpol": 5}  # RK4 steps (dt = 0.01) between samples


class Config(BaseConfig):
    units: int = Field(200, ge=2, le=4096, description="recurrent units N")
    gain: float = Field(1.5, gt=0, le=10, description="g: recurrent weights W ~ N(0, g²/N)")
    alpha: float = Field(0.5, gt=0, le=1, description="leak: h <- (1 - alpha) h + alpha tanh(W h + U x + b)")
    period: float = Field(25.0, ge=4, le=1000, description="period of the cosine to generate (time steps)")
    train_periods: int = Field(4, ge=1, le=40, description="periods of the cosine used for training")
    gen_steps: int = Field(200, ge=1, le=100_000, description="Adam steps for the generator")
    systems: list[Literal["lorenz", "vanderpol"]] = Field(
        ["lorenz", "vanderpol"], max_length=2, description="dynamical systems to forecast"
    )
    forecast_steps: int = Field(100, ge=1, le=100_000, description="Adam steps per forecasting network")
    window: int = Field(60, ge=5, le=5000, description="training window length (teacher forcing), samples")
    warmup: int = Field(
        10, ge=1, le=1000, description="teacher-forced samples before the loss / the forecast"
    )
    batch: int = Field(32, ge=1, le=4096, description="training windows per step")
    horizon: int = Field(50, ge=1, le=5000, description="closed-loop forecast length scored, samples")
    lr: float = Field(0.05, gt=0, le=1, description="Adam learning rate (biases)")

    FULL: ClassVar[dict] = {"gen_steps": 1000, "forecast_steps": 2000}


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


def nmse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean squared error over the target's variance (per component, then averaged)."""
    err = ((pred - target) ** 2).reshape(-1, target.shape[-1] if target.dim() > 1 else 1).mean(0)
    var = target.reshape(-1, err.numel()).var(0)
    return float((err / var).mean())


def jacobian_eigenvalues(net: BiasRNN, h: torch.Tensor) -> np.ndarray:
    jac = torch.autograd.functional.jacobian(net.closed_loop, h.detach())
    return torch.linalg.eigvals(jac).detach().numpy()


def _adam(net: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)


def train_generator(cfg: Config, seed: int, progress) -> tuple[BiasRNN, dict]:
    net = apply(BiasRNN(cfg.units, 0, 1, cfg.gain, cfg.alpha, seed), "bias_only")
    n_train = round(cfg.train_periods * cfg.period)
    n_test = round(4 * cfg.period)
    target = cosine(n_train + n_test, cfg.period).float()
    opt = _adam(net, cfg.lr)
    losses = []
    for step in progress(range(cfg.gen_steps), description="generator"):
        y, _ = net.generate(n_train)
        loss = ((y[:, 0] - target[:n_train]) ** 2).mean()
        check_finite(loss.item(), step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        y, h_end = net.generate(n_train + n_test)
    y = y[:, 0]
    return net, {
        "target": target.numpy(),
        "output": y.numpy(),
        "n_train": n_train,
        "losses": np.array(losses),
        "eig": jacobian_eigenvalues(net, h_end),
        "gen_nmse": nmse(y[n_train:], target[n_train:]),
        "gen_nmse_train": nmse(y[:n_train], target[:n_train]),
    }


def train_forecaster(cfg: Config, system: str, seed: int, progress) -> tuple[BiasRNN, dict]:
    n_train, n_test = 2000, 1000
    xs = trajectory(system, n_train + n_test, every=SYSTEMS[system]).float()
    mu, sd = xs[:n_train].mean(0), xs[:n_train].std(0)
    xs = (xs - mu) / sd
    d = xs.shape[1]
    net = apply(BiasRNN(cfg.units, d, d, cfg.gain, cfg.alpha, seed), "bias_only")
    opt = _adam(net, cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    span = cfg.window + 1
    for step in progress(range(cfg.forecast_steps), description=f"forecast {system}"):
        starts = torch.randint(0, n_train - span, (cfg.batch,), generator=gen)
        seq = torch.stack([xs[s : s + span] for s in starts], 1)  # [window + 1, B, d]
        y, _ = net.teacher_forced(seq[:-1])
        loss = ((y[cfg.warmup :] - seq[cfg.warmup + 1 :]) ** 2).mean()
        check_finite(loss.item(), step)
        opt.zero_grad()
        loss.backward()
        opt.step()

    # closed-loop forecasts from held-out starting points
    with torch.no_grad():
        span = cfg.warmup + cfg.horizon
        starts = torch.arange(n_train, n_train + n_test - span, max(1, (n_test - span) // 20))
        seq = torch.stack([xs[s : s + span] for s in starts], 1)  # [warmup + horizon, B, d]
        _, h = net.teacher_forced(seq[: cfg.warmup])
        pred, h_end = net.generate(cfg.horizon, h)
        truth = seq[cfg.warmup :]
        persistence = seq[cfg.warmup - 1].expand_as(truth)
    return net, {
        "truth": seq[:, 0].numpy(),
        "pred": pred[:, 0].numpy(),
        "nmse": nmse(pred, truth),
        "nmse_persistence": nmse(persistence, truth),
        "eig": jacobian_eigenvalues(net, h_end[0]),
    }


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    if cfg.warmup >= cfg.window:
        raise UserError(f"'warmup' ({cfg.warmup}) must be smaller than 'window' ({cfg.window})")
    if len(set(cfg.systems)) != len(cfg.systems):
        raise UserError("'systems' lists a system twice (allowed: lorenz, vanderpol, each once)")
    metrics: dict[str, float] = {}

    gen_net, gen = train_generator(cfg, ctx.seed, ctx.progress)
    metrics["gen_nmse"] = gen["gen_nmse"]
    metrics["gen_nmse_train"] = gen["gen_nmse_train"]
    ctx.save_model(gen_net, "generator")
    ctx.save_arrays(
        gen_target=gen["target"], gen_output=gen["output"], gen_eig=gen["eig"], gen_loss=gen["losses"]
    )
    rows = [
        {
            "network": "generator",
            "trainable": summary(gen_net).trainable,
            "total": summary(gen_net).total,
            "nmse": round(gen["gen_nmse"], 5),
            "persistence nmse": None,
        }
    ]

    forecasts = {}
    for k, system in enumerate(cfg.systems):
        net, fc = train_forecaster(cfg, system, ctx.seed + 10 * (k + 1), ctx.progress)
        forecasts[system] = fc
        metrics[f"forecast_nmse_{system}"] = fc["nmse"]
        metrics[f"persistence_nmse_{system}"] = fc["nmse_persistence"]
        ctx.save_arrays(
            **{f"{system}_truth": fc["truth"], f"{system}_pred": fc["pred"], f"{system}_eig": fc["eig"]}
        )
        rows.append(
            {
                "network": f"forecast {system}",
                "trainable": summary(net).trainable,
                "total": summary(net).total,
                "nmse": round(fc["nmse"], 5),
                "persistence nmse": round(fc["nmse_persistence"], 5),
            }
        )
    ctx.table(
        "Bias-only RNNs (nmse: generation on the 4 periods after training; forecasts in closed loop)", rows
    )
    ctx.note(
        f"Only biases learn: {rows[0]['trainable']} of {rows[0]['total']} parameters in the generator. "
        "'persistence nmse' is the error of repeating the last observed state, a floor any forecaster must beat."
    )

    _figures(cfg, ctx, gen, forecasts)
    return metrics


def _figures(cfg: Config, ctx: RunContext, gen: dict, forecasts: dict) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2))
    t = np.arange(len(gen["target"]))
    ax.axvspan(0, gen["n_train"], color="0.9", label="training window")
    ax.plot(t, gen["target"], "k-", lw=2, label=f"target cos(2πt/{cfg.period:g})")
    ax.plot(t, gen["output"], "C1--", lw=1.5, label="bias-only RNN (autonomous)")
    ax.set(
        xlabel="time step",
        ylabel="output",
        title=f"Generation, {cfg.units} units, only biases learned: NMSE after training = {gen['gen_nmse']:.3g}",
    )
    ax.legend(loc="lower left", fontsize=8)
    ctx.save_figure("generation", fig)

    if forecasts:
        fig, axes = plt.subplots(1, len(forecasts), figsize=(5 * len(forecasts), 3.2), squeeze=False)
        for ax, (system, fc) in zip(axes[0], forecasts.items()):
            n = len(fc["truth"])
            t = np.arange(n)
            for j in range(fc["truth"].shape[1]):
                ax.plot(t, fc["truth"][:, j], f"C{j}-", lw=1.5, label=f"x{j + 1} true")
                ax.plot(t[cfg.warmup :], fc["pred"][:, j], f"C{j}--", lw=1.5, label=f"x{j + 1} forecast")
            ax.axvline(cfg.warmup - 0.5, color="0.5", lw=0.8)
            ax.set(
                xlabel="sample (after the warm-up: closed loop)",
                ylabel="standardised state",
                title=f"{system}: closed-loop NMSE {fc['nmse']:.3g}",
            )
            ax.legend(fontsize=7, ncol=2)
        ctx.save_figure("forecast", fig)

    eigs = {"generator": gen["eig"], **{s: fc["eig"] for s, fc in forecasts.items()}}
    fig, axes = plt.subplots(
        1, len(eigs), figsize=(3.8 * len(eigs), 3.9), squeeze=False, layout="constrained"
    )
    circle = np.exp(1j * np.linspace(0, 2 * math.pi, 400))
    for ax, (name, ev) in zip(axes[0], eigs.items()):
        ax.plot(circle.real, circle.imag, "k-", lw=0.8, label="unit circle")
        ax.scatter(ev.real, ev.imag, s=8, c="C3", label="eigenvalues")
        lim = max(1.1, 1.05 * np.abs(ev).max())
        ax.set(
            xlabel="Re λ",
            ylabel="Im λ",
            title=f"{name}: max |λ| = {np.abs(ev).max():.3f}",
            aspect="equal",
            xlim=(-lim, lim),
            ylim=(-lim, lim),
        )
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("Jacobian of the closed-loop map at the end of training")
    ctx.save_figure("jacobian", fig)
