"""Recurrent networks with fixed random weights and learned biases: generate a cosine, forecast chaotic systems.

The network (discrete-time leaky rate units):

    h_{t+1} = (1 - alpha) h_t + alpha tanh(W h_t + U x_t + b),     y_t = V h_t + c

W ~ N(0, g²/N), U ~ N(0, 1/d), V ~ N(0, 1/N) are drawn once and frozen (`priorlab.nets.biasrnn.BiasRNN`);
only the biases b and c learn (`priorlab.regimes.apply(net, "bias_only")`).

(a) generation: no input; from a fixed random h_0 the output must trace cos(2 pi t / 25). Trained by
    backpropagation through the first `train_periods` periods, scored on the `4` periods that follow.
(b) forecasting: the input is the current state of a Lorenz or Van der Pol trajectory (RK4, standardised), the
    output the next state (teacher forcing, random windows). Scored in closed loop on held-out time: after a
    warm-up the network's output is fed back as its next input for `horizon` steps.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from priorlab.config import BaseConfig, BatchSize, LearningRate, Steps, unique_list
from priorlab.context import RunContext
from priorlab.data.dynamics import TIME_SCALE, RandomWindows, cosine, trajectory
from priorlab.nets.biasrnn import BiasRNN, jacobian_disc, jacobian_eigenvalues, valid_steps
from priorlab.regimes import apply, summary
from priorlab.stats.claims import Claim
from priorlab.train.loop import fit
from priorlab.viz.rnn import forecasts as forecast_figure
from priorlab.viz.rnn import generation, phase_portrait, spectra

DESCRIPTION = (
    "RNN with fixed random weights and learned biases: generate a cosine, forecast Lorenz / Van der Pol"
)
ORDER = 43
CITATION = (
    "Williams, Ryoo, Jiralerspong, Payeur, Perich, Mazzucato, Lajoie (2024). Expressivity of Neural Networks with "
    "Random Weights and Learned Biases. ICLR 2025."
)
QUESTION = (
    "Can a recurrent network whose weights stay random, learning only its biases, generate a cosine and forecast "
    "chaotic and periodic dynamics?"
)
KEY_FIGURE = "portrait"
SOURCE = "Williams et al. 2024 (STUDIES.md §3)"
FIGURES = {
    "generation": "Target cosine (period 25) and the bias-only RNN's autonomous output; the shaded span is the "
    "training window, the rest is scored as gen_nmse.",
    "forecast": "Held-out closed-loop forecasts (dashed) against the true trajectory, one panel per system; "
    "the first samples are the teacher-forced warm-up.",
    "jacobian": "Eigenvalues of the Jacobian of the network's autonomous (closed-loop) map at the last state, "
    "with the unit circle; dashed: the disc the leak predicts, centre 1 − α, radius α g rms(1 − tanh²).",
    "portrait": "Lorenz phase portrait (standardised x, y, z): the true held-out trajectory and the bias-only RNN's "
    "free-running forecast from the same start; left, the first steps overlaid (the marker is where the error first "
    "exceeds 0.4 SD).",
}
DEMO = [{}]

SYSTEMS = {"lorenz": 2, "vanderpol": 5}  # RK4 steps (dt = 0.01) between samples
SHORT = {"lorenz": "lorenz", "vanderpol": "vdp"}  # metric names
N_TRAIN, N_TEST = 2000, 1000  # samples of each trajectory: teacher-forced training, then held out


class Config(BaseConfig):
    units: int = Field(200, ge=2, le=4096, description="recurrent units N")
    gain: float = Field(1.5, gt=0, le=10, description="g: recurrent weights W ~ N(0, g²/N)")
    alpha: float = Field(0.5, gt=0, le=1, description="leak: h <- (1 - alpha) h + alpha tanh(W h + U x + b)")
    lr: LearningRate = Field(0.05, description="Adam learning rate (biases)")
    period: float = Field(25.0, ge=4, le=1000, description="period of the cosine to generate (time steps)")
    train_periods: int = Field(4, ge=1, le=40, description="periods of the cosine used for training")
    gen_steps: Steps = Field(200, description="Adam steps for the generator")
    systems: unique_list(Literal["lorenz", "vanderpol"], min_length=0, max_length=2) = Field(
        ["lorenz", "vanderpol"], description="dynamical systems to forecast"
    )
    forecast_steps: Steps = Field(100, description="Adam steps per forecasting network")
    window: int = Field(60, ge=5, le=5000, description="training window length (teacher forcing), samples")
    warmup: int = Field(
        10, ge=1, le=1000, description="teacher-forced samples before the loss / the forecast (< window)"
    )
    batch_size: BatchSize = Field(32, description="training windows per step")
    horizon: int = Field(50, ge=1, le=5000, description="closed-loop forecast length scored, samples")
    valid_horizon: int = Field(
        400, ge=1, le=5000, description="closed-loop samples searched for the valid time (error > 0.4 SD)"
    )

    FULL: ClassVar[dict] = {"gen_steps": 1000, "forecast_steps": 2000}
    RENAMED: ClassVar[dict] = {"batch": "batch_size"}

    @model_validator(mode="after")
    def _warmup_inside_window(self):
        if self.warmup >= self.window:
            raise ValueError(f"'warmup' ({self.warmup}) must be smaller than 'window' ({self.window})")
        for key in ("horizon", "valid_horizon"):
            if self.warmup + getattr(self, key) >= N_TEST:
                raise ValueError(f"'warmup' + '{key}' must be below the {N_TEST} held-out samples")
        return self


def nmse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean squared error over the target's variance (per component, then averaged)."""
    err = ((pred - target) ** 2).reshape(-1, target.shape[-1] if target.dim() > 1 else 1).mean(0)
    var = target.reshape(-1, err.numel()).var(0)
    return float((err / var).mean())


def _untimed(_phase: str):
    return nullcontext()


def train_generator(cfg: Config, seed: int, progress, timed=None) -> tuple[BiasRNN, dict]:
    """Backpropagation through the first train_periods periods of the cosine; scored on the 4 after them.
    ``timed``: a run's ``ctx.timed``, to count the training (not the scoring) as its train time."""
    net = apply(BiasRNN(cfg.units, 0, 1, cfg.gain, cfg.alpha, seed), "bias_only")
    n_train = round(cfg.train_periods * cfg.period)
    n_test = round(4 * cfg.period)
    target = cosine(n_train + n_test, cfg.period).float()

    def loss(step: int) -> torch.Tensor:
        y, _ = net.generate(n_train)
        return ((y[:, 0] - target[:n_train]) ** 2).mean()

    with (timed or _untimed)("train"):
        history = fit(net, loss, cfg.gen_steps, lr=cfg.lr, progress=progress, description="generator")
    with torch.no_grad():
        y, h_end = net.generate(n_train + n_test)
    y = y[:, 0]
    return net, {
        "target": target.numpy(),
        "output": y.numpy(),
        "n_train": n_train,
        "losses": history.losses,
        "eig": jacobian_eigenvalues(net, h_end),
        "disc": jacobian_disc(net, h_end),
        "gen_nmse": nmse(y[n_train:], target[n_train:]),
        "gen_nmse_train": nmse(y[:n_train], target[:n_train]),
    }


def train_forecaster(cfg: Config, system: str, seed: int, progress, timed=None) -> tuple[BiasRNN, dict]:
    """Teacher forcing on random training windows; scored in closed loop from held-out starting points."""
    n_train, n_test = N_TRAIN, N_TEST
    xs = trajectory(system, n_train + n_test, every=SYSTEMS[system]).float()
    mu, sd = xs[:n_train].mean(0), xs[:n_train].std(0)
    xs = (xs - mu) / sd
    d = xs.shape[1]
    net = apply(BiasRNN(cfg.units, d, d, cfg.gain, cfg.alpha, seed), "bias_only")
    windows = RandomWindows(
        xs[:n_train], cfg.window + 1, cfg.batch_size, cfg.forecast_steps, torch.Generator().manual_seed(seed)
    )

    def loss(seq: torch.Tensor) -> torch.Tensor:  # seq [window + 1, B, d]
        y, _ = net.teacher_forced(seq[:-1])
        return ((y[cfg.warmup :] - seq[cfg.warmup + 1 :]) ** 2).mean()

    with (timed or _untimed)("train"):
        fit(net, loss, windows, lr=cfg.lr, progress=progress, description=f"forecast {system}")

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
        "disc": jacobian_disc(net, h_end[0]),
        **free_running(cfg, net, xs, system),
    }


@torch.no_grad()
def free_running(cfg: Config, net: BiasRNN, xs: torch.Tensor, system: str) -> dict:
    """The valid time (mean over 20 held-out starts of the steps before the error exceeds 0.4 SD, and in the
    system's time unit) and a long free run from the first held-out sample for the phase portrait."""
    span = cfg.warmup + cfg.valid_horizon
    starts = torch.arange(N_TRAIN, N_TRAIN + N_TEST - span, max(1, (N_TEST - span) // 20))
    seq = torch.stack([xs[s : s + span] for s in starts], 1)
    _, h = net.teacher_forced(seq[: cfg.warmup])
    pred, _ = net.generate(cfg.valid_horizon, h)
    steps = valid_steps(pred, seq[cfg.warmup :])
    unit, scale = TIME_SCALE[system]
    long = xs[N_TRAIN:, None]
    _, h = net.teacher_forced(long[: cfg.warmup])
    free, _ = net.generate(N_TEST - cfg.warmup, h)
    return {
        "valid_steps": float(steps.mean()),
        "valid_time": float(steps.mean()) * SYSTEMS[system] * 0.01 / scale,
        "time_unit": unit,
        "free_truth": long[:, 0].numpy(),
        "free_pred": free[:, 0].numpy(),
        "first_invalid": int(valid_steps(free, long[cfg.warmup :])[0]),
    }


def _row(name: str, net: BiasRNN, score: float, persistence: float | None, valid: dict | None = None) -> dict:
    s = summary(net)
    row = {
        "network": name,
        "trainable": s.trainable,
        "total": s.total,
        "nmse": round(score, 5),
        "persistence nmse": None if persistence is None else round(persistence, 5),
    }
    if valid is not None:
        row["valid time"] = f"{valid['valid_steps']:.1f} steps = {valid['valid_time']:.2f} {valid['time_unit']}"
    return row


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    gen_net, gen = train_generator(cfg, ctx.seed, ctx.progress, ctx.timed)
    ctx.save_model(gen_net, "generator")
    metrics = {"gen_nmse": gen["gen_nmse"], "gen_nmse_train": gen["gen_nmse_train"]}
    ctx.save_arrays(gen_target=gen["target"], gen_output=gen["output"], gen_eig=gen["eig"], gen_loss=gen["losses"],
                    gen_disc=np.array(gen["disc"]), gen_scores=np.array([gen["n_train"], gen["gen_nmse"]]))
    rows = [_row("generator", gen_net, gen["gen_nmse"], None)]

    forecasts = {}
    for k, system in enumerate(cfg.systems):
        net, fc = train_forecaster(cfg, system, ctx.seed + 10 * (k + 1), ctx.progress, ctx.timed)
        forecasts[system] = fc
        metrics[f"forecast_nmse_{system}"] = fc["nmse"]
        metrics[f"persistence_nmse_{system}"] = fc["nmse_persistence"]
        metrics[f"valid_time_{SHORT[system]}"] = fc["valid_time"]
        metrics[f"valid_steps_{SHORT[system]}"] = fc["valid_steps"]
        ctx.save_arrays(**{f"{system}_{key}": fc[key] for key in ("truth", "pred", "eig", "free_truth", "free_pred")},
                        **{f"{system}_disc": np.array(fc["disc"]),
                           f"{system}_scores": np.array([fc[key] for key in SCORES])})
        rows.append(_row(f"forecast {system}", net, fc["nmse"], fc["nmse_persistence"], fc))
    ctx.table(
        "Bias-only RNNs (nmse: generation on the 4 periods after training; forecasts in closed loop)", rows
    )
    ctx.note(
        f"Only biases learn: {rows[0]['trainable']} of {rows[0]['total']} parameters in the generator. "
        "'persistence nmse' is the error of repeating the last observed state, a floor any forecaster must beat. "
        "'valid time': closed-loop steps until the RMS error first exceeds 0.4 of the attractor's SD (mean over 20 "
        "held-out starts), in Lyapunov times for Lorenz (1/0.906) and limit-cycle periods for Van der Pol."
    )
    discs = {"generator": gen["disc"], **{s: fc["disc"] for s, fc in forecasts.items()}}
    metrics.update(spectrum_metrics(ctx, cfg, {"generator": gen["eig"], **{s: fc["eig"] for s, fc in forecasts.items()}},
                                    discs))
    return metrics


SCORES = ("nmse", "valid_time", "first_invalid")  # per forecaster, saved as <system>_scores for the figures


def key_figure(cfg: Config) -> str:
    return "portrait" if "lorenz" in cfg.systems else "generation"


def draw(cfg: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure of a run from its arrays: generation, forecasts, the Lorenz portrait and the Jacobian spectra."""
    n_train, gen_nmse = arrays["gen_scores"]
    if ctx.draws("generation"):
        ctx.save_figure("generation", generation(arrays["gen_target"], arrays["gen_output"], int(n_train), cfg.period,
                                                 cfg.units, float(gen_nmse)))
    forecasts = {}
    for system in cfg.systems:
        nmse_, valid_time, first_invalid = arrays[f"{system}_scores"]
        forecasts[system] = {key: arrays[f"{system}_{key}"] for key in ("truth", "pred", "free_truth", "free_pred")}
        forecasts[system].update(nmse=float(nmse_), valid_time=float(valid_time), first_invalid=int(first_invalid),
                                 time_unit=TIME_SCALE[system][0])
    if forecasts and ctx.draws("forecast"):
        ctx.save_figure("forecast", forecast_figure(forecasts, cfg.warmup))
    if "lorenz" in forecasts and ctx.draws("portrait"):
        ctx.save_figure("portrait", phase_portrait(forecasts["lorenz"], cfg.warmup))
    if ctx.draws("jacobian"):
        names = ["generator", *cfg.systems]
        eigs = {name: arrays[f"{'gen' if name == 'generator' else name}_eig"] for name in names}
        discs = {name: tuple(float(v) for v in arrays[f"{'gen' if name == 'generator' else name}_disc"])
                 for name in names}
        ctx.save_figure("jacobian", spectra(eigs, discs))


def spectrum_metrics(ctx: RunContext, cfg: Config, eigs: dict, discs: dict) -> dict[str, float]:
    """``eig_centre_<net>`` (mean real part), ``eig_radius_<net>`` (98th percentile of the distance from 1 − α, so a
    few feedback outliers do not set it) and ``eig_radius_theory_<net>``, with the sentence that explains it."""
    metrics = {}
    for name, ev in eigs.items():
        centre, radius = discs[name]
        metrics[f"eig_centre_{name}"] = float(ev.real.mean())
        metrics[f"eig_radius_{name}"] = float(np.percentile(np.abs(ev - centre), 98))
        metrics[f"eig_radius_theory_{name}"] = radius
    g = metrics["eig_centre_generator"]
    ctx.note(
        f"Why the eigenvalue cloud sits at {g:.2f}, not at 0: the leak. The closed-loop map is h ↦ (1 − α) h + "
        "α tanh(W h + …), so its Jacobian is (1 − α) I + α D W_eff with D = diag(1 − tanh²): every eigenvalue is "
        f"1 − α = {1 - cfg.alpha:g} plus α times one of D W's, which fill a disc of radius g·rms(D) (circular law). "
        f"Measured radius {metrics['eig_radius_generator']:.3f} vs α g rms(D) = "
        f"{metrics['eig_radius_theory_generator']:.3f} for the generator; saturated units (small D) shrink the disc, "
        "and the feedback through the readout adds a few outliers to the forecasters' clouds."
    )
    return metrics


def setup(cfg: Config) -> str:
    systems = " and ".join(cfg.systems) or "no system"
    return (
        f"One seed. A {cfg.units}-unit leaky tanh RNN (W ~ N(0, {cfg.gain:g}²/N), α = {cfg.alpha:g}) whose weights "
        f"stay random; only the biases learn. Generator: cos(2πt/{cfg.period:g}) from a fixed state, "
        f"{cfg.train_periods} periods trained, 4 scored. Forecasters for {systems}: {cfg.forecast_steps} Adam steps "
        f"on {cfg.batch_size} teacher-forced windows of {cfg.window}; scored in closed loop on held-out time "
        f"({cfg.horizon} samples for NMSE, up to {cfg.valid_horizon} for the valid time)."
    )


def claims(cfg: Config) -> list[Claim]:
    out = [Claim(f"a bias-only RNN of {cfg.units} units learns to generate a cosine of period {cfg.period:g} "
                 "(held-out NMSE ≤ 0.1)", source=SOURCE, metric="gen_nmse", expected=(0.0, 0.1))]
    for system in cfg.systems:
        out.append(Claim(
            f"a bias-only RNN forecasts {system} in closed loop better than repeating the last state", source=SOURCE,
            metric=lambda m, s=system: m[f"forecast_nmse_{s}"] / m[f"persistence_nmse_{s}"], expected=(0.0, 1.0),
            label=f"forecast_nmse_{system} / persistence_nmse_{system}"))
    return out
