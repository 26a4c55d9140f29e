"""Figures of a one-hidden-layer network fitted to a 1-D function (fit1d): the fit, each unit's contribution, the
extrapolation bands, the training loss, the training animation, and several networks side by side.

The functions take the trained model (``OneHidden``: ``model(x)``, ``model.contributions(x)``), the target ``f``, the
training samples ``x, y`` and the training range [lo, hi] with the extrapolation ``margin`` either side.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

FIT_FIGURES = ("fit", "contributions", "extrapolation", "loss")


def fit_figures(model, f, x, y, lo, hi, margin, losses, interp_mse, extrap_mse, only=FIT_FIGURES) -> dict:
    """``{"fit", "contributions", "extrapolation", "loss"}`` figures of one trained network (those in ``only``)."""
    import matplotlib.pyplot as plt

    if not only:
        return {}
    xs = torch.linspace(lo, hi, 600)
    xe = torch.linspace(lo - margin, hi + margin, 1200)
    with torch.no_grad():
        y_in = model(xs)
        y_ext = model(xe)
        contrib = model.contributions(xs)
    title = f"{model.activation}, {model.hidden.out_features} units"
    figures = {}

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(xs, f(xs), color="0.6", lw=2, label="target")
    ax.plot(xs, y_in, color="C3", lw=2, label="network")
    ax.scatter(x, y, s=14, color="k", zorder=3, label="training samples")
    ax.set(xlabel="x", ylabel="y", title=f"Fit ({title}): interp MSE {interp_mse:.3g}")
    ax.legend(loc="best", fontsize=8)
    figures["fit"] = fig

    fig, ax = plt.subplots(figsize=(7, 4))
    k = contrib.shape[1]
    show = range(k) if k <= 30 else np.argsort(-contrib.abs().amax(0).numpy())[:30]
    for i in show:
        ax.plot(xs, contrib[:, i], lw=1, alpha=0.8)
    ax.plot(xs, y_in, color="k", lw=2.5, label="total (Σ v_i h_i + c)")
    ax.plot(xs, f(xs), color="0.6", lw=1.5, ls="--", label="target")
    note = "" if k <= 30 else f" (30 largest of {k})"
    ax.set(xlabel="x", ylabel="v_i · h_i(x)", title=f"Unit contributions{note} — {title}")
    ax.legend(loc="best", fontsize=8)
    figures["contributions"] = fig

    fig, ax = plt.subplots(figsize=(8, 4))
    _ranges(ax, lo, hi, margin)
    ax.plot(xe, f(xe), color="0.5", lw=2, label="target")
    ax.plot(xe, y_ext, color="C3", lw=2, label="network")
    ax.scatter(x, y, s=10, color="k", zorder=3, label="training samples")
    yl = f(xe).abs().max().item() * 1.8 + 0.5
    ax.set_ylim(-yl, yl)
    ax.set(xlabel="x", ylabel="y", title=f"Extrapolation ({title}): extrap MSE {extrap_mse:.3g}")
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    figures["extrapolation"] = fig

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(np.maximum(losses, 1e-12))
    ax.set(xlabel="iteration", ylabel="training MSE", title=f"Training loss — {title}")
    figures["loss"] = fig
    for name in [n for n in figures if n not in only]:
        plt.close(figures.pop(name))
    return figures


def training_gif(path, grid, f, x, y, snapshots, steps, name) -> None:
    """The network's output on ``grid`` at each of ``steps`` (``snapshots`` [frames, grid]), written to ``path``."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(grid, f(grid), color="0.6", lw=2)
    ax.scatter(x, y, s=10, color="k", zorder=3)
    (line,) = ax.plot(grid, snapshots[0], color="C3", lw=2)
    lim = max(1.5, float(np.abs(y).max()) * 1.3)
    ax.set_ylim(-lim, lim)
    ax.set(xlabel="x", ylabel="y")
    title = ax.set_title("")

    def update(i):
        line.set_ydata(snapshots[i])
        title.set_text(f"{name}: iteration {steps[i]}")
        return line, title

    anim = FuncAnimation(fig, update, frames=len(snapshots), blit=False)
    anim.save(path, writer=PillowWriter(fps=10), dpi=70)
    plt.close(fig)


def compare_figure(fits, f, x, y, lo, hi, margin):
    """Several networks side by side over the extended range; ``fits`` = [(name, model, interp_mse, extrap_mse)]."""
    import matplotlib.pyplot as plt

    xe = torch.linspace(lo - margin, hi + margin, 1200)
    cols = min(3, len(fits))
    rows = -(-len(fits) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows + 0.4), sharey=True, squeeze=False)
    for ax in axes.flat[len(fits):]:
        ax.axis("off")
    for ax, (name, model, interp_mse, extrap_mse) in zip(axes.flat, fits):
        with torch.no_grad():
            ye = model(xe)
        _ranges(ax, lo, hi, margin)
        ax.plot(xe, f(xe), color="0.5", lw=2, label="target")
        ax.plot(xe, ye, color="C3", lw=2, label="network")
        ax.scatter(x, y, s=6, color="k", zorder=3, label="training samples")
        ax.set_ylim(-2.5, 2.5)
        ax.set_title(f"{name}: interp {interp_mse:.3f}, extrap {extrap_mse:.3g}")
        ax.set_xlabel("x")
    for ax in axes[:, 0]:
        ax.set_ylabel("y")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def _ranges(ax, lo, hi, margin):
    """The training range (pale yellow) and the extrapolation bands beside it (grey), both in the legend."""
    ax.axvspan(lo, hi, color="#fff6d5", label="training range")
    ax.axvspan(lo - margin, lo, color="0.9", label="outside (extrapolation)")
    ax.axvspan(hi, hi + margin, color="0.9")


class Drawn(NamedTuple):
    """One fitted network as its figures need it: name, model, loss per step, errors and training snapshots."""

    name: str
    model: object
    losses: np.ndarray
    interp_mse: float
    extrap_mse: float
    snapshots: np.ndarray  # [frames, grid]


def draw_fits(ctx, nets: list[Drawn], f, x, y, span, grid, steps, many: bool) -> None:
    """Every figure of a fit1d run through ``ctx`` (``draws``/``save_figure``/``figure_path``): per network the
    fit, contributions, extrapolation, loss and training GIF (suffixed ``_<name>`` when ``many``), then ``compare``."""
    for n in nets:
        suffix = f"_{n.name}" if many else ""
        only = [k for k in FIT_FIGURES if ctx.draws(k + suffix)]
        for k, fig in fit_figures(n.model, f, x, y, *span, n.losses, n.interp_mse, n.extrap_mse, only=only).items():
            ctx.save_figure(k + suffix, fig)
        if ctx.draws(f"training{suffix}"):
            training_gif(ctx.figure_path(f"training{suffix}.gif"), grid, f, x, y, n.snapshots, steps, n.name)
    if many and ctx.draws("compare"):
        panels = [(n.name, n.model, n.interp_mse, n.extrap_mse) for n in nets]
        ctx.save_figure("compare", compare_figure(panels, f, x, y, *span))
