"""Figures of a layer-by-layer comparison of two networks (RSA and CKA per layer), as drawn by `compare`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from priorlab.viz.rdm import plot_rdm_strip


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
