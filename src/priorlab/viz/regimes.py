"""Figures of the regime experiments (biasonly, multitask, regimes). Each function takes arrays and returns a
matplotlib figure, or ``{figure name: figure}`` where it draws several; the experiment saves them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def width_curves(
    widths: Sequence[int],
    scores: np.ndarray,
    trainable: np.ndarray,
    regimes: Sequence[str],
    tasks: Sequence[str],
    metrics: Sequence[str],
    ci: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """biasonly: ``width`` and ``params``, one panel per task: scores [task, regime, width, repeat] (mean over the
    repeats, error bars the 95% CI ci = (low, high) [task, regime, width] when given, i.e. more than one repeat)
    against the hidden width and against the trainable parameters [task, regime, width]. metrics[t]: ``acc`` (axis
    from 0) or ``mse`` (log scale)."""
    import matplotlib.pyplot as plt

    seeds = f"{scores.shape[3]} seed" + ("s" if scores.shape[3] > 1 else "")
    spread = f"mean, 95% CI, {seeds}" if ci is not None else seeds
    figures = {}
    for name, xlabel in (("width", "hidden width N (bias-only network)"), ("params", "trainable parameters")):
        fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
        for t, (ax, task) in enumerate(zip(axes[0], tasks)):
            what = "test accuracy" if metrics[t] == "acc" else "test MSE"
            for i, regime in enumerate(regimes):
                xs = widths if name == "width" else trainable[t, i]
                m = scores[t, i].mean(1)
                yerr = None if ci is None else np.clip([m - ci[0][t, i], ci[1][t, i] - m], 0, None)
                ax.errorbar(xs, m, yerr=yerr, marker="o", ms=4, capsize=3, label=regime)
            ax.set_xscale("log", base=2)
            if metrics[t] == "mse":
                ax.set_yscale("log")
            else:
                ax.set_ylim(0, 1.02)
            ax.set(xlabel=xlabel, ylabel=what, title=f"{task}: {what} ({spread})")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        figures[name] = fig
    return figures


def gap_curves(widths: Sequence[int], gaps: dict[str, np.ndarray], matched: dict[str, tuple]) -> object:
    """biasonly ``gap``: left, full − bias-only per task against width (mean and 95% CI band over seeds, gaps[task]
    [width, 3] = mean, low, high); right, full_matched − bias-only against the shared trainable-parameter count
    (matched[task] = (params [width], [width, 3])). Above 0: bias-only behind."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k, (task, g) in enumerate(gaps.items()):
        axes[0].plot(widths, g[:, 0], "-o", color=f"C{k}", ms=4, label=task)
        axes[0].fill_between(widths, g[:, 1], g[:, 2], color=f"C{k}", alpha=0.2)
        if task not in matched:
            continue
        params, mg = matched[task]
        axes[1].plot(params, mg[:, 0], "-o", color=f"C{k}", ms=4, label=task)
        axes[1].fill_between(params, mg[:, 1], mg[:, 2], color=f"C{k}", alpha=0.2)
    for ax, xlabel, title in (
        (axes[0], "hidden width N", "full − bias-only at the same width"),
        (axes[1], "trainable parameters (bias-only N + C)", "full_matched − bias-only at the same parameter count"),
    ):
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set(xlabel=xlabel, ylabel="gap (> 0: bias-only behind)", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def task_switch(
    widths: Sequence[int],
    acc: np.ndarray,
    swaps: dict[str, np.ndarray],
    tasks: Sequence[str],
    methods: Sequence[str],
    classes: Sequence[int],
    ci: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """multitask: ``accuracy``, balanced accuracy acc [method, width, task] against width with chance lines (error
    bars: the 95% CI ci = (low, high) [method, width, task] when given, i.e. more than one seed); and ``switch``, one
    heatmap per method of swaps[method][head task, bias/mask task] at the largest width."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, task in enumerate(tasks):
        for m, method in enumerate(methods):
            yerr = None if ci is None else np.clip([acc[m, :, k] - ci[0][m, :, k], ci[1][m, :, k] - acc[m, :, k]], 0, None)
            ax.errorbar(
                widths,
                acc[m, :, k],
                yerr=yerr,
                fmt="-o" if method == "bias" else "--s",
                color=f"C{k}",
                ms=4,
                capsize=3,
                label=f"{task} ({method})",
            )
        ax.axhline(1 / classes[k], color=f"C{k}", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set(
        xlabel="hidden width N",
        ylabel="balanced test accuracy",
        ylim=(0, 1.02),
        title="One frozen random network, one bias vector (or mask) per task",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    figures = {"accuracy": fig}

    fig, axes = plt.subplots(
        1, len(swaps), figsize=(4.6 * len(swaps), 4.2), squeeze=False, layout="constrained"
    )
    for ax, (method, s) in zip(axes[0], swaps.items()):
        im = ax.imshow(s, vmin=0, vmax=1, cmap="viridis")
        for (a, b), v in np.ndenumerate(s):
            ax.text(b, a, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.6 else "k", fontsize=8)
        ax.set_xticks(range(len(tasks)), tasks, rotation=45)
        ax.set_yticks(range(len(tasks)), tasks)
        ax.set(
            xlabel=f"hidden-layer {'biases' if method == 'bias' else 'mask'} of task",
            ylabel="head (and scored task)",
            title=f"{method}, width {widths[-1]}",
        )
    fig.colorbar(im, ax=axes[0].tolist(), label="balanced accuracy", shrink=0.8)
    figures["switch"] = fig
    return figures


def state_space(projected: np.ndarray, tasks: Sequence[str], labels: Sequence, width: int):
    """multitask ``states``: projected [task, image, 2] hidden states; first panel coloured by the bias vector in
    use, then one panel per task coloured by that task's label (labels[k] [image])."""
    import matplotlib.pyplot as plt

    k = len(tasks)
    fig, axes = plt.subplots(1, k + 1, figsize=(3.6 * (k + 1), 3.6), sharex=True, sharey=True)
    for t, task in enumerate(tasks):
        axes[0].scatter(*projected[t].T, s=4, alpha=0.5, color=f"C{t}", label=f"{task}'s biases")
        ax = axes[t + 1]
        ax.scatter(*projected.reshape(-1, 2).T, s=2, color="0.85")
        ax.scatter(*projected[t].T, s=5, c=np.asarray(labels[t]), cmap="tab10", vmin=0, vmax=9)
        ax.set_title(f"under {task}'s biases: its labels", fontsize=9)
    axes[0].set_title(f"width {width}: one W1, {k} bias vectors", fontsize=9)
    axes[0].legend(fontsize=7, markerscale=3)
    flat = projected.reshape(-1, 2)
    lo, hi = np.percentile(flat, 1, axis=0), np.percentile(flat, 99, axis=0)
    pad = 0.1 * (hi - lo)
    for ax in axes:
        ax.set(xlabel="PC 1", xlim=(lo[0] - pad[0], hi[0] + pad[0]), ylim=(lo[1] - pad[1], hi[1] + pad[1]))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PC 2 (1st–99th percentile shown)")
    fig.tight_layout()
    return fig


def regime_bars(
    acc: dict[str, np.ndarray],
    mse: dict[str, np.ndarray],
    trainable: dict[str, int],
    colors: dict[str, str],
    depth: int,
    width: int,
    target: str,
):
    """regimes: digits accuracy and 1-D MSE per regime (mean ± SD over repeats), and accuracy against the
    trainable parameters (frozen drawn at 1)."""
    import matplotlib.pyplot as plt

    regimes = list(acc)
    pos = np.arange(len(regimes))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ax, vals, label in ((axes[0], acc, "digits test accuracy"), (axes[1], mse, "1-D test MSE")):
        ax.bar(
            pos,
            [vals[r].mean() for r in regimes],
            yerr=[vals[r].std() for r in regimes],
            color=[colors[r] for r in regimes],
            capsize=3,
        )
        ax.set_xticks(pos, regimes, rotation=35, ha="right")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylim(0, 1)
    axes[0].axhline(0.1, color="0.5", ls=":", lw=1)
    axes[0].set_title(f"digits, {depth}×{width} ReLU MLP (dotted: chance)")
    axes[1].set_yscale("log")
    axes[1].set_title(f"1-D fit of {target} on [-1, 1]")
    ax = axes[2]
    for r in regimes:
        ax.scatter(max(trainable[r], 1), np.mean(acc[r]), color=colors[r], s=50, zorder=3, label=r)
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (frozen plotted at 1)")
    ax.set_ylabel("digits test accuracy")
    ax.set_title("accuracy vs what learning may change")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def regime_fits(
    xs: np.ndarray,
    ys: np.ndarray,
    curves: dict[str, np.ndarray],
    mse: dict[str, np.ndarray],
    colors: dict[str, str],
    target: str,
    n_train: int,
):
    """regimes: the 1-D target (grey) and each regime's fit, one panel per regime."""
    import matplotlib.pyplot as plt

    regimes = list(curves)
    cols = min(len(regimes), 3)
    rows_n = math.ceil(len(regimes) / cols)
    fig, axes = plt.subplots(
        rows_n, cols, figsize=(4.2 * cols, 2.8 * rows_n), sharex=True, sharey=True, squeeze=False
    )
    for ax, r in zip(axes.flat, regimes):
        ax.plot(xs, ys, color="k", lw=3, alpha=0.25, label="target")
        ax.plot(xs, curves[r], color=colors[r], lw=1.5, label="network")
        ax.set_title(f"{r}: MSE {np.mean(mse[r]):.1e}", fontsize=10)
        ax.set_ylim(ys.min() - 0.5, ys.max() + 0.5)
    for ax in axes.flat[len(regimes) :]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    fig.suptitle(f"1-D fit of {target} under each regime ({n_train} training points)")
    fig.tight_layout()
    return fig
