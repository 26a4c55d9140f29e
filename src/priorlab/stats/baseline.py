"""A reference network against its random-weight baseline, layer by layer: the tests behind `compare`.

    targets = torch.stack([input_rdm])                    # [S, N, N]: one target, or S measured RDMs
    t = layer_test(reference_rdms, null_values, targets, "spearman", n_boot=1000, seed=0)
    t.value, t.ci_low, t.ci_high          # the reference's score per layer, bootstrap CI over stimuli
    t.band_low, t.band_high, t.null_mean  # the random draws' 2.5–97.5 % band
    t.p, t.p_corrected                    # the reference against the draws, corrected across layers (Holm)
    verdict_sentence(t, "trained")        # "training changes layers a, b (p < 0.05, Holm); layers c–f are …"

A layer's score against S target RDMs is the mean over s of `compare(layer_rdm, target_s, method)` (S = 1 for the
input's or the category RDM). Its CI resamples stimuli (pairs of a stimulus with its own copy dropped, as
`compare_rdms` does) with the same resamples for every target. The p of the reference against the K draws is
`compare_to_null` with `test` = "gaussian" (the t prediction-interval test: with K = 10 draws the empirical p could
never fall below 2/11) or "empirical".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from priorlab.errors import UserError
from priorlab.probe.rdm import compare
from priorlab.stats import checks
from priorlab.stats.corrections import correct
from priorlab.stats.nulls import compare_to_null
from priorlab.stats.resampling import bootstrap_indices, generators, percentile_interval, resampled

COLUMNS = ["layer", "network", "measure", "value", "ci_low", "ci_high", "p", "p_corrected"]


def score(layer_rdm, targets: torch.Tensor, method: str) -> float:
    """Mean over the S target RDMs [S, N, N] of compare(layer_rdm, target_s); NaN when the layer's RDM is constant."""
    d = torch.as_tensor(layer_rdm, dtype=torch.float64, device=targets.device)
    i, j = torch.triu_indices(d.shape[0], d.shape[0], offset=1, device=d.device)
    v = d[i, j]
    if not bool(torch.isfinite(v).all()) or bool((v == v[0]).all()):
        return float("nan")
    return float(np.mean([compare(d, t, method) for t in targets]))


def bootstrap_score(layer_rdm, targets: torch.Tensor, method: str, n_boot: int, seed: int, confidence=0.95):
    """Percentile CI over stimulus resamples of `score` (the same resamples for every target)."""
    d = checks.rdm_matrix(layer_rdm, "layer RDM", device=targets.device)
    idx = bootstrap_indices(d.shape[0], n_boot, generators(seed, 1)[0])
    boot = torch.stack([resampled(d, t, idx, method) for t in targets]).mean(0)
    return percentile_interval(boot.cpu().numpy(), confidence)


@dataclass(frozen=True)
class LayerTest:
    """Per layer: the reference's score with its CI, the random draws' band, and the test of one against the other."""

    layers: tuple[str, ...]
    value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    null: np.ndarray  # [K, L]
    band_low: np.ndarray
    band_high: np.ndarray
    null_mean: np.ndarray
    p: np.ndarray
    p_corrected: np.ndarray
    test: str
    correction: str
    alpha: float = 0.05

    @property
    def changed(self) -> list[str]:
        """Layers where the reference differs from the random draws (corrected p < alpha)."""
        return [n for n, p in zip(self.layers, self.p_corrected) if p < self.alpha]


def layer_test(
    reference_rdms: Mapping[str, object],
    null_values: np.ndarray,
    targets: torch.Tensor,
    method: str = "spearman",
    n_boot: int = 1000,
    seed: int = 0,
    test: str = "gaussian",
    correction: str = "holm",
    alpha: float = 0.05,
) -> LayerTest:
    """The reference's per-layer scores (from its RDMs) with CIs, tested against `null_values` [K draws, L layers]
    of the same layers in the same order; p corrected across layers with `correction` (holm or fdr_bh)."""
    layers = tuple(reference_rdms)
    values = np.array([score(reference_rdms[n], targets, method) for n in layers])
    if not np.isfinite(values).all():
        bad = [n for n, v in zip(layers, values) if not np.isfinite(v)]
        raise UserError(f"layers: the reference's RDM is constant at {', '.join(bad)}; no comparison there")
    cis = np.array([bootstrap_score(reference_rdms[n], targets, method, n_boot, seed) for n in layers])
    null = np.asarray(null_values, dtype=np.float64)
    t = compare_to_null(values, null, test=test)
    return LayerTest(layers, values, cis[:, 0], cis[:, 1], null, t.band_low, t.band_high, t.null_mean, t.p,
                     correct(t.p, correction), test, correction, alpha)


def span(names: Sequence[str], chosen: Sequence[str]) -> str:
    """The chosen names in order, runs of ≥ 3 consecutive layers written first–last: "conv1, pool1–fc2"."""
    chosen = set(chosen)
    parts, run = [], []
    for n in [*names, None]:
        if n is not None and n in chosen:
            run.append(n)
            continue
        if run:
            parts.append(f"{run[0]}–{run[-1]}" if len(run) >= 3 else ", ".join(run))
        run = []
    return ", ".join(parts)


def verdict_sentence(t: LayerTest, reference_label: str = "trained") -> str:
    """One sentence computed from the tests: which layers the reference changes and which the architecture gives."""
    how = f"p < {t.alpha:g}, {'Holm' if t.correction == 'holm' else 'Benjamini–Hochberg'}, {t.null.shape[0]} draws"
    changed = t.changed
    same = [n for n in t.layers if n not in changed]
    lead = "Training changes" if reference_label == "trained" else "The reference draw differs from the draws at"
    if not changed:
        return f"No layer differs from the random draws ({how}): every layer is what the architecture gives."
    text = f"{lead} layer{'s' * (len(changed) > 1)} {span(t.layers, changed)} ({how})"
    if same:
        verb = "are" if len(same) > 1 else "is"
        text += f"; layer{'s' * (len(same) > 1)} {span(t.layers, same)} {verb} what the architecture gives"
    return text + "."


def tidy_rows(t: LayerTest, measure: str, reference: str = "reference") -> list[dict]:
    """Rows of layers.csv for one measure: the reference (value, CI, p) and the random draws (mean, band)."""
    rows = []
    for i, n in enumerate(t.layers):
        rows.append(dict(layer=n, network=reference, measure=measure, value=t.value[i], ci_low=t.ci_low[i],
                         ci_high=t.ci_high[i], p=t.p[i], p_corrected=t.p_corrected[i]))
        rows.append(dict(layer=n, network="random", measure=measure, value=t.null_mean[i], ci_low=t.band_low[i],
                         ci_high=t.band_high[i], p=np.nan, p_corrected=np.nan))
    return rows


def curve_rows(layers: Sequence[str], measure: str, reference: np.ndarray | None, draws: np.ndarray,
               reference_name: str = "reference") -> list[dict]:
    """Rows of layers.csv for a measure without a test: the reference's value and the draws' mean and band.

    reference: [L] (None: a measure of the reference against each draw, so only the draws' rows); draws: [K, L]."""
    low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0)
    mean = np.nanmean(draws, axis=0)
    nan = float("nan")
    rows = []
    for i, n in enumerate(layers):
        if reference is not None:
            rows.append(dict(layer=n, network=reference_name, measure=measure, value=reference[i], ci_low=nan,
                             ci_high=nan, p=nan, p_corrected=nan))
        rows.append(dict(layer=n, network="random", measure=measure, value=mean[i], ci_low=low[i], ci_high=high[i],
                         p=nan, p_corrected=nan))
    return rows


def summary_metrics(t: LayerTest, cka: np.ndarray, ref_vs_rnd: np.ndarray) -> dict[str, float]:
    """The headline numbers of a layer test (first/last/mean layer, counts), with the draws' CKA [K, L] and
    RDM correlation [K, L] with the reference."""
    return dict(
        layers=len(t.layers), layers_changed=len(t.changed), layers_architecture=len(t.layers) - len(t.changed),
        rdm_vs_target_reference_mean=t.value.mean(), rdm_vs_target_reference_first=t.value[0],
        rdm_vs_target_reference_last=t.value[-1], rdm_vs_target_random_mean=t.null_mean.mean(),
        rdm_vs_target_random_first=t.null_mean[0], rdm_vs_target_random_last=t.null_mean[-1],
        rdm_vs_target_reference_last_ci_low=t.ci_low[-1], rdm_vs_target_reference_last_ci_high=t.ci_high[-1],
        rdm_vs_target_random_last_band_low=t.band_low[-1], rdm_vs_target_random_last_band_high=t.band_high[-1],
        p_last=t.p[-1], p_corrected_last=t.p_corrected[-1], p_corrected_min=t.p_corrected.min(),
        cka_mean=cka.mean(), cka_last=cka[:, -1].mean(), rdm_reference_vs_random_mean=ref_vs_rnd.mean(),
    )


def distortion_metrics(reference: np.ndarray, draws: np.ndarray) -> dict[str, float]:
    """Headline numbers of distortion curves: reference [levels, L], draws [K, levels, L] (r at the strongest
    distortion at the first and last layer, the smallest fall of the draws' mean r, first − last at the end)."""
    mean = np.nanmean(draws, axis=0)
    return dict(
        distortion_r_max_random_first=mean[-1, 0], distortion_r_max_random_last=mean[-1, -1],
        distortion_r_max_reference_first=reference[-1, 0], distortion_r_max_reference_last=reference[-1, -1],
        distortion_drop_random_min=np.nanmin(mean[0] - mean[-1]), distortion_fall_random=mean[-1, 0] - mean[-1, -1],
    )


__all__ = ["COLUMNS", "LayerTest", "bootstrap_score", "curve_rows", "distortion_metrics", "layer_test", "score", "span", "summary_metrics",
           "tidy_rows", "verdict_sentence"]
