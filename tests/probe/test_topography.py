"""Topography measures: spatial variance against numpy's weighted covariance and closed forms; TDANN smoothness
on maps with and without topography; the paired t-test against scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from priorlab.probe import topography as topo


def test_spatial_variance_matches_weighted_covariance():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(6, 5, 4))
    got = topo.spatial_variance(maps)
    pos = topo.grid_positions((5, 4))
    for m, v in zip(maps, got):
        w = np.clip(m.ravel(), 0, None)
        cov = np.cov(pos.T, aweights=w, bias=True)
        assert v == pytest.approx(np.trace(cov))


def test_spatial_variance_closed_forms():
    # uniform on an n x n grid: 2 (n² − 1) / 12 ; a single active unit: 0 ; two opposite corners of 7x7: 2·3²·2/... = 18
    assert topo.spatial_variance(np.ones((7, 7))) == pytest.approx(2 * (49 - 1) / 12)
    delta = np.zeros((7, 7))
    delta[2, 5] = 3.0
    assert topo.spatial_variance(delta) == pytest.approx(0.0)
    corners = np.zeros((7, 7))
    corners[0, 0] = corners[6, 6] = 1.0
    assert topo.spatial_variance(corners) == pytest.approx(2 * 3.0**2)


def test_spatial_variance_clips_negatives_scales_and_flat_input():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(3, 49))
    a = topo.spatial_variance(m, (7, 7))
    assert np.allclose(a, topo.spatial_variance(np.clip(m, 0, None), (7, 7)))
    assert np.allclose(a, topo.spatial_variance(5.0 * m, (7, 7)))
    assert np.allclose(a, topo.spatial_variance(torch.tensor(m).reshape(3, 7, 7)))
    assert np.isnan(topo.spatial_variance(-np.ones(49), (7, 7)))
    with pytest.raises(ValueError, match="units"):
        topo.spatial_variance(m, (6, 6))


def test_class_means():
    acts = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    labels = np.array([0, 0, 2])
    cm = topo.class_means(acts, labels)
    assert np.allclose(cm[0], [2.0, 1.0]) and np.isnan(cm[1]).all() and np.allclose(cm[2], [5.0, 5.0])


def test_smoothness_of_a_topographic_map_beats_shuffled():
    pos = topo.grid_positions((8, 8))
    smooth_pref = pos[:, 1]  # preference grows along the columns
    s = topo.smoothness(smooth_pref, pos, shuffles=20, seed=0)
    assert s.curve[0] < s.curve[-1]
    assert s.value > 0.7
    assert s.shuffled < 0.2 and s.value > s.shuffled_values.max()


def test_smoothness_without_topography_is_near_chance():
    rng = np.random.default_rng(3)
    pos = topo.grid_positions((8, 8))
    s = topo.smoothness(rng.normal(size=64), pos, shuffles=50, seed=1)
    assert s.value < np.quantile(s.shuffled_values, 0.99) + 0.05


def test_tuning_curve_differences_are_one_minus_pearson():
    rng = np.random.default_rng(4)
    tuning = rng.normal(size=(6, 10))
    d = topo.preference_differences(tuning)
    assert np.allclose(d, 1 - np.corrcoef(tuning))
    tuning[2] = 1.0  # a flat (dead) unit has no preference
    assert np.isnan(topo.preference_differences(tuning)[2]).all()


def test_paired_ttest_matches_scipy_and_drops_nan_pairs():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=50), rng.normal(0.3, 1, size=50)
    t, p = topo.paired_ttest(a, b)
    ref = stats.ttest_rel(a, b)
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    a[3], b[7] = np.nan, np.nan
    keep = np.ones(50, bool)
    keep[[3, 7]] = False
    ref = stats.ttest_rel(a[keep], b[keep])
    assert topo.paired_ttest(a, b) == pytest.approx((ref.statistic, ref.pvalue))


def test_sheet_measures_are_the_measures_of_their_parts():
    rng = np.random.default_rng(6)
    maps, labels = rng.random((30, 16)), np.arange(30) % 3
    m = topo.sheet_measures(maps, labels, 3, 4, shuffles=5, seed=2)
    cm = topo.class_means(maps, labels, 3)
    assert np.array_equal(m["class_maps"], cm)
    assert np.array_equal(m["var_image"], topo.spatial_variance(maps, (4, 4)))
    assert np.array_equal(m["var_class"], topo.spatial_variance(cm, (4, 4)))
    ref = topo.smoothness(cm.T, topo.grid_positions((4, 4)), shuffles=5, seed=2)
    assert m["smooth"].value == ref.value and m["smooth"].shuffled == ref.shuffled


def test_finite_mean_skips_nan_and_is_quietly_nan_when_empty():
    assert topo.finite_mean([1.0, np.nan, 3.0, np.inf]) == 2.0
    assert np.isnan(topo.finite_mean([np.nan, np.nan]))
