"""compare_rdms and paired_difference: rsatoolbox's pattern bootstrap, a brute-force Mantel test, calibration."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from scipy.spatial.distance import pdist, squareform

from priorlab.probe import compare
from priorlab.stats import compare_rdms, paired_difference
from priorlab.stats.resampling import bootstrap_indices, rank_rows, resampled

RSA_METHODS = [("pearson", "corr"), ("spearman", "spearman"), ("kendall_a", "tau-a"), ("cosine", "cosine")]


def rsa():
    return pytest.importorskip("rsatoolbox")


def data_rdms(n: int, coupling: float, seed: int, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Two Euclidean RDMs of n stimuli whose data share `coupling` of a common signal."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = coupling * x + rng.normal(size=(n, d))
    return squareform(pdist(x)), squareform(pdist(y))


def rsa_rdms(m: np.ndarray):
    return rsa().rdm.RDMs(squareform(m, checks=False)[None, :])


def test_rank_rows_equals_scipy_rankdata_with_ties():
    rng = np.random.default_rng(0)
    v = rng.integers(0, 6, size=(7, 40)).astype(np.float64)
    expected = np.apply_along_axis(scipy.stats.rankdata, 1, v)
    assert np.array_equal(rank_rows(torch.from_numpy(v)).numpy(), expected)


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("ours,theirs", RSA_METHODS)
def test_each_resample_equals_rsatoolbox_subsample_pattern(ours, theirs, tied):
    """Same stimulus indices: our batched resample = rsatoolbox's subsample_pattern + compare (duplicates dropped)."""
    a, b = data_rdms(25, 0.7, seed=1)
    if tied:  # few distinct dissimilarities: ties in the ranks
        a, b = np.round(a * 2), np.round(b)
    idx = bootstrap_indices(25, 12, torch.Generator().manual_seed(3))
    got = resampled(torch.from_numpy(a), torch.from_numpy(b), idx, ours).numpy()
    ra, rb = rsa_rdms(a), rsa_rdms(b)
    expected = [
        rsa().rdm.compare(ra.subsample_pattern("index", i.numpy()), rb.subsample_pattern("index", i.numpy()), theirs)[0, 0]
        for i in idx
    ]
    assert np.abs(got - np.array(expected)).max() < 1e-10
    assert len({tuple(sorted(set(i.tolist()))) for i in idx}) == 12  # the resamples really differ


def test_bootstrap_se_within_10_percent_of_rsatoolbox_eval_bootstrap_pattern():
    rsatoolbox = rsa()
    a, b = data_rdms(30, 0.6, seed=2)
    model = rsatoolbox.model.ModelFixed("a", rsa_rdms(a))
    np.random.seed(0)
    result = rsatoolbox.inference.eval_bootstrap_pattern(model, rsa_rdms(b), method="spearman", N=1000, boot_noise_ceil=False)
    theirs = np.nanstd(result.evaluations[:, 0], ddof=1)
    ours = compare_rdms(a, b, "spearman", n_boot=2000, n_perm=0, seed=0)
    assert ours.se == pytest.approx(theirs, rel=0.10)
    assert ours.ci_low < ours.value < ours.ci_high


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall_a", "cosine"])
def test_value_equals_probe_compare(method):
    a, b = data_rdms(15, 0.8, seed=4)
    c = compare_rdms(torch.from_numpy(a), torch.from_numpy(b), method, n_boot=20, n_perm=20)
    assert c.value == pytest.approx(compare(torch.from_numpy(a), torch.from_numpy(b), method), abs=1e-12)
    assert (c.method, c.n_boot, c.n_perm) == (method, 20, 20)


def mantel(a: np.ndarray, b: np.ndarray, n_perm: int, seed: int) -> dict[str, float]:
    """Brute-force Mantel test: a plain loop over permutations of b's stimuli, scipy.stats.spearmanr."""
    rng = np.random.default_rng(seed)
    iu = np.triu_indices(a.shape[0], 1)
    observed = scipy.stats.spearmanr(a[iu], b[iu]).statistic
    null = []
    for _ in range(n_perm):
        p = rng.permutation(a.shape[0])
        null.append(scipy.stats.spearmanr(a[iu], b[p][:, p][iu]).statistic)
    null = np.array(null)
    greater = (1 + np.sum(null >= observed)) / (1 + n_perm)
    less = (1 + np.sum(null <= observed)) / (1 + n_perm)
    return {"greater": greater, "less": less, "two-sided": min(1.0, 2 * min(greater, less))}


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_permutation_p_equals_brute_force_mantel_within_monte_carlo_error(alternative):
    a, b = data_rdms(18, 0.3, seed=17)
    n_perm = 3000
    expected = mantel(a, b, n_perm, seed=1)[alternative]
    got = compare_rdms(a, b, "spearman", n_boot=0, n_perm=n_perm, seed=5, alternative=alternative).p
    assert 0.05 < expected < 0.9  # away from the edges, where a wrong count would show
    sd = np.sqrt(2 * expected * (1 - expected) / n_perm) * (2 if alternative == "two-sided" else 1)
    assert abs(got - expected) <= 4 * sd + 1e-9


def rejection_rate(coupling: float, method: str, trials: int, alternative: str = "two-sided") -> float:
    rejected = 0
    for t in range(trials):
        a, b = data_rdms(20, coupling, seed=1000 + t)
        p = compare_rdms(a, b, method, n_boot=0, n_perm=199, seed=t, alternative=alternative).p
        rejected += p <= 0.05
    return rejected / trials


@pytest.mark.parametrize("method,alternative", [("spearman", "two-sided"), ("pearson", "two-sided"),
                                                ("cosine", "two-sided"), ("spearman", "greater")])
def test_permutation_test_is_calibrated_under_the_null(method, alternative):
    assert 0.02 <= rejection_rate(0.0, method, 400, alternative) <= 0.08


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_permutation_test_has_power_with_planted_dependence(method):
    assert rejection_rate(1.2, method, 100) >= 0.9


def test_bootstrap_is_seeded_and_independent_of_n_perm():
    a, b = data_rdms(20, 0.5, seed=6)
    one = compare_rdms(a, b, n_boot=300, n_perm=10, seed=3)
    two = compare_rdms(a, b, n_boot=300, n_perm=99, seed=3)
    other = compare_rdms(a, b, n_boot=300, n_perm=10, seed=4)
    assert (one.ci_low, one.ci_high, one.se) == (two.ci_low, two.ci_high, two.se)
    assert one.se != other.se


def test_paired_difference_shares_resamples_and_matches_the_point_values():
    target, trained = data_rdms(30, 3.0, seed=7)
    _, random = data_rdms(30, 0.0, seed=8)
    d = paired_difference({"fc": trained, "same": trained}, {"fc": random, "same": trained}, target, n_boot=500)
    assert d.layers == ("fc", "same")
    assert d.value_a[0] == pytest.approx(compare(torch.from_numpy(trained), torch.from_numpy(target)), abs=1e-12)
    assert d.difference[0] == pytest.approx(d.value_a[0] - d.value_b[0])
    # identical networks: shared resamples give a difference of exactly 0 in every resample
    assert (d.difference[1], d.ci_low[1], d.ci_high[1], d.se[1], d.p[1]) == (0.0, 0.0, 0.0, 0.0, 1.0)
    # the trained layer is clearly more similar to the target than the random one
    assert d.ci_low[0] > 0 and d.p[0] < 0.01


def test_paired_ci_is_narrower_than_the_two_separate_cis():
    """Shared resamples cancel the stimulus-sampling noise the two comparisons have in common."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(30, 8))
    target = squareform(pdist(x))
    a = squareform(pdist(x + 0.8 * rng.normal(size=x.shape)))
    b = squareform(pdist(x + 1.0 * rng.normal(size=x.shape)))
    d = paired_difference([a], [b], target, n_boot=800, seed=1)
    sa = compare_rdms(a, target, n_boot=800, n_perm=0, seed=1).se
    sb = compare_rdms(b, target, n_boot=800, n_perm=0, seed=1).se
    assert d.se[0] < np.sqrt(sa**2 + sb**2)


def test_p_has_the_plus_one_correction():
    """No permutation reaches a near-perfect match: p is exactly 1 / (1 + n_perm) one-sided, twice that two-sided."""
    a, b = data_rdms(25, 10.0, seed=3)
    assert compare_rdms(a, b, n_boot=0, n_perm=99, alternative="greater").p == pytest.approx(0.01)
    assert compare_rdms(a, b, n_boot=0, n_perm=99).p == pytest.approx(0.02)
    assert compare_rdms(a, b, n_boot=0, n_perm=99, alternative="less").p == pytest.approx(1.0)


def test_chunking_does_not_change_the_numbers(monkeypatch):
    import priorlab.stats.resampling as resampling

    a, b = data_rdms(12, 0.5, seed=2)
    whole = compare_rdms(a, b, n_boot=50, n_perm=50, seed=1)
    monkeypatch.setitem(resampling.CHUNK_ENTRIES, "cpu", 100)  # one or two resamples per chunk
    assert compare_rdms(a, b, n_boot=50, n_perm=50, seed=1) == whole
