"""Figures of the rvfl experiment: test error against the number of random units, and the fits' errors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STYLE = {"1d": ("C0", "-"), "2d": ("C3", "-"), "1d_noisy": ("C0", "--"), "2d_noisy": ("C3", "--")}


def scaling(
    units: Sequence[int],
    mse: dict[str, np.ndarray],
    slopes: dict[str, float],
    noise_term: dict[str, np.ndarray],
    noise: float,
    activation: str,
    lam: float,
    n_train: int,
):
    """Test MSE [repeat, unit count] per curve (``1d``, ``2d``, ``*_noisy``) on log–log axes: geometric mean with
    the min–max band, the O(1/n) slope from the first point, and the absorbed noise σ²·dof/N (dotted)."""
    import matplotlib.pyplot as plt

    units = np.array(units, dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for k, v in mse.items():
        color, ls = STYLE[k]
        gm = np.exp(np.log(v).mean(0))
        label = f"{'1-D' if k.startswith('1d') else '2-D'}" + (
            f", noise SD {noise:g}" if k.endswith("noisy") else f", slope {slopes[k]:.2f}"
        )
        ax.plot(units, gm, color=color, ls=ls, marker="o", ms=4, label=label)
        ax.fill_between(units, v.min(0), v.max(0), color=color, alpha=0.12, lw=0)
    first = np.exp(np.log(mse["1d"][:, 0]).mean())
    ax.plot(units, first * units[0] / units, color="0.5", lw=1.5, label="O(1/n) (Needell et al.)")
    if noise > 0:
        for k, v in noise_term.items():
            ax.plot(units, v, color=STYLE[k][0], ls=":", lw=1.2)
        ax.plot([], [], color="0.3", ls=":", label="σ²·dof/N: the noise the fit absorbs")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel="random units n", ylabel="test MSE (noiseless test targets)",
           title=f"RVFL, {activation} features, ridge λ={lam:g}, {n_train} training points")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fit_errors(
    x1: np.ndarray,
    target1: np.ndarray,
    errors1: dict[int, np.ndarray],
    target2: np.ndarray,
    error2: np.ndarray,
    n_mid: int,
    name_1d: str,
    name_2d: str,
):
    """Left: |error| along the grid x1 of the 1-D fits, one line per unit count (errors1), the target in an inset;
    middle: the 2-D target image on [-1, 1]²; right: |error| image of the 2-D fit with n_mid units (log colours)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    for i, (n, err) in enumerate(errors1.items()):
        color = plt.cm.viridis(i / max(len(errors1) - 1, 1))
        axes[0].plot(x1, err, color=color, lw=1, label=f"{n} units")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("|fit − target|")
    axes[0].set_title(f"1-D target {name_1d}: errors")
    axes[0].set_xlabel("x")
    axes[0].legend(fontsize=8, loc="lower right")
    inset = axes[0].inset_axes([0.02, 0.8, 0.3, 0.18])
    inset.plot(x1, target1, color="k")
    inset.set_xticks([])
    inset.set_yticks([])
    im = axes[1].imshow(target2, extent=(-1, 1, -1, 1), origin="lower", cmap="RdBu_r")
    fig.colorbar(im, ax=axes[1])
    axes[1].set_title(f"2-D target: {name_2d}")
    im = axes[2].imshow(error2, extent=(-1, 1, -1, 1), origin="lower", cmap="magma", norm=LogNorm())
    fig.colorbar(im, ax=axes[2])
    axes[2].set_title(f"|error| of the 2-D fit, {n_mid} units")
    for ax in axes[1:]:
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
    fig.tight_layout()
    return fig
