"""Holm and Benjamini-Hochberg across layers; Wilson and bootstrap-of-the-mean intervals over seeds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from priorlab.stats import correct, mean_ci, wilson


@pytest.mark.parametrize(
    "p,expected",
    [
        # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02 0.03 0.06 0.06
        ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
        ([0.5, 0.3], [0.6, 0.6]),  # 2 x 0.3 = 0.6; 0.5 is lifted to the running maximum
        ([0.6, 0.7], [1.0, 1.0]),  # capped at 1
        ([0.02, 0.02, 0.9], [0.06, 0.06, 0.9]),  # ties
        ([0.2], [0.2]),
    ],
)
def test_holm_by_hand(p, expected):
    np.testing.assert_allclose(correct(p, "holm"), expected, atol=1e-12)


def test_fdr_bh_equals_scipy_and_a_hand_example():
    # ranks 1..4: 0.01*4/1, 0.02*4/2, 0.03*4/3, 0.5 -> 0.04, 0.04, 0.04, 0.5
    np.testing.assert_allclose(correct([0.01, 0.02, 0.03, 0.5], "fdr_bh"), [0.04, 0.04, 0.04, 0.5])
    p = np.random.default_rng(0).uniform(size=30) ** 3
    np.testing.assert_allclose(correct(p, "fdr_bh"), scipy.stats.false_discovery_control(p, method="bh"))
    assert (correct(p, "fdr_bh") <= correct(p, "holm") + 1e-12).all() and (correct(p, "holm") >= p).all()


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (17, 20), (20, 20), (1, 1), (412, 1000)])
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_wilson_equals_scipy(k, n, confidence):
    expected = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    got = wilson(k, n, confidence)
    assert got.value == k / n
    assert got.low == pytest.approx(expected.low, abs=1e-12) and got.high == pytest.approx(expected.high, abs=1e-12)


def test_mean_ci_matches_scipy_percentile_bootstrap():
    values = np.random.default_rng(3).normal(0.7, 0.1, size=12)
    value, low, high = mean_ci(values, n_boot=20000, seed=1)
    ref = scipy.stats.bootstrap((values,), np.mean, n_resamples=20000, method="percentile", rng=2).confidence_interval
    assert value == pytest.approx(values.mean())
    width = ref.high - ref.low
    assert abs(low - ref.low) < 0.05 * width and abs(high - ref.high) < 0.05 * width
    assert mean_ci(values, n_boot=500, seed=4) == mean_ci(values, n_boot=500, seed=4)
