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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from priorlab.errors import UserError
from priorlab.probe.rdm import compare, upper
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


# ---------------------------------------------------------------------------------------------- random draws, batched
def rank_parts(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of `rows` [M, P], for each entry the end (1-based) and size of its run of equal values once sorted:
    the average rank is ``end - (size - 1) / 2`` (``probe.rdm.rankdata``'s), formed in whatever dtype it is needed."""
    s, order = torch.sort(rows, dim=-1, stable=True)
    p = s.shape[-1]
    pos = torch.arange(1, p + 1, device=rows.device).expand_as(s)
    first = torch.ones_like(s, dtype=torch.bool)
    first[:, 1:] = s[:, 1:] != s[:, :-1]
    last = torch.ones_like(first)
    last[:, :-1] = first[:, 1:]
    start = torch.cummax(torch.where(first, pos, 0), dim=-1).values
    end = torch.flip(torch.cummin(torch.flip(torch.where(last, pos, p + 1), [-1]), dim=-1).values, [-1])
    out_end, out_size = torch.empty_like(end), torch.empty_like(end)
    return out_end.scatter_(-1, order, end), out_size.scatter_(-1, order, end - start + 1)


def _ranks(parts: tuple[torch.Tensor, torch.Tensor], i: int, dtype: torch.dtype) -> torch.Tensor:
    end, size = parts[0][i].to(dtype), parts[1][i].to(dtype)
    return end - (size - 1) / 2


class DrawScores:
    """Scores of random draws, layer by layer, for one or several references at once (the trials of a group).

    ``add(res, users)`` takes one draw's layer-wise result (RDMs and Gram matrices) and the indices of the
    references it serves; per reference it gives, for each of that reference's layers, `score` of the draw's RDM
    against the targets, linear CKA with the reference's layer and `compare` of the two RDMs (NaN where the draw lacks
    the layer). Under spearman the draws' RDMs are ranked together, in chunks of about `chunk_bytes`, with one sort
    per chunk (the targets' and the references' ranks once): the numbers equal `score` / `compare` one by one."""

    def __init__(self, targets: torch.Tensor, method: str, references: Sequence[tuple[object, Sequence[str]]],
                 chunk_bytes: int = 2**26):
        self.targets, self.method, self.refs, self.chunk_bytes = targets, method, list(references), chunk_bytes
        self.rows: list[list[list]] = [[] for _ in self.refs]  # per reference, per draw: [L] (score, cka, ref_vs_rnd)
        self._pending: list[tuple[torch.Tensor, str, list]] = []  # (upper triangle, layer, [(reference, row, index)])
        self._nbytes = 0
        self._tparts = self._ref_parts = None

    def add(self, res, users: Sequence[int]) -> None:
        from priorlab.probe.cka import cka_gram

        rows = {}  # layer -> [(reference, row, layer index)]
        for u in users:
            ref, names = self.refs[u]
            row = [[np.nan, np.nan, np.nan] for _ in names]
            self.rows[u].append(row)
            for i, n in enumerate(names):
                if n in res.rdms:
                    row[i][1] = cka_gram(ref.grams[n].double(), res.grams[n].double())
                    rows.setdefault(n, []).append((u, row, i))
        for n, where in rows.items():
            if self.method != "spearman":
                for u, row, i in where:
                    row[i][0] = score(res.rdms[n], self.targets, self.method)
                    row[i][2] = compare(self.refs[u][0].rdms[n], res.rdms[n], self.method)
                continue
            v = upper(res.rdms[n])
            self._pending.append((v, n, where))
            self._nbytes += v.numel() * 8
        if self._nbytes >= self.chunk_bytes:
            self.flush()

    def flush(self) -> None:
        """Rank the pending draws' RDMs with one sort and fill their scores."""
        if not self._pending:
            return
        dev = self.targets.device
        if self._tparts is None:
            self._tparts = rank_parts(torch.stack([upper(t).to(dev, torch.float64) for t in self.targets]))
            self._ref_parts = {}
        parts = rank_parts(torch.stack([v.to(dev, torch.float64) for v, _, _ in self._pending]))
        for k, (v, n, where) in enumerate(self._pending):
            v64 = v.to(dev, torch.float64)
            finite, constant = bool(torch.isfinite(v64).all()), bool((v64 == v64[0]).all())
            if finite and not constant:  # score: float64 ranks of the draw against each target's
                r = _ranks(parts, k, torch.float64)
                value = float(np.mean([compare(r, _ranks(self._tparts, t, torch.float64), "pearson")
                                       for t in range(len(self.targets))]))
            else:
                value = float("nan")
            for u, row, i in where:
                row[i][0] = value
                ref = self.refs[u][0].rdms[n]
                dtype = torch.promote_types(torch.promote_types(ref.dtype, v.dtype), torch.float32)
                if not bool(torch.isfinite(v).all()) or not bool(torch.isfinite(upper(ref)).all()):
                    row[i][2] = compare(ref, v, self.method)  # one by one (NaN, with compare's warning)
                    continue
                if (u, n) not in self._ref_parts:
                    self._ref_parts[(u, n)] = rank_parts(upper(ref).to(dev, torch.float64)[None])
                row[i][2] = compare(_ranks(self._ref_parts[(u, n)], 0, dtype), _ranks(parts, k, dtype), "pearson")
        self._pending, self._nbytes = [], 0

    def result(self, u: int) -> np.ndarray:
        """[K draws, L layers, 3]: (score, CKA, RDM comparison with the reference) of reference `u`'s draws."""
        self.flush()
        return np.array(self.rows[u], dtype=np.float64).reshape(len(self.rows[u]), len(self.refs[u][1]), 3)


@dataclass
class Draws:
    """The K random draws of one reference, per layer of the reference: scores against the target, similarity to the
    reference, and distortion curves."""

    first: object  # the first draw's LayerwiseResult (heatmaps, measures)
    score: np.ndarray  # [K, L]
    cka: np.ndarray  # [K, L] linear CKA(reference layer, draw layer)
    ref_vs_rnd: np.ndarray  # [K, L] compare(reference RDM, draw RDM)
    distortion: np.ndarray | None  # [K, levels, L]


def group_draws(model, trials: Sequence[tuple[object, Sequence[str], Sequence[int]]], targets: torch.Tensor,
                method: str, init: str, analyse: Callable, curves: Callable | None = None,
                progress=None) -> list[Draws]:
    """The random draws of several references at once: `trials` are (reference's layer-wise result, its layer
    names, the seeds of its draws). `model` is re-initialised once per seed of their union (`random_draws`), the draw
    analysed once (``analyse(model)``, a LayerwiseResult with Gram matrices) and scored for every reference that has
    that seed (:class:`DrawScores`); ``curves(model, names)`` adds distortion curves [levels, L]. Per reference its
    draws come in the order of its seeds, as one by one."""
    from priorlab.stats.nulls import random_draws

    seeds = sorted({s for _, _, ss in trials for s in ss})
    scores = DrawScores(targets, method, [(ref, names) for ref, names, _ in trials])
    first, dist = {}, [[] for _ in trials]
    draws = random_draws(model, seeds, init)
    for seed in progress(draws, total=len(seeds), description="random draws") if progress else draws:
        res = analyse(model)
        users = [u for u, (_, _, ss) in enumerate(trials) if seed in ss]
        scores.add(res, users)
        first.update({u: res for u in users if seed == trials[u][2][0]})
        done = {}
        for u in users if curves is not None else ():
            key = tuple(trials[u][1])
            done[key] = done[key] if key in done else curves(model, trials[u][1])
            dist[u].append(done[key])
    out = []
    for u in range(len(trials)):
        a = scores.result(u)
        out.append(Draws(first[u], a[..., 0], a[..., 1], a[..., 2], np.array(dist[u]) if dist[u] else None))
    return out


def target_ceiling(targets: torch.Tensor, method: str):
    """The noise ceiling of S > 1 measured target RDMs (Nili et al. 2014; None for one target), its metrics and the
    page's sentence on it."""
    from priorlab.stats.ceiling import noise_ceiling

    if len(targets) < 2:
        return None, {}, None
    c = noise_ceiling(targets, method)
    return c, dict(noise_ceiling_lower=c.lower, noise_ceiling_upper=c.upper, target_rdms=len(targets)), (
        f"Noise ceiling of the {len(targets)} target RDMs: lower {c.lower:.3f}, upper {c.upper:.3f} (Nili et al. "
        f"2014; {method}); each layer's score is its mean over the targets.")


def defined_layers(names: Sequence[str], draws: Draws) -> list[int]:
    """Indices of the layers every draw has, with a defined score in every draw; a UserError when there is none."""
    keep = [i for i, n in enumerate(names) if n in draws.first.rdms and np.isfinite(draws.score[:, i]).all()]
    if not keep:
        undefined = any(n in draws.first.rdms for n in names)
        raise UserError("stimuli: every layer's comparison is undefined (NaN): are the stimuli constant?" if undefined
                        else "layers: none of the chosen layers gives a batch-first output to compare")
    return keep


def distortion_rows(model, x, names: Sequence[str], levels: int, layers=None, seed: int = 0, batch_size: int = 32,
                    timesteps=None) -> np.ndarray:
    """[levels, L] distortion curves (priorlab.probe.distortion) of the named layers; NaN where a layer is absent."""
    from priorlab.probe.distortion import distortion_curves, noise_levels

    device = next(iter(model.parameters()), torch.empty(0)).device
    got = distortion_curves(model.eval(), x.to(device), noise_levels(levels), layers, seed=seed, batch_size=batch_size,
                            timesteps=timesteps, names=list(names))
    return np.stack([got.get(n, np.full(levels, np.nan)) for n in names], axis=1)


def paired_measures(measures: Sequence[str], ref, rnd, pwcca: Callable | None = None,
                    shape_alpha: float = 0.5) -> dict[str, dict[str, float]]:
    """{measure: {layer: value}} of each reference layer (`ref`, a layer-wise result) vs the same layer of a draw
    (`rnd`), for the measures beyond CKA; ``pwcca()`` makes the one more pass over the reference that pwcca needs."""
    from priorlab.probe.layerwise import paired_similarity

    out = {}
    for m in measures:
        if m == "pwcca":
            out[m] = pwcca()
        elif m != "cka":
            out[m] = paired_similarity(ref, rnd, m, **({"alpha": shape_alpha} if m == "shape" else {}))
    return out


__all__ = ["COLUMNS", "DrawScores", "Draws", "defined_layers", "distortion_rows", "group_draws", "paired_measures",
           "target_ceiling", "LayerTest", "bootstrap_score", "curve_rows", "distortion_metrics", "layer_test",
           "rank_parts", "score", "span", "summary_metrics", "tidy_rows", "verdict_sentence"]
