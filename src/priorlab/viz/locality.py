"""Figures of the locality experiment: paired differences (locality − control) with CIs, class maps on the sheet
(raw, mean-subtracted, and the sheet layer's input), the prior (2-D, and the 1-D 7-unit matrix), smoothness,
pruning, and the cost sweep against the exponent a of (1 + d)^−a. Each function takes arrays, returns a figure.

Every axis of accuracy or spatial variance starts at 0, or shows a difference whose axis includes 0.
"""

from __future__ import annotations

import math

import numpy as np

COLORS = {"control": "tab:blue", "locality": "tab:orange"}
DIFF = "tab:purple"

CAPTIONS = {  # the experiment's FIGURES
    "differences": "Paired differences locality − control: accuracy and smoothness per seed, the spatial variance "
    "of each test image (per seed and over all pairs) and of each class-mean map, with 95% bootstrap CIs; "
    "stars: the study's differences. Panel titles: both paired t-tests and which is significant.",
    "class_maps": "Mean activation of the sheet (after BatchNorm and ReLU) for each class, first seed: control "
    "(top) and locality prior (bottom); colour scale from 0. The study's 'locality output activations'.",
    "mean_subtracted": "The same class-mean maps minus their mean over classes: where each class is more (red) "
    "or less (blue) active than average.",
    "input_maps": "Class-mean activation of the sheet layer's input (LeNet's fc1, 49 units drawn as 7x7): the "
    "study's 'locality input activations'. Not drawn for the RNN, whose recurrent matrix reads the sheet itself.",
    "prior": "The prior P for a centre unit and a corner unit: how strongly each input position reaches it.",
    "prior_1d": "The study's pedagogical example: P for a 1-D layer of 7 units onto 7 units (this run's cost and "
    "strength); the diagonal is 1, long connections are dark.",
    "smoothness": "TDANN smoothness: dissimilarity of two units' class tuning (1 − r) against their distance on "
    "the sheet, mean over seeds; the title gives the shuffled-positions control.",
    "sparsity": "Test accuracy after keeping only the largest fraction of the sheet layer's |W ⊙ P| "
    "(mean ± SD over seeds); axis from 0, dotted: chance.",
    "sweep": "Cost sweep against the exponent a of P = (1 + d)^−a: linear, sqrt and quadratic costs at a strength "
    "are a = 1, ½, 2 × strength, so cells with the same a (sqrt×2 = linear×1) are one network and one point. "
    "Paired differences to the controls of the same seeds, mean and 95% CI.",
}


def ci(values, seed: int = 0) -> tuple[float, float, float]:
    """(mean, 95% low, 95% high) of the finite values: percentile bootstrap (``priorlab.stats.mean_ci``); with fewer
    than 2 values the bounds are NaN."""
    from priorlab.stats import mean_ci

    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        return (float(v[0]) if v.size else float("nan")), float("nan"), float("nan")
    return tuple(mean_ci(v, n_boot=2000, seed=seed))


def significance(t: float, p: float, alpha: float = 0.05) -> str:
    """'t = …, p = … (significant at 0.05)' or '(not significant)', from the numbers."""
    if not np.isfinite(p):
        return "no test (no variation in the differences)"
    word = "significant" if p < alpha else "not significant"
    return f"t = {t:.3g}, p {'< 1e-300' if p == 0 else f'= {p:.2g}'} ({word} at {alpha:g})"


def model_name(model: str) -> str:
    return {"rnn": "RNN extension", "alexnet-fc6": "AlexNet fc6"}.get(model, "LeNet")


def tests_note(name: str, m: dict, d: dict) -> str:
    """The page's sentence on both paired tests, saying which is significant (from the metrics ``m``)."""
    tests = {"the per-image test": (m["t_images"], m["p_images"]), "the class-mean test": (m["t_classmeans"],
                                                                              m["p_classmeans"])}
    sig = [k for k, (_, q) in tests.items() if np.isfinite(q) and q < 0.05]
    return (
        f"{name}: spatial variance, locality − control. Per test image ({int(np.isfinite(d['var_image']).sum())} "
        f"(image, seed) pairs): Δ = {m['spatial_var_diff']:.3g}, {significance(*tests['the per-image test'])}. Over "
        f"class-mean maps ({int(np.isfinite(d['var_class']).sum())} (class, seed) pairs): Δ = "
        f"{m['spatial_var_class_diff']:.3g}, {significance(*tests['the class-mean test'])}. Significant at 0.05: "
        f"{' and '.join(sig) or 'neither test'}; not significant: {' and '.join(k for k in tests if k not in sig) or 'neither'}."
        + (" The study (LeNet, MNIST, one net each): 8.458 vs 8.667, t = −6.49, p = 1.35e-10; accuracy 0.979 vs 0.981."
           if name == "LeNet" else "")
    )


def seed_rows(results: dict) -> list[dict]:
    """The 'Per seed' table: each net's accuracy, spatial variances and smoothness."""
    from priorlab.probe.topography import finite_mean

    return [{"net": k, "seed": i, "accuracy": r["acc"], "spatial variance (images)": finite_mean(r["var_image"]),
             "spatial variance (class means)": finite_mean(r["var_class"]), "smoothness": r["smooth"].value,
             "shuffled": r["smooth"].shuffled} for k, v in results.items() for i, r in enumerate(v)]


def sweep_rows(points: list[dict]) -> list[dict]:
    """The cost sweep's table: one row per distinct prior, the cells that give it, paired differences and the test."""
    return [{"P": ("(1+d)^-" if q["kind"] == "power" else "exp(-d)^") + f"{q['a']:g}", "cells": q["label"],
             "Δ accuracy": float(np.mean(q["acc"])), "Δ spatial variance": float(np.nanmean(q["var"])), "t": q["t"],
             "p": q["p"], "Δ smoothness": float(np.nanmean(q["smooth"]))} for q in points]


def _mean_bar(ax, x, values, color=DIFF, label=None, size=8):
    m, lo, hi = ci(values)
    err = None if not np.isfinite(lo) else [[m - lo], [hi - m]]
    ax.errorbar([x], [m], yerr=err, fmt="D", color=color, ms=size, capsize=4, lw=2, label=label, zorder=3)


def _zero(ax):
    ax.axhline(0, color="k", lw=1)
    lo, hi = ax.get_ylim()
    span = max(abs(lo), abs(hi))
    ax.set_ylim(min(lo, -0.1 * span), max(hi, 0.1 * span))  # 0 always inside, with room on both sides


def _per_seed(ax, diffs, ylabel, title, study=None):
    d = np.asarray(diffs, dtype=float)
    ax.plot(np.arange(len(d)), d, "o", color=DIFF, alpha=0.6, label="one seed")
    _mean_bar(ax, len(d) + 0.5, d, label="mean, 95% CI")
    if study is not None:
        ax.plot([len(d) + 1.2], [study], "*", color="k", ms=11, label="the study (1 net)")
    ax.set_xticks(list(range(len(d))) + [len(d) + 0.5], [str(i) for i in range(len(d))] + ["mean"])
    ax.set(xlabel="seed", ylabel=ylabel, title=title)
    _zero(ax)
    ax.legend(fontsize=7)


def differences_figure(d: dict[str, np.ndarray], tests: dict[str, tuple[float, float]], title: str,
                       study: dict[str, float] | None = None):
    """Paired differences locality − control. ``d``: ``acc`` [seeds], ``var_image`` [seeds, images] (the same test
    image under the two nets of a seed), ``var_class`` [seeds, classes], ``smooth`` [seeds]; ``tests``: (t, p) of
    ``images`` and ``classmeans``; ``study``: the study's differences (``acc``, ``var``) drawn as stars."""
    import matplotlib.pyplot as plt

    study = study or {}
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2), layout="constrained")
    _per_seed(axes[0], d["acc"], "Δ test accuracy (locality − control)", "accuracy", study.get("acc"))

    ax, vi = axes[1], np.asarray(d["var_image"], dtype=float)
    for s, row in enumerate(vi):
        _mean_bar(ax, s, row, color=DIFF, size=5, label="one seed: mean over images, 95% CI" if s == 0 else None)
    _mean_bar(ax, len(vi) + 0.5, vi, color="k", label="all (image, seed) pairs, 95% CI")
    if "var" in study:
        ax.plot([len(vi) + 1.2], [study["var"]], "*", color="k", ms=11, label="the study")
    ax.set_xticks(list(range(len(vi))) + [len(vi) + 0.5], [str(i) for i in range(len(vi))] + ["all"])
    ax.set(xlabel="seed", ylabel="Δ spatial variance (grid units²)",
           title="per test image\n" + significance(*tests["images"]))
    _zero(ax)
    ax.legend(fontsize=7)

    ax, vc = axes[2], np.asarray(d["var_class"], dtype=float)
    k = vc.shape[1]
    jitter = np.linspace(-0.2, 0.2, len(vc)) if len(vc) > 1 else np.zeros(1)
    for s, row in enumerate(vc):
        ax.plot(np.arange(k) + jitter[s], row, "o", ms=3, color=DIFF, alpha=0.5,
                label="one (class, seed)" if s == 0 else None)
    for c in range(k):
        _mean_bar(ax, c, vc[:, c], size=5, label="class mean over seeds, 95% CI" if c == 0 else None)
    _mean_bar(ax, k + 0.7, vc, color="k", label="all (class, seed) pairs, 95% CI")
    if "var" in study:
        ax.plot([k + 1.4], [study["var"]], "*", color="k", ms=11, label="the study")
    ax.set_xticks(list(range(k)) + [k + 0.7], [str(c) for c in range(k)] + ["all"])
    ax.set(xlabel="class", ylabel="Δ spatial variance of the class-mean map",
           title="class-mean maps\n" + significance(*tests["classmeans"]))
    _zero(ax)
    ax.legend(fontsize=7)

    _per_seed(axes[3], d["smooth"], "Δ TDANN smoothness", "smoothness")
    fig.suptitle(title)
    return fig


def maps_figure(maps: dict[str, np.ndarray], side: int, title: str, centred: bool = False, label: str = "activation"):
    """Per-class maps [classes, side*side] of each network, a row each with its own colour scale and colourbar (from
    0, or ``centred``: symmetric about 0 with a diverging map, for mean-subtracted maps)."""
    import matplotlib.pyplot as plt

    k = next(iter(maps.values())).shape[0]
    fig, axes = plt.subplots(len(maps), k, figsize=(1.5 * k + 1.2, 1.8 * len(maps)), squeeze=False,
                             layout="constrained")
    for row, (kind, cm) in enumerate(maps.items()):
        top = float(np.nanmax(np.abs(cm))) or 1.0
        for c in range(k):
            ax = axes[row, c]
            im = ax.imshow(cm[c].reshape(side, side), cmap="RdBu_r" if centred else "hot", interpolation="nearest",
                           vmin=-top if centred else 0, vmax=top)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(f"class {c}", fontsize=9)
        axes[row, 0].set_ylabel(kind)
        fig.colorbar(im, ax=list(axes[row]), fraction=0.015, pad=0.01, label=label)
    fig.suptitle(title)
    return fig


def prior_figure(rows: np.ndarray, in_side: tuple[int, int], title: str):
    """The prior P seen by the centre unit and the corner unit of the sheet: ``rows`` [2, n_in], P's rows of the two."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
    for ax, name, row in zip(axes, ("centre unit", "corner unit"), rows):
        im = ax.imshow(row.reshape(in_side), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"prior P for the {name}")
        ax.set_xlabel("input unit column"), ax.set_ylabel("input unit row")
    fig.colorbar(im, ax=list(axes), label="P (fraction transmitted)")
    fig.suptitle(title)
    return fig


def prior_matrix_figure(prior: np.ndarray, title: str):
    """The study's pedagogical example: P [n, n] of a 1-D layer of n units onto n units, each entry written in."""
    import matplotlib.pyplot as plt

    n = prior.shape[0]
    fig, ax = plt.subplots(figsize=(5.2, 4.4), layout="constrained")
    im = ax.imshow(prior, cmap="viridis", vmin=0, vmax=1)
    for i in range(n):
        for j in range(prior.shape[1]):
            ax.text(j, i, f"{prior[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if prior[i, j] < 0.5 else "black")
    ax.set_xticks(range(prior.shape[1])), ax.set_yticks(range(n))
    ax.set(xlabel="input unit j (position on the line)", ylabel="output unit i", title=title)
    fig.colorbar(im, ax=ax, label="P[i, j] (dark: a long, expensive connection)")
    return fig


def smoothness_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], smoothness: dict[str, float],
                      shuffled: float):
    """|Δ preference| against distance (``curves[kind]``: bin centres [bins] and curves [seeds, bins], mean drawn)
    with each network's smoothness in the legend and the shuffled control in the title."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for kind, (centres, c) in curves.items():
        ax.plot(centres, np.nanmean(c, 0), "o-", color=COLORS[kind],
                label=f"{kind} (smoothness {smoothness[kind]:.2f})")
    ax.set_ylim(0, None)
    ax.set_xlabel("distance between units (grid units)"), ax.set_ylabel("|Δ preference| (1 − r of class tuning)")
    ax.set_title(f"Tuning difference vs distance (shuffled positions: smoothness {shuffled:.2f})")
    ax.legend(fontsize=8)
    return fig


def sparsity_figure(keep: np.ndarray, sparsity: dict[str, np.ndarray], chance: float):
    """Test accuracy (mean ± SD over seeds; ``sparsity[kind]``: [seeds, len(keep)]) against the kept fraction."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for kind, c in sparsity.items():
        c = np.asarray(c)
        ax.errorbar(keep, c.mean(0), yerr=c.std(0), marker="o", capsize=3, color=COLORS[kind], label=kind)
    ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    ax.set_xscale("log"), ax.set_ylim(0, 1.02), ax.set_xlabel("fraction of sheet connections kept (largest |W ⊙ P|)")
    ax.set_ylabel("test accuracy"), ax.set_title("Accuracy after pruning the sheet layer (mean ± SD over seeds)")
    ax.legend(fontsize=8)
    return fig


def sweep_figure(points: list[dict], title: str):
    """The cost sweep, one point per distinct prior: ``points`` have ``kind`` ("power": P = (1+d)^−a, or "exp":
    exp(−d)^s), ``a``, ``label`` (the cells that give this prior), and paired differences ``acc`` [seeds],
    ``var`` [pairs], ``smooth`` [seeds]. Mean and 95% CI against a (log scale); small dots: single seeds."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), layout="constrained")
    keys = [("acc", "Δ test accuracy"), ("var", "Δ spatial variance (per image)"), ("smooth", "Δ smoothness")]
    for ax, (key, label) in zip(axes, keys):
        for kind, marker, color in (("power", "o", DIFF), ("exp", "s", "tab:green")):
            pts = sorted((p for p in points if p["kind"] == kind), key=lambda p: p["a"])
            if not pts:
                continue
            stats = [ci(p[key]) for p in pts]
            xs = [p["a"] for p in pts]
            m = np.array([s[0] for s in stats])
            err = np.array([[s[0] - s[1], s[2] - s[0]] for s in stats]).T
            name = "P = (1 + d)^−a" if kind == "power" else "P = exp(−d)^s (x: s)"
            ax.errorbar(xs, m, yerr=None if np.isnan(err).all() else err, fmt=marker + "-", color=color, capsize=4,
                        label=name + ", mean ± 95% CI")
            if key in ("acc", "smooth"):
                for x, p in zip(xs, pts):
                    ax.plot([x] * len(p[key]), p[key], ".", color=color, alpha=0.4)
            if key == "acc":
                for x, mv, p in zip(xs, m, pts):
                    ax.annotate(p["label"], (x, mv), textcoords="offset points", xytext=(4, 6), fontsize=7)
        ax.set_xscale("log", base=2)
        ticks = sorted({p["a"] for p in points})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set(xlabel="exponent a of P = (1 + d)^−a", ylabel=label + " (locality − control)")
        _zero(ax)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------------------------
def figure_arrays(ctx, config, data, results: dict, sparsity: dict, first: dict, points: list) -> dict:
    """The arrays of one locality run that every figure is drawn from (:func:`draw_figures`): per net kind the
    per-seed measures (accuracy, spatial variances, class maps, smoothness curves), pruning curves, the first
    seed's sheet-input class means, the prior's rows for the centre and corner units, and the cost sweep's points."""
    from priorlab.nets.locality import locality_prior
    from priorlab.nets.sheet import sheet_inputs
    from priorlab.probe import topography as topo

    out = {"keep_fractions": np.asarray(config.keep_fractions), "sweep_a": np.asarray([p["a"] for p in points]),
           "sweep_kind": np.asarray([p["kind"] for p in points], dtype=str),
           **{f"sparsity_{k}": np.asarray(v) for k, v in sparsity.items()},
           **{f"{a}_{k}": np.stack([r[a] for r in v]) for k, v in results.items()
              for a in ("var_image", "var_class", "class_maps")}}
    for k, v in results.items():
        out[f"acc_{k}"] = np.array([r["acc"] for r in v])
        out[f"smooth_{k}"] = np.array([[r["smooth"].value, r["smooth"].shuffled] for r in v])  # [seeds, 2]
        out[f"smooth_curve_{k}"] = np.stack([r["smooth"].curve for r in v])
    out["smooth_bins"] = np.asarray(results["control"][0]["smooth"].bin_centres)
    acts = {kind: sheet_inputs(model, data.x_test, ctx.device) for kind, model in first.items()}
    side_in = math.isqrt(acts["control"].shape[1]) if acts["control"] is not None else 0
    if side_in and side_in**2 == acts["control"].shape[1]:
        for k, a in acts.items():
            out[f"input_maps_{k}"] = topo.class_means(a, data.y_test.numpy(), data.n_classes)
    net = first["control"]
    layer_in, sheet = net.sheet_shapes(config.layout)
    p = locality_prior(layer_in, sheet, config.layout, config.cost, config.length_scale, config.strength)
    side = net.side
    out["prior_rows"] = p[[(side // 2) * side + side // 2, 0]].numpy()  # the centre unit's and the corner unit's
    out["prior_in_shape"] = np.array(layer_in if isinstance(layer_in, tuple) else (1, layer_in))
    if points:
        out["sweep_label"] = np.asarray([p["label"] for p in points], dtype=str)
        for key in ("acc", "var", "smooth"):
            out[f"sweep_{key}"] = np.stack([np.asarray(p[key], dtype=float) for p in points])
    return out


def draw_figures(config, arrays, ctx) -> None:
    """Every figure of one locality run from its arrays (:func:`figure_arrays`), as the figure mode asks."""
    from priorlab.nets.locality import locality_prior
    from priorlab.probe import topography as topo

    finite_mean, kinds = topo.finite_mean, ("control", "locality")
    name = model_name(config.model)
    diffs = {"acc": arrays["acc_locality"] - arrays["acc_control"],
             "var_image": arrays["var_image_locality"] - arrays["var_image_control"],
             "var_class": arrays["var_class_locality"] - arrays["var_class_control"],
             "smooth": arrays["smooth_locality"][:, 0] - arrays["smooth_control"][:, 0]}
    if ctx.draws("differences"):
        m = {"images": topo.paired_ttest(diffs["var_image"], np.zeros_like(diffs["var_image"])),
             "classmeans": topo.paired_ttest(diffs["var_class"], np.zeros_like(diffs["var_class"]))}
        study = {"acc": 0.979 - 0.981, "var": 8.458 - 8.667} if config.model == "lenet" else None
        ctx.save_figure("differences", differences_figure(
            diffs, m, f"{name}: locality − control, paired by seed ({config.repeats} seeds, "
            f"{diffs['var_image'].shape[1]} test images)", study))
    maps = {kind: arrays[f"class_maps_{kind}"][0] for kind in kinds}
    side = math.isqrt(maps["control"].shape[1])
    if ctx.draws("class_maps"):
        ctx.save_figure("class_maps", maps_figure(
            maps, side, f"{name}: per-class mean activation of the {side}x{side} sheet (seed {config.seed})"))
    if ctx.draws("mean_subtracted"):
        ctx.save_figure("mean_subtracted", maps_figure(
            {k: v - v.mean(0, keepdims=True) for k, v in maps.items()}, side,
            f"{name}: class-mean maps minus their mean over classes (seed {config.seed})", centred=True,
            label="minus class average"))
    if "input_maps_control" in arrays and ctx.draws("input_maps"):
        inputs = {k: arrays[f"input_maps_{k}"] for k in kinds}
        ctx.save_figure("input_maps", maps_figure(
            inputs, math.isqrt(inputs["control"].shape[1]),
            f"{name}: per-class mean activation of the sheet layer's input (seed {config.seed})"))
    if ctx.draws("prior"):
        ctx.save_figure("prior", prior_figure(
            arrays["prior_rows"], tuple(int(v) for v in arrays["prior_in_shape"]),
            f"Locality prior: {config.cost} cost, strength {config.strength}, {config.layout} layout"))
    if ctx.draws("prior_1d"):
        p1 = locality_prior(7, 7, "line", config.cost, config.length_scale, config.strength)
        ctx.save_figure("prior_1d", prior_matrix_figure(
            p1.numpy(), f"P of a 1-D layer of 7 units ({config.cost} cost, strength {config.strength:g})"))
    if ctx.draws("smoothness"):
        ctx.save_figure("smoothness", smoothness_figure(
            {kind: (arrays["smooth_bins"], arrays[f"smooth_curve_{kind}"]) for kind in kinds},
            {kind: finite_mean(list(arrays[f"smooth_{kind}"][:, 0])) for kind in kinds},
            finite_mean([v for kind in kinds for v in arrays[f"smooth_{kind}"][:, 1]])))
    if ctx.draws("sparsity"):
        ctx.save_figure("sparsity", sparsity_figure(arrays["keep_fractions"],
                                                    {k: arrays[f"sparsity_{k}"] for k in kinds},
                                                    1 / maps["control"].shape[0]))
    if "sweep_label" in arrays and ctx.draws("sweep"):
        points = [{"kind": str(k), "a": float(a), "label": str(lab), "acc": acc, "var": var, "smooth": sm}
                  for k, a, lab, acc, var, sm in zip(arrays["sweep_kind"], arrays["sweep_a"], arrays["sweep_label"],
                                                     arrays["sweep_acc"], arrays["sweep_var"], arrays["sweep_smooth"])]
        n = min(config.sweep_repeats, config.repeats)
        ctx.save_figure("sweep", sweep_figure(
            points, f"{name}: cost sweep, one point per distinct prior ({n} seed{'s' if n > 1 else ''} each; "
            "locality − the controls of the same seeds)"))
