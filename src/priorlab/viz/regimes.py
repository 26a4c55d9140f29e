"""Figures of the regime experiments (biasonly, multitask, regimes). Each function takes arrays and returns a
matplotlib figure, or ``{figure name: figure}`` where it draws several; the experiment saves them. ``hyper_layout``
and ``sharing_example`` compute what the regimes diagrams show (the latter also the experiment's gradient check)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn.utils import parametrize

from priorlab.regimes import apply, hashed_index


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


def _yerr(ci: dict[str, tuple], regimes: Sequence[str]) -> np.ndarray:
    """Asymmetric error bars [2, regimes] from (mean, low, high) intervals."""
    return np.array([[ci[r][0] - ci[r][1] for r in regimes], [ci[r][2] - ci[r][0] for r in regimes]])


def regime_bars(
    acc: dict[str, tuple],
    mse: dict[str, tuple],
    trainable: dict[str, int],
    colors: dict[str, str],
    n: int,
    depth: int,
    width: int,
    target: str,
):
    """regimes: one row per regime across three panels sharing the rows: digits accuracy, 1-D MSE (acc[r], mse[r] =
    (mean, low, high), the 95% CI over n seeds; error bars only when n > 1) and the trainable parameters, each bar
    with its value written at its end."""
    import matplotlib.pyplot as plt

    regimes = list(acc)
    pos = np.arange(len(regimes))
    with_ci = n > 1
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.42 * len(regimes) + 2.4), sharey=True)
    params = {r: (max(trainable[r], 1), None, None) for r in regimes}
    panels = ((axes[0], acc, "digits test accuracy", ".3f", with_ci),
              (axes[1], mse, "1-D test MSE (log)", ".1e", with_ci),
              (axes[2], params, "trainable parameters (log; frozen drawn at 1)", ",", False))
    for ax, vals, label, fmt, bars in panels:
        means = [vals[r][0] for r in regimes]
        ax.barh(pos, means, xerr=_yerr(vals, regimes) if bars else None,
                color=[colors[r] for r in regimes], capsize=4, height=0.7)
        for p, r, m in zip(pos, regimes, means):
            end = vals[r][2] if bars else m
            text = f"{int(trainable[r]):,}" if vals is params else f"{m:{fmt}}"
            ax.annotate(text, (end, p), xytext=(5, 0), textcoords="offset points", va="center", fontsize=9)
        ax.set_xlabel(label, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(pos, regimes, fontsize=10)
    axes[0].invert_yaxis()
    axes[0].set_xlim(0, 1.15)
    axes[0].axvline(0.1, color="0.5", ls=":", lw=1)
    what = f"mean, 95% CI over {n} seeds" if with_ci else "1 seed"
    axes[0].set_title(f"digits, {depth}×{width} ReLU MLP ({what}; dotted: chance)", fontsize=10)
    axes[1].set_xscale("log")
    axes[1].set_xlim(min(v[0] for v in mse.values()) / 3, max(v[0] for v in mse.values()) * 30)
    axes[1].set_title(f"1-D fit of {target} on [-1, 1] ({what})", fontsize=10)
    axes[2].set_xscale("log")
    axes[2].set_xlim(0.5, max(max(trainable.values()), 1) * 30)
    axes[2].set_title("what learning may change (digits net)", fontsize=10)
    fig.tight_layout()
    return fig


def hyper_diagram(layout: dict):
    """regimes ``hyper``: u → H → w for every target weight of the digits net. layout: ``targets`` (name, shape,
    chunks, embeddings), ``embed_dim``, ``hidden``, ``chunk``, ``generator_params``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    targets = layout["targets"]
    n = len(targets)
    fig, ax = plt.subplots(figsize=(13, 1.3 * n + 2.2))
    ax.set_xlim(0, 12.6)
    ax.set_ylim(-1.4, 1.3 * n + 0.4)
    ax.axis("off")

    def box(x, y, w, h, text, color):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=color, ec="k", lw=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9)

    def arrow(x0, y0, x1, y1, **kw):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, lw=1.2, **kw))

    mid = 1.3 * n / 2 - 0.4
    box(4.6, mid - 0.5, 2.6, 1.6, f"H: shared generator\n{layout['embed_dim']} → {layout['hidden']} (tanh) → "
        f"{layout['chunk']}\n{layout['generator_params']:,} parameters", "#fde2b8")
    for i, t in enumerate(targets):
        y = 1.3 * (n - 1 - i)
        box(0.2, y, 3.2, 0.8, f"u: {t['name']} embeddings\n{t['chunks']} chunks × {layout['embed_dim']} = "
            f"{t['embeddings']:,}", "#cfe3f7")
        box(8.4, y, 4.0, 0.8, f"w = scale · H(u), chunk by chunk\n{t['name']} {t['shape'][0]}×{t['shape'][1]} = "
            f"{t['shape'][0] * t['shape'][1]:,} weights", "#d5f0d0")
        arrow(3.5, y + 0.4, 4.55, mid + 0.3)
        arrow(7.25, mid + 0.3, 8.35, y + 0.4)
    arrow(10.0, -0.25, 1.8, -0.25, color="C3", connectionstyle="arc3,rad=0.0")
    ax.text(5.9, -0.75, "learning: ∂C/∂u = (∂H/∂u)ᵀ ∂C/∂w (and ∂C/∂H likewise); the weights w are never stored "
            "as parameters", ha="center", fontsize=9, color="C3")
    n_emb = sum(t["embeddings"] for t in targets)
    n_w = sum(t["shape"][0] * t["shape"][1] for t in targets)
    ax.set_title(f"Hypernetwork regime: {n_emb:,} embeddings + {layout['generator_params']:,} generator parameters "
                 f"make {n_w:,} weights", fontsize=11)
    return fig


def sharing_diagram(index: np.ndarray, u: np.ndarray, grad_w: np.ndarray, grad_u: np.ndarray):
    """regimes ``sharing``: the tied values u [K] copied into the weight w = u[index] (cells coloured by group),
    the copies' gradients ∂C/∂w written in the cells, and ∂C/∂u_k = their sum per group (autograd's value)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    k = len(u)
    cmap = ListedColormap([plt.cm.Pastel1(i) for i in range(k)])
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.6), gridspec_kw={"width_ratios": [0.5, 1.3, 1.3, 0.9]})
    axes[0].imshow(np.arange(k)[:, None], cmap=cmap, vmin=-0.5, vmax=k - 0.5)
    for j in range(k):
        axes[0].text(0, j, f"u{j}\n{u[j]:+.2f}", ha="center", va="center", fontsize=9)
    axes[0].set_title("tied values u", fontsize=10)
    for ax, values, title in ((axes[1], u[index], "forward: w = u[index] (copies)"),
                              (axes[2], grad_w, "backward: ∂C/∂w of each copy")):
        ax.imshow(index, cmap=cmap, vmin=-0.5, vmax=k - 0.5)
        for (a, b), v in np.ndenumerate(values):
            ax.text(b, a, f"u{index[a, b]}\n{v:+.3f}", ha="center", va="center", fontsize=8)
        ax.set_title(title, fontsize=10)
    sums = [" + ".join(f"{g:+.3f}" for g in grad_w[index == j]) for j in range(k)]
    axes[3].axis("off")
    for j in range(k):
        axes[3].text(0, 1 - (j + 0.5) / k, f"∂C/∂u{j} = {grad_u[j]:+.3f}\n= Σ {sums[j]}", fontsize=8,
                     va="center", transform=axes[3].transAxes,
                     bbox={"boxstyle": "round", "fc": cmap(j), "ec": "0.5"})
    axes[3].set_title("backward: the copies' gradients add", fontsize=10)
    for ax in axes[:3]:
        ax.set_xticks([])
        ax.set_yticks([])
    sizes = np.bincount(index.ravel())
    copies = f"{sizes.min()}" if sizes.min() == sizes.max() else f"{sizes.min()}–{sizes.max()}"
    fig.suptitle(f"Weight sharing, w = H(u): each u_k copied into {copies} weights of a {index.shape[0]}×"
                 f"{index.shape[1]} layer; autograd's ∂C/∂u is the sum over its copies", fontsize=11)
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


def hyper_layout(model: torch.nn.Module) -> dict:
    """What the hyper regime built into ``model`` (for :func:`hyper_diagram`): per weight tensor its shape and chunk
    count; the shared generator's sizes and parameter counts."""
    targets, generator = [], None
    for name, module in model.named_modules():
        if parametrize.is_parametrized(module, "weight"):
            h = module.parametrizations.weight[0]
            generator = h.generator
            targets.append({"name": f"{name}.weight", "shape": h.shape, "chunks": h.n_chunks,
                            "embeddings": module.parametrizations.weight.original.numel()})
    lin = [m for m in generator.net if isinstance(m, torch.nn.Linear)]
    return {"targets": targets, "embed_dim": generator.embed_dim, "hidden": lin[0].out_features,
            "chunk": generator.chunk, "generator_params": sum(p.numel() for p in generator.parameters())}


def sharing_example(seed: int) -> dict:
    """A 3 × 4 linear layer tied into 4 values (priorlab.regimes shared, float64), for :func:`sharing_diagram`: the
    tie map, u, ∂C/∂w of the copies (autograd on the generated weight) and autograd's ∂C/∂u; ``err`` = max
    |∂C/∂u − Σ_group ∂C/∂w|."""
    g = torch.Generator().manual_seed(seed)
    index = hashed_index((3, 4), 4, seed)
    layer = apply(torch.nn.Linear(4, 3, bias=False).double(), "shared", map={"weight": index})
    x, y = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    u, w = layer.parametrizations.weight.original, layer.weight
    grad_w, grad_u = torch.autograd.grad(torch.mean((x @ w.T - y) ** 2), (w, u))
    summed = torch.zeros(4, dtype=torch.float64).index_add_(0, index.flatten(), grad_w.flatten())
    return {"index": index.numpy(), "u": u.detach().numpy(), "grad_w": grad_w.numpy(), "grad_u": grad_u.numpy(),
            "err": float((grad_u - summed).abs().max())}


def regime_figures(arrays: dict, regimes: Sequence[str], every: Sequence[str], interval, cfg: dict,
                   hyper: dict | None, sharing: dict, draws) -> dict:
    """regimes: every figure the figure mode ``draws`` (a name -> bool), from a run's arrays (``acc_<r>``,
    ``mse_<r>`` per seed, ``fit_<r>``, ``x_test``, ``target``, ``trainable`` in the order of ``regimes``), the
    hyper layout (:func:`hyper_layout`) and the sharing example (:func:`sharing_example`). ``interval(values)``
    gives (mean, low, high); colours follow a regime's place in ``every``."""
    colors = {r: f"C{i}" for i, r in enumerate(every)}
    mse = {r: arrays[f"mse_{r}"] for r in regimes}
    out = {}
    if draws("regimes"):
        out["regimes"] = regime_bars({r: interval(arrays[f"acc_{r}"]) for r in regimes},
                                     {r: interval(v) for r, v in mse.items()},
                                     dict(zip(regimes, arrays["trainable"].tolist())), colors, cfg["repeats"],
                                     cfg["depth"], cfg["width"], cfg["target"])
    if draws("fits"):
        out["fits"] = regime_fits(arrays["x_test"], arrays["target"], {r: arrays[f"fit_{r}"] for r in regimes}, mse,
                                  colors, cfg["target"], cfg["n_train"])
    if hyper is not None and draws("hyper"):
        out["hyper"] = hyper_diagram(hyper)
    if draws("sharing"):
        out["sharing"] = sharing_diagram(**{k: v for k, v in sharing.items() if k != "err"})
    return out
