"""Figures of the biasrnn experiment: autonomous generation, closed-loop forecasts, Jacobian spectra."""

from __future__ import annotations

import math

import numpy as np


def generation(target: np.ndarray, output: np.ndarray, n_train: int, period: float, units: int, nmse: float):
    """The target cosine and the network's autonomous output; the training window shaded."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2))
    t = np.arange(len(target))
    ax.axvspan(0, n_train, color="0.9", label="training window")
    ax.plot(t, target, "k-", lw=2, label=f"target cos(2πt/{period:g})")
    ax.plot(t, output, "C1--", lw=1.5, label="bias-only RNN (autonomous)")
    ax.set(
        xlabel="time step",
        ylabel="output",
        title=f"Generation, {units} units, only biases learned: NMSE after training = {nmse:.3g}",
    )
    ax.legend(loc="lower left", fontsize=8)
    return fig


def forecasts(runs: dict[str, dict], warmup: int):
    """One panel per system: runs[system] has ``truth`` [warmup + horizon, d], ``pred`` [horizon, d] and ``nmse``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.2), squeeze=False)
    for ax, (system, fc) in zip(axes[0], runs.items()):
        t = np.arange(len(fc["truth"]))
        for j in range(fc["truth"].shape[1]):
            ax.plot(t, fc["truth"][:, j], f"C{j}-", lw=1.5, label=f"x{j + 1} true")
            ax.plot(t[warmup:], fc["pred"][:, j], f"C{j}--", lw=1.5, label=f"x{j + 1} forecast")
        ax.axvline(warmup - 0.5, color="0.5", lw=0.8)
        ax.set(
            xlabel="sample (after the warm-up: closed loop)",
            ylabel="standardised state",
            title=f"{system}: closed-loop NMSE {fc['nmse']:.3g}",
        )
        ax.legend(fontsize=7, ncol=2)
    return fig


def spectra(eigs: dict[str, np.ndarray], discs: dict[str, tuple[float, float]] | None = None):
    """Eigenvalues in the complex plane with the unit circle, one panel per network; discs[name] = (centre, radius)
    draws the disc the leak predicts (dashed)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(eigs), figsize=(3.8 * len(eigs), 3.9), squeeze=False, layout="constrained"
    )
    circle = np.exp(1j * np.linspace(0, 2 * math.pi, 400))
    for ax, (name, ev) in zip(axes[0], eigs.items()):
        ax.plot(circle.real, circle.imag, "k-", lw=0.8, label="unit circle")
        ax.scatter(ev.real, ev.imag, s=8, c="C3", label="eigenvalues")
        if discs and name in discs:
            c, r = discs[name]
            ax.plot(c + r * circle.real, r * circle.imag, "b--", lw=0.9, label=f"centre 1 − α = {c:g}, radius α g rms(D)")
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
    return fig


def phase_portrait(fc: dict, warmup: int):
    """Lorenz in 3-D: fc["free_truth"] [T, 3] (the first `warmup` teacher-forced) and fc["free_pred"] [T - warmup, 3]
    (free-running); the first steps overlaid, then the whole truth and the whole forecast on the same axes."""
    import matplotlib.pyplot as plt

    truth, pred, bad = fc["free_truth"][warmup:], fc["free_pred"], fc["first_invalid"]
    fig = plt.figure(figsize=(15, 4.8))
    lims = [(min(truth[:, j].min(), pred[:, j].min()), max(truth[:, j].max(), pred[:, j].max())) for j in range(3)]
    first = min(len(pred), max(3 * bad, 60))
    panels = (
        (f"first {first} steps: truth (blue) vs forecast (orange)", [(truth[:first], "C0"), (pred[:first], "C1")]),
        (f"truth, {len(truth)} held-out steps", [(truth, "C0")]),
        (f"free-running forecast, {len(pred)} steps", [(pred, "C1")]),
    )
    for k, (title, lines) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1, projection="3d")
        for xyz, color in lines:
            ax.plot(*xyz.T, color=color, lw=0.7)
        if k == 0 and bad < len(pred):
            ax.scatter(*pred[bad], color="k", s=25, label=f"error > 0.4 SD at step {bad}")
            ax.legend(fontsize=7)
        ax.set(xlim=lims[0], ylim=lims[1], zlim=lims[2], xlabel="x", ylabel="y", zlabel="z")
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"Lorenz: valid time {fc['valid_time']:.2f} {fc['time_unit']} (mean of 20 starts)")
    fig.tight_layout()
    return fig
