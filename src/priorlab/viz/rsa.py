"""Figures of a layer-by-layer comparison of two networks (RSA and CKA per layer), as drawn by `compare`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from priorlab.viz.rdm import plot_rdm_strip

CAPTIONS = {  # compare's FIGURES
    "rdm_vs_target": "Left: each layer's RDM against the target: the reference with its 95 % bootstrap CI over "
    "stimuli (filled marker: differs from the random draws after correction), the random draws' 2.5–97.5 % band "
    "and mean, and the noise ceiling when the target is measured RDMs. Right: CKA and RDM correlation of each "
    "reference layer with the same layer of every random draw (band and mean).",
    "rdms_reference": "RDMs (rank-transformed) of chosen layers of the reference network; stimuli sorted by category.",
    "rdms_random": "The same layers of the first random draw.",
    "distortion": "Guest & Love's smoothness protocol per layer: Pearson r of each stimulus's representation with "
    "its distorted versions. Left: r against the noise SD for three layers (random band, reference dashed). Right: "
    "r at the strongest distortion, layer by layer.",
}


def plot_layer_curves(
    title: str,
    names: Sequence[str],
    rho_ref: np.ndarray,
    rho_rnd: np.ndarray,
    cka: np.ndarray,
    ref_vs_rnd: np.ndarray,
    ref_label: str,
):
    """Left: Spearman r of each layer's RDM with the input RDM (input = 1), reference and random network.
    Right: CKA between the two networks' layers and the Spearman r of their RDMs."""
    import matplotlib.pyplot as plt

    x = np.arange(1, len(names) + 1)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(10, 0.45 * len(names) * 2), 4.5))
    ax.plot([0, *x], [1, *rho_ref], "o-", ms=3, label=f"reference ({ref_label})")
    ax.plot([0, *x], [1, *rho_rnd], "s-", ms=3, label="random weights")
    ax.set(ylabel="Spearman r with the input RDM", title=title)
    ax2.plot(x, cka, "o-", ms=3, color="tab:green", label="linear CKA(reference, random)")
    ax2.plot(x, ref_vs_rnd, "s-", ms=3, color="tab:red", label="Spearman r of their RDMs")
    ax2.set(ylabel="similarity", title="Reference vs random network, layer by layer")
    for a, ticks, labels in ((ax, [0, *x], ["input", *names]), (ax2, x, names)):
        a.set_xticks(ticks)
        a.set_xticklabels(labels, rotation=70, ha="right", fontsize=7)
        a.set_xlabel("layer (network order)")
        a.set_ylim(min(-0.05, a.get_ylim()[0]), 1.05)
        a.axhline(0, color="k", lw=0.5)
        a.legend(frameon=False, fontsize=8)
        a.spines[["top", "right"]].set_visible(False)
    return fig


def plot_layer_rdms(who: str, input_rdm, rdms: Mapping[str, object], layers: Sequence[str], labels):
    """The input's and the chosen layers' RDMs (tensors or arrays), rank-transformed, in one strip."""
    fig = plot_rdm_strip(
        [np.asarray(input_rdm)] + [np.asarray(rdms[n]) for n in layers], ["input", *layers], labels, rank=True
    )
    fig.suptitle(f"RDMs (1 − Pearson r, rank-transformed) of the {who} network", y=1.03)
    return fig


def heatmap_layers(requested: Sequence[str] | None, names: Sequence[str]) -> list[str]:
    """The layers whose RDMs are drawn: `requested` (checked), else 4 spread over depth."""
    from priorlab.errors import UserError

    heat = list(requested or [names[i] for i in sorted(set(np.linspace(0, len(names) - 1, 4).round().astype(int)))])
    missing = [h for h in heat if h not in names]
    if missing:
        raise UserError(f"heatmap_layers: '{missing[0]}' is not one of the compared layers ({', '.join(names[:8])}, …)")
    return heat


def _band(ax, x, draws: np.ndarray, color: str, label: str) -> None:
    """The draws' 2.5–97.5 % band and mean over x; draws [K, len(x)]."""
    low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0)
    ax.fill_between(x, low, high, color=color, alpha=0.25, lw=0, label=f"{label}: 2.5–97.5 % of {len(draws)} draws")
    ax.plot(x, np.nanmean(draws, axis=0), "-", color=color, lw=1.2, label=f"{label}: mean")


def _layer_axis(ax, ticks, labels) -> None:
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, rotation=70, ha="right", fontsize=7)
    ax.set_xlabel("layer (network order)")
    ax.axhline(0, color="k", lw=0.5)
    ax.spines[["top", "right"]].set_visible(False)


def plot_layer_bands(title: str, t, cka: np.ndarray, ref_vs_rnd: np.ndarray, ref_label: str, method: str,
                     ceiling=None):
    """Left: the reference's score per layer with its bootstrap CI against the random draws' band (`t` a
    `priorlab.stats.baseline.LayerTest`), filled markers where the corrected p < alpha, and the noise ceiling.
    Right: CKA and RDM correlation of each reference layer with every draw's layer, as bands ([K, L] each)."""
    import matplotlib.pyplot as plt

    names, x = list(t.layers), np.arange(1, len(t.layers) + 1)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(11, 0.5 * len(names) * 2), 4.8))
    _band(ax, x, t.null, "tab:orange", "random")
    if ceiling is not None:
        ax.axhspan(ceiling.lower, ceiling.upper, color="0.6", alpha=0.35, lw=0,
                   label=f"noise ceiling ({ceiling.lower:.2f}–{ceiling.upper:.2f}, {ceiling.n_rdms} RDMs)")
    err = np.abs(np.stack([t.value - t.ci_low, t.ci_high - t.value]))
    ax.errorbar(x, t.value, yerr=err, fmt="-", color="tab:blue", lw=1.2, capsize=2,
                label=f"reference ({ref_label}) with 95 % CI")
    sig = np.array([n in t.changed for n in names])
    ax.plot(x[sig], t.value[sig], "o", color="tab:blue", ms=6, label=f"differs ({t.correction} p < {t.alpha:g})")
    ax.plot(x[~sig], t.value[~sig], "o", mfc="white", color="tab:blue", ms=6, label="inside the random band")
    ax.set(ylabel=f"{method} r with the target RDM", title=title)
    _band(ax2, x, cka, "tab:green", "linear CKA(reference, draw)")
    _band(ax2, x, ref_vs_rnd, "tab:red", f"{method} r of their RDMs")
    ax2.set(ylabel="similarity", title="Reference vs each random draw, layer by layer")
    for a in (ax, ax2):
        _layer_axis(a, x, names)
        a.set_ylim(min(-0.05, a.get_ylim()[0]), 1.05)
        a.legend(frameon=False, fontsize=7, loc="lower left")
    return fig


def plot_distortion(levels: np.ndarray, names: Sequence[str], reference: np.ndarray, draws: np.ndarray,
                    ref_label: str):
    """Left: r against the noise SD for the first, a middle and the last layer (random band, reference dashed).
    Right: r at the strongest distortion per layer. reference [levels, L], draws [K, levels, L]."""
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(11, 0.5 * len(names) * 2), 4.5))
    picks = sorted({0, len(names) // 2, len(names) - 1})
    for c, li in zip(("tab:blue", "tab:purple", "tab:red"), picks):
        _band(ax, levels, draws[:, :, li], c, f"random {names[li]}")
        ax.plot(levels, reference[:, li], "--", color=c, lw=1, label=f"reference ({ref_label}) {names[li]}")
    ax.set(xlabel="noise SD (distortion level × 0.05)", ylabel="Pearson r, prototype vs distorted",
           title="Smoothness protocol (Guest & Love 2017, Fig. 2A)")
    ax.legend(frameon=False, fontsize=6, loc="lower left")
    ax.spines[["top", "right"]].set_visible(False)
    x = np.arange(1, len(names) + 1)
    _band(ax2, x, draws[:, -1, :], "tab:orange", "random")
    ax2.plot(x, reference[-1], "o--", color="tab:blue", ms=4, label=f"reference ({ref_label})")
    ax2.set(ylabel=f"r at noise SD {levels[-1]:.2f}", title="The strongest distortion, layer by layer")
    _layer_axis(ax2, x, list(names))
    ax2.set_ylim(min(-0.05, ax2.get_ylim()[0]), 1.05)
    ax2.legend(frameon=False, fontsize=7, loc="lower left")
    return fig


def layer_table(t, cka: np.ndarray, ref_vs_rnd: np.ndarray, features: Mapping[str, int],
                measures: Mapping[str, np.ndarray], ref_label: str) -> list[dict]:
    """The page's per-layer table: the reference's score [CI], the random band, p and corrected p, CKA."""
    return [
        {
            "layer": n,
            "features": features.get(n, ""),
            f"reference ({ref_label})": f"{t.value[i]:.3f} [{t.ci_low[i]:.3f}, {t.ci_high[i]:.3f}]",
            "random: mean [2.5–97.5 %]": f"{t.null_mean[i]:.3f} [{t.band_low[i]:.3f}, {t.band_high[i]:.3f}]",
            "p": t.p[i],
            f"p ({t.correction})": t.p_corrected[i],
            "CKA(reference, draws)": float(np.mean(cka[:, i])),
            "RDM reference vs draws": float(np.mean(ref_vs_rnd[:, i])),
            **{f"{m}(reference, first draw)": v[i] for m, v in measures.items()},
        }
        for i, n in enumerate(t.layers)
    ]


def save_compare_report(ctx, config, t, ref, first, cka, ref_vs_rnd, stim, input_rdm, ref_label, ceiling, dist,
                        measures) -> None:
    """What `compare` writes: layers.csv/.parquet (tidy), the page's table, and arrays.npz with everything its
    figures are drawn from (:func:`draw_compare`)."""
    from priorlab.probe.distortion import noise_levels
    from priorlab.stats.baseline import COLUMNS, curve_rows, tidy_rows

    names = list(t.layers)
    heat = heatmap_layers(config.heatmap_layers, names)
    rows = tidy_rows(t, f"rdm_vs_target_{config.compare_method}")
    rows += curve_rows(names, "cka", None, cka) + curve_rows(names, "rdm_reference_vs_random", None, ref_vs_rnd)
    levels = noise_levels(config.distortion_levels)
    for k in range(len(levels) if dist is not None else 0):
        rows += curve_rows(names, f"distortion_r_level{k}", dist[0][k], dist[1][:, k])
    ctx.save_table("layers", rows, COLUMNS)
    labels = {} if stim.labels is None else {"labels": np.array(stim.labels)}
    extra = {} if dist is None else {"noise_sd": levels, "distortion_reference": dist[0],
                                     "distortion_random_draws": dist[1]}
    if ceiling is not None:
        extra["noise_ceiling"] = np.array([ceiling.lower, ceiling.upper, ceiling.n_rdms], dtype=np.float64)
    ctx.save_arrays(layers=np.array(names), rdm_input=input_rdm.numpy(), rdm_vs_target_reference=t.value,
                    rdm_vs_target_reference_ci=np.stack([t.ci_low, t.ci_high]), rdm_vs_target_random_draws=t.null,
                    p=t.p, p_corrected=t.p_corrected, cka_draws=cka, rdm_reference_vs_random_draws=ref_vs_rnd,
                    **labels, **measures, **extra, **{f"rdm_reference/{n}": ref.rdms[n].numpy() for n in heat},
                    **{f"rdm_random/{n}": first.rdms[n].numpy() for n in heat})
    ctx.table("Per layer", layer_table(t, cka, ref_vs_rnd, ref.features, measures, ref_label))


def draw_compare(config, arrays: Mapping[str, np.ndarray], ctx, ref_label: str) -> None:
    """Every figure of a `compare` run from its arrays (what :func:`save_compare_report` saved), as the figure
    mode asks (``ctx.draws``)."""
    from types import SimpleNamespace

    names = [str(n) for n in arrays["layers"]]
    p_corrected = arrays["p_corrected"]
    t = SimpleNamespace(layers=names, value=arrays["rdm_vs_target_reference"],
                        null=arrays["rdm_vs_target_random_draws"],
                        ci_low=arrays["rdm_vs_target_reference_ci"][0], ci_high=arrays["rdm_vs_target_reference_ci"][1],
                        changed=[n for n, p in zip(names, p_corrected) if p < 0.05], correction=config.correction,
                        alpha=0.05)
    ceiling = None
    if "noise_ceiling" in arrays:
        low, high, n = arrays["noise_ceiling"]
        ceiling = SimpleNamespace(lower=float(low), upper=float(high), n_rdms=int(n))
    if ctx.draws("rdm_vs_target"):
        title = f"{config.model}: each layer against the {config.target} RDM"
        ctx.save_figure("rdm_vs_target", plot_layer_bands(title, t, arrays["cka_draws"],
                                                          arrays["rdm_reference_vs_random_draws"], ref_label,
                                                          config.compare_method, ceiling))
    heat = heatmap_layers(config.heatmap_layers, names)
    labels = arrays["labels"].tolist() if "labels" in arrays else None
    for name, who, key in (("rdms_reference", f"reference ({ref_label})", "rdm_reference"),
                           ("rdms_random", "first random-draw", "rdm_random")):
        if ctx.draws(name):
            rdms = {n: arrays[f"{key}/{n}"] for n in heat}
            ctx.save_figure(name, plot_layer_rdms(who, arrays["rdm_input"], rdms, heat, labels))
    if "distortion_random_draws" in arrays and ctx.draws("distortion"):
        ctx.save_figure("distortion", plot_distortion(arrays["noise_sd"], names, arrays["distortion_reference"],
                                                      arrays["distortion_random_draws"], ref_label))
