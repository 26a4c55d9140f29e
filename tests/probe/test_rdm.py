"""RDMs and RDM comparisons against rsatoolbox and scipy (issue 3, acceptance item 1)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform

from priorlab.data.digits import load_digits_arrays
from priorlab.probe import compare, rdm
from priorlab.probe.rdm import count_inversions, rankdata, upper


def datasets():
    rng = np.random.default_rng(0)
    digits = load_digits_arrays()[0][:300].reshape(300, -1).astype(np.float64)
    return {"random": rng.normal(size=(60, 40)) * 3 + 1, "digits": digits}


def rsa():
    return pytest.importorskip("rsatoolbox")


def rsa_rdm(x: np.ndarray, method: str) -> np.ndarray:
    rsatoolbox = rsa()
    return rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x), method=method).get_matrices()[0]


def rsa_compare(a: np.ndarray, b: np.ndarray, method: str) -> float:
    rsatoolbox = rsa()
    r = [rsatoolbox.rdm.RDMs(dissimilarities=squareform(m, checks=False)[None, :]) for m in (a, b)]
    return float(rsatoolbox.rdm.compare(r[0], r[1], method=method)[0, 0])


@pytest.mark.parametrize("data", ["random", "digits"])
@pytest.mark.parametrize("ours,oracle", [("correlation", "correlation"), ("sqeuclidean", "euclidean")])
def test_rdm_matches_rsatoolbox(data, ours, oracle):
    x = datasets()[data]
    expected = rsa_rdm(x, oracle)
    assert np.abs(rdm(torch.from_numpy(x), ours).numpy() - expected).max() < 1e-6
    # float32 input stays float32 and is still close
    got32 = rdm(torch.from_numpy(x).float(), ours)
    assert got32.dtype == torch.float32
    assert np.abs(got32.double().numpy() - expected).max() < 1e-5 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("data", ["random", "digits"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_rdm_matches_scipy_pdist(data, metric):
    x = datasets()[data]
    x = x[np.linalg.norm(x, axis=1) > 0]
    assert np.abs(rdm(x, metric).numpy() - squareform(pdist(x, metric))).max() < 1e-6


def test_rdm_flattens_items_and_is_a_proper_rdm():
    x = torch.randn(10, 3, 4, 5, dtype=torch.float64)
    d = rdm(x, "euclidean")
    assert d.shape == (10, 10)
    assert torch.equal(d, d.T) and torch.all(torch.diagonal(d) == 0)
    assert torch.allclose(d, rdm(x.reshape(10, -1), "euclidean"))


def test_fewer_than_three_items_is_an_error_naming_the_count():
    for n in (1, 2):
        with pytest.raises(ValueError, match=f"at least 3 items .*got {n}"):
            rdm(torch.randn(n, 5))
    assert rdm(torch.randn(3, 5)).shape == (3, 3)


def test_bad_metric_names_the_choices():
    with pytest.raises(ValueError, match="metric must be one of correlation"):
        rdm(torch.randn(4, 3), "manhattan")
    with pytest.raises(ValueError, match="method must be one of pearson"):
        compare(torch.rand(4, 4), torch.rand(4, 4), "kendall_b")


def rdm_pairs():
    rng = np.random.default_rng(1)
    digits = datasets()["digits"][:120]
    a = squareform(pdist(digits, "correlation"))
    b = squareform(pdist(digits, "sqeuclidean")) / digits.shape[1]
    x = rng.normal(size=(50, 20))
    c = squareform(pdist(x))
    d = squareform(pdist(x + rng.normal(size=x.shape)))
    tied = np.round(d, 0)  # many ties: the rank comparisons must average/ignore them as rsatoolbox does
    return {"digits": (a, b), "random": (c, d), "ties": (c, tied), "both_tied": (np.round(c, 0), tied)}


@pytest.mark.parametrize("pair", ["digits", "random", "ties", "both_tied"])
@pytest.mark.parametrize(
    "ours,oracle",
    [("pearson", "corr"), ("spearman", "spearman"), ("kendall_a", "tau-a"), ("cosine", "cosine")],
)
def test_compare_matches_rsatoolbox(pair, ours, oracle):
    a, b = rdm_pairs()[pair]
    expected = rsa_compare(a, b, oracle)
    assert compare(torch.from_numpy(a), torch.from_numpy(b), ours) == pytest.approx(expected, abs=1e-6)
    # the upper-triangle vector form gives the same
    assert compare(upper(torch.from_numpy(a)), upper(torch.from_numpy(b)), ours) == pytest.approx(
        expected, abs=1e-6
    )


def test_kendall_a_equals_scipy_without_ties_on_a_large_rdm():
    # 600 items: 179 700 dissimilarities, far beyond an O(n²) pair loop
    rng = np.random.default_rng(2)
    a = rng.normal(size=179_700)
    b = a + 2 * rng.normal(size=a.size)
    expected = scipy.stats.kendalltau(a, b).statistic  # tau-b equals tau-a without ties
    assert compare(torch.from_numpy(a), torch.from_numpy(b), "kendall_a") == pytest.approx(expected, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=0, max_size=40))
def test_count_inversions_equals_brute_force(values):
    v = torch.tensor(values, dtype=torch.int64)
    n = len(values)
    brute = sum(values[i] > values[j] for i in range(n) for j in range(i + 1, n))
    assert count_inversions(v) == brute


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=30))
def test_rankdata_equals_scipy(values):
    v = torch.tensor(values, dtype=torch.float64)
    assert np.allclose(rankdata(v).numpy(), scipy.stats.rankdata(values))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_equals_cpu():
    x = torch.from_numpy(datasets()["digits"])
    for metric in ("correlation", "cosine", "euclidean", "sqeuclidean"):
        on_gpu = rdm(x.cuda(), metric)
        assert on_gpu.device.type == "cuda"
        assert torch.allclose(on_gpu.cpu(), rdm(x, metric), atol=1e-9)
    a, b = rdm(x, "correlation"), rdm(x, "euclidean")
    for method in ("pearson", "spearman", "kendall_a", "cosine"):
        assert compare(a.cuda(), b.cuda(), method) == pytest.approx(compare(a, b, method), abs=1e-9)
