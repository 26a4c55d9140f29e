"""The interval helpers experiments use for repeated runs: with_ci, with_wilson and mean_cis."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from priorlab.errors import UserError
from priorlab.stats.intervals import ci_text, mean_ci, mean_cis, with_ci, with_wilson


def test_with_ci_writes_mean_ci_and_n():
    values = np.random.default_rng(0).normal(0.4, 0.2, size=8)
    m = with_ci({}, "acc", values, seed=2)
    assert set(m) == {"acc", "acc_ci_low", "acc_ci_high", "acc_n"}
    assert m["acc"] == pytest.approx(values.mean()) and m["acc_n"] == 8
    assert m["acc_ci_low"] <= m["acc"] <= m["acc_ci_high"]
    assert (m["acc_ci_low"], m["acc_ci_high"]) == tuple(mean_ci(values, seed=2))[1:]


def test_with_ci_one_value_has_no_interval():
    m = with_ci({}, "acc", [0.7])
    assert m == {"acc": 0.7, "acc_n": 1}


def test_with_ci_refuses_nan():
    with pytest.raises(UserError, match="gap"):
        with_ci({}, "gap", [0.1, float("nan")])


@pytest.mark.parametrize("k,n", [(0, 8), (3, 10), (10, 10), (7, 32)])
def test_with_wilson_equals_scipy(k, n):
    ref = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    m = with_wilson({}, "success_rate", k, n)
    assert m["success_rate"] == k / n and m["success_rate_n"] == n
    assert m["success_rate_ci_low"] == pytest.approx(ref.low, abs=1e-12)
    assert m["success_rate_ci_high"] == pytest.approx(ref.high, abs=1e-12)


def test_mean_cis_equals_mean_ci_column_by_column():
    values = np.random.default_rng(1).uniform(size=(6, 3, 4))
    got = mean_cis(values, n_boot=3000, seed=5)
    assert got.value.shape == got.low.shape == got.high.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            ref = mean_ci(values[:, i, j], n_boot=3000, seed=5)
            assert got.value[i, j] == pytest.approx(ref.value, abs=1e-12)
            assert got.low[i, j] == pytest.approx(ref.low, abs=1e-12)
            assert got.high[i, j] == pytest.approx(ref.high, abs=1e-12)


def test_mean_cis_covers_a_known_mean():
    """95% intervals of the mean of 20 draws of N(0.3, 1) cover 0.3 in about 95% of 200 independent samples
    (the percentile bootstrap runs a little narrow at n = 20: accept 0.88-0.99)."""
    samples = np.random.default_rng(7).normal(0.3, 1.0, size=(20, 200))
    ci = mean_cis(samples, n_boot=2000, seed=0)
    coverage = ((ci.low <= 0.3) & (0.3 <= ci.high)).mean()
    assert 0.88 <= coverage <= 0.99, coverage
    assert (ci.low <= ci.value).all() and (ci.value <= ci.high).all()


def test_mean_cis_needs_two_rows():
    with pytest.raises(UserError, match="at least 2 rows"):
        mean_cis(np.ones((1, 5)))


def test_ci_text():
    m = {"r": 0.5, "r_ci_low": 0.41, "r_ci_high": 0.6, "r_n": 10, "one": 0.25, "one_n": 1}
    assert ci_text(m, "r") == "0.500 [0.410, 0.600] (n = 10)"
    assert ci_text(m, "one", digits=2) == "0.25 (n = 1)"
