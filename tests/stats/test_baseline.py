"""stats.baseline (the reference vs its random draws, per layer) and the gaussian test of compare_to_null."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

from priorlab import randomize
from priorlab.errors import UserError
from priorlab.probe import compare, rdm
from priorlab.stats import compare_rdms, compare_to_null, correct
from priorlab.stats.baseline import COLUMNS, layer_test, score, span, summary_metrics, tidy_rows, verdict_sentence
from priorlab.stats.nulls import gaussian_p, random_draws


def rdms(n_layers: int, n: int = 12, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {f"l{k}": rdm(torch.randn(n, 5, generator=g, dtype=torch.float64)) for k in range(n_layers)}


def gaussian_trials(pool: np.ndarray, trials: int, k: int, shift: float, seed: int) -> float:
    """Rejection rate at 0.05 of the gaussian test: the observation is one row of `pool` (+ shift), the null k others."""
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(trials):
        pick = rng.choice(pool.shape[0], size=k + 1, replace=False)
        hits.append(compare_to_null(pool[pick[0]] + shift, pool[pick[1:]], test="gaussian").p <= 0.05)
    return float(np.mean(hits))


def test_gaussian_test_is_calibrated_with_10_draws_and_has_power():
    """Issue 11, acceptance 2 for compare_to_null's gaussian test: ≥ 300 null trials at α = 0.05 with K = 10."""
    pool = np.random.default_rng(0).normal(size=(5000, 1))
    assert 0.02 <= gaussian_trials(pool, 600, 10, 0.0, seed=1) <= 0.08
    assert gaussian_trials(pool, 300, 10, 4.5, seed=2) >= 0.9


def test_gaussian_test_on_real_random_draws():
    """Spearman r of a random net's layer RDM with the input RDM over draws: near-normal, so calibrated too."""
    from priorlab.stats import null_distribution

    x = torch.randn(15, 6, generator=torch.Generator().manual_seed(0))
    null = null_distribution(lambda: nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4)), x, n=300)
    assert 0.02 <= gaussian_trials(null.values, 400, 10, 0.0, seed=3) <= 0.08


def test_gaussian_p_is_the_t_prediction_interval():
    draws = np.array([[0.1, 1.0], [0.3, 1.0], [0.2, 1.0], [0.4, 1.0]])
    obs = np.array([0.9, 1.0])
    t = (0.9 - 0.25) / (np.std(draws[:, 0], ddof=1) * np.sqrt(1 + 1 / 4))
    p = gaussian_p(draws, obs, "two-sided")
    assert p[0] == pytest.approx(2 * scipy.stats.t.sf(t, 3))
    assert p[1] == 1.0  # every draw equal to the observation
    assert gaussian_p(draws, np.array([0.9, 2.0]), "greater")[1] == 0.0
    assert gaussian_p(draws, obs, "less")[0] == pytest.approx(scipy.stats.t.cdf(t, 3))
    with pytest.raises(UserError, match="test must be one of"):
        compare_to_null(obs, draws, test="bayes")


def test_random_draws_equal_fresh_models():
    def make():
        return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())

    model = make().train()
    x = torch.randn(10, 4)
    for seed in random_draws(model, [5, 9], "kaiming"):
        out = model(x)  # a train-mode pass changes the running statistics; the next draw restores them
        fresh = randomize(make().train(), init="kaiming", seed=seed)
        torch.testing.assert_close(out, fresh(x))
        torch.testing.assert_close(model[1].running_mean, fresh[1].running_mean)


def test_layer_test_values_cis_and_holm():
    ref = rdms(3)
    target = rdm(torch.randn(12, 5, generator=torch.Generator().manual_seed(9), dtype=torch.float64))
    null = np.random.default_rng(0).normal(0, 0.1, size=(20, 3))
    t = layer_test(ref, null, target[None], "spearman", n_boot=200, seed=4)
    for i, d in enumerate(ref.values()):
        c = compare_rdms(d, target, "spearman", n_boot=200, n_perm=0, seed=4)  # same seed, same resamples
        assert t.value[i] == pytest.approx(c.value) and t.value[i] == pytest.approx(compare(d, target))
        assert (t.ci_low[i], t.ci_high[i]) == pytest.approx((c.ci_low, c.ci_high))
    np.testing.assert_allclose(t.p, compare_to_null(t.value, null, test="gaussian").p)
    np.testing.assert_allclose(t.p_corrected, correct(t.p, "holm"))
    np.testing.assert_allclose(t.band_low, np.percentile(null, 2.5, axis=0))


def test_several_targets_average_the_comparisons():
    ref = rdms(1)
    targets = torch.stack(list(rdms(4, seed=3).values()))
    value = score(ref["l0"], targets, "pearson")
    assert value == pytest.approx(np.mean([compare(ref["l0"], t, "pearson") for t in targets]))


def test_verdict_sentence_follows_the_p_values():
    ref = rdms(6)
    target = rdm(torch.randn(12, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    values = np.array([score(d, target[None], "spearman") for d in ref.values()])
    null = values + np.random.default_rng(0).normal(0, 0.02, size=(30, 6))
    null[:, [1, 5]] -= 0.5  # the reference lies far above the draws at l1 and l5
    t = layer_test(ref, null, target[None], n_boot=50)
    assert t.changed == ["l1", "l5"]
    text = verdict_sentence(t, "trained")
    assert text.startswith("Training changes layers l1, l5 (p < 0.05, Holm, 30 draws)")
    assert "layers l0, l2–l4 are what the architecture gives" in text
    around = values + np.random.default_rng(1).normal(0, 0.02, size=(30, 6))  # the reference is one of the draws
    assert "No layer differs" in verdict_sentence(layer_test(ref, around, target[None], n_boot=50))
    m = summary_metrics(t, np.ones((30, 6)), np.ones((30, 6)))
    assert m["layers_changed"] == 2 and m["p_corrected_last"] == t.p_corrected[-1]


def test_span_and_tidy_rows():
    assert span(list("abcdefg"), list("abcf")) == "a–c, f"
    assert span(list("abc"), list("ac")) == "a, c"
    t = layer_test(rdms(2), np.random.default_rng(0).normal(size=(5, 2)), rdms(1, seed=5)["l0"][None], n_boot=20)
    rows = tidy_rows(t, "rdm_vs_target_spearman")
    assert len(rows) == 4 and all(list(r) == COLUMNS for r in rows)
    assert {r["network"] for r in rows} == {"reference", "random"}


def test_a_constant_reference_layer_is_a_one_line_error():
    ref = {"flat": torch.ones(5, 5) - torch.eye(5)}
    with pytest.raises(UserError, match="constant at flat"):
        layer_test(ref, np.zeros((3, 1)), rdms(1, n=5)["l0"][None])


def test_rank_parts_give_rankdata_ranks_with_ties():
    from priorlab.probe.rdm import rankdata
    from priorlab.stats.baseline import rank_parts

    rows = torch.tensor(np.random.default_rng(0).integers(0, 6, (4, 30)), dtype=torch.float32)  # many ties
    end, size = rank_parts(rows)
    for dtype in (torch.float32, torch.float64):
        ranks = end.to(dtype) - (size.to(dtype) - 1) / 2
        for r, v in zip(ranks, rows):
            torch.testing.assert_close(r, rankdata(v.to(dtype)), rtol=0, atol=0)
            np.testing.assert_array_equal(r.numpy(), scipy.stats.rankdata(v.numpy()))


def _layer(rdms_: dict, x: dict):
    from types import SimpleNamespace

    grams = {n: (v - v.mean(0)) @ (v - v.mean(0)).T for n, v in x.items()}
    return SimpleNamespace(rdms=rdms_, grams=grams)


@pytest.mark.filterwarnings("ignore:compare. .* NaN")  # rounded activations: some constant rows
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", ["spearman", "pearson", "kendall_a"])
def test_draw_scores_equal_score_and_compare_one_by_one(dtype, method):
    """DrawScores ranks the draws' RDMs together (in several chunks here) and gives exactly what score, cka_gram and
    compare give one draw at a time; a layer a draw lacks is NaN, a constant RDM scores NaN."""
    from priorlab.probe.cka import cka_gram
    from priorlab.stats.baseline import DrawScores

    g = torch.Generator().manual_seed(1)

    def net(with_last=True):
        x = {f"l{k}": torch.randn(9, 4, generator=g, dtype=dtype) for k in range(3 if with_last else 2)}
        x["l1"] = x["l1"].round()  # tied dissimilarities
        return _layer({n: rdm(v).to(dtype) for n, v in x.items()}, x)

    refs = [net(), net()]
    names = [["l0", "l1", "l2"], ["l2", "l0"]]
    targets = torch.stack([rdm(torch.randn(9, 3, generator=g, dtype=torch.float64)) for _ in range(2)])
    draws = [net(), net(with_last=False), net()]
    draws[2].rdms["l0"] = torch.ones(9, 9, dtype=dtype) - torch.eye(9, dtype=dtype)  # constant: undefined score
    users = [[0, 1], [0], [1, 0]]
    scores = DrawScores(targets, method, list(zip(refs, names)), chunk_bytes=9 * 8 * 36)  # about 2 RDMs a chunk
    for d, u in zip(draws, users):
        scores.add(d, u)
    for r in range(2):
        got = scores.result(r)
        mine = [d for d, u in zip(draws, users) if r in u]
        assert got.shape == (len(mine), len(names[r]), 3)
        for k, d in enumerate(mine):
            for i, n in enumerate(names[r]):
                if n not in d.rdms:
                    assert np.isnan(got[k, i]).all()
                    continue
                want = (score(d.rdms[n], targets, method), cka_gram(refs[r].grams[n].double(), d.grams[n].double()),
                        compare(refs[r].rdms[n], d.rdms[n], method))
                np.testing.assert_array_equal(got[k, i], want)
    assert np.isnan(scores.result(1)[1, 1, 0]) and np.isfinite(scores.result(1)[1, 1, 1])  # draws[2]'s constant l0


@pytest.mark.filterwarnings("ignore:compare. .* NaN")  # ReLU units off for every item
def test_group_draws_equal_the_draws_one_by_one_at_float64():
    """The random draws of two references with overlapping seeds, analysed once each: per reference the same
    scores as drawing its own seeds one by one (random_draws + layerwise_analysis + score/cka/compare)."""
    from priorlab.probe.cka import cka_gram
    from priorlab.probe.layerwise import layerwise_analysis
    from priorlab.stats.baseline import group_draws

    def make():
        return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 4), nn.ReLU()).double()

    x = torch.randn(11, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    targets = rdm(x)[None]

    def analyse(m):
        return layerwise_analysis(m, x, keep_grams=True)

    refs = [analyse(randomize(make(), seed=s)) for s in (100, 101)]
    seeds = [[0, 1, 2], [2, 3]]
    trials = [(r, list(r.rdms), s) for r, s in zip(refs, seeds)]
    out = group_draws(make(), trials, targets, "spearman", "torch-default", analyse,
                      curves=lambda m, names: np.arange(len(names), dtype=float)[None])
    for (ref, names, ss), got in zip(trials, out):
        model = make()
        rows = []
        for _ in random_draws(model, ss):
            res = analyse(model)
            rows.append([(score(res.rdms[n], targets, "spearman"), cka_gram(ref.grams[n], res.grams[n]),
                          compare(ref.rdms[n], res.rdms[n])) for n in names])
        a = np.array(rows)
        np.testing.assert_allclose(got.score, a[..., 0], rtol=1e-12)
        np.testing.assert_allclose(got.cka, a[..., 1], rtol=1e-12)
        np.testing.assert_allclose(got.ref_vs_rnd, a[..., 2], rtol=1e-12)
        assert got.distortion.shape == (len(ss), 1, len(names))
        first = analyse(randomize(make(), seed=ss[0]))
        torch.testing.assert_close(got.first.rdms[names[-1]], first.rdms[names[-1]])
