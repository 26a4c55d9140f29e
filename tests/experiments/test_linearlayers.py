"""linearlayers: extra linear layers align a weight-decayed ReLU net's input map with the multi-index subspace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import priorlab
from claimcheck import assert_verdicts_consistent, verdict_of
from figcheck import assert_redraws
from priorlab.nets.deeplinear import alignment, input_map, linear_relu

SMALL = {"depths": 1, "control": False, "steps": 1500, "repeats": 5}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return priorlab.run("linearlayers", out=tmp_path_factory.mktemp("l") / "run",
                        root=tmp_path_factory.mktemp("home"), **SMALL)


def test_alignment_with_a_linear_layer_beats_none_on_four_of_five_seeds(small_run):
    align = np.load(small_run.path / "arrays.npz")["alignment"]
    assert align.shape == (2, 5)
    assert (align[1] > align[0]).sum() >= 4
    m = small_run.metrics
    assert {"alignment_L0", "alignment_L1", "test_mse_L0", "test_mse_L1", "alignment_L1_ci_low"} <= set(m)
    assert m["test_mse_L1"] < m["test_mse_L0"]


def test_means_over_seeds_carry_cis_and_n(small_run):
    """Issue 11: every mean over seeds has a bootstrap CI (within the seeds' range) and n; the win count a Wilson
    interval equal to scipy's."""
    from scipy.stats import binomtest

    a, m = np.load(small_run.path / "arrays.npz"), small_run.metrics
    for name, values in (("alignment_L1", a["alignment"][1]), ("test_mse_L0", a["test_mse"][0, 0]),
                         ("tail_L1", a["singular_values"][1, :, 2] / a["singular_values"][1, :, 0])):
        assert m[name] == pytest.approx(values.mean()) and m[f"{name}_n"] == 5
        assert values.min() - 1e-12 <= m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"] <= values.max() + 1e-12
    ref = binomtest(int(m["wins_L1"]), 5).proportion_ci(method="wilson")
    assert m["win_rate_L1"] == m["wins_L1"] / 5 and m["win_rate_L1_n"] == 5
    assert (m["win_rate_L1_ci_low"], m["win_rate_L1_ci_high"]) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_verdicts_follow_the_numbers_and_an_untrained_net_breaks_the_claim(small_run, tmp_path):
    rows = assert_verdicts_consistent(small_run.path)
    assert verdict_of(rows, "win_rate_L1") == "reproduces"
    broken = priorlab.run("linearlayers", out=tmp_path / "b", root=tmp_path / "home", **{**SMALL, "steps": 2})
    assert verdict_of(assert_verdicts_consistent(broken.path), "mse_ratio_L1") == "differs"


def test_figures_are_drawn_again_from_the_arrays(small_run):
    assert assert_redraws(small_run.path) == {"spectrum.png", "alignment.png", "test_mse.png"}
    a, m = small_run.arrays(), small_run.metrics
    # the CI bands the figures draw are the metrics' CIs, per L (control off: no control band)
    assert a["ci_alignment"].shape == (2, 2) and "ci_test_mse_control" not in a
    for depth in range(2):
        assert tuple(a["ci_test_mse"][:, depth]) == (m[f"test_mse_L{depth}_ci_low"], m[f"test_mse_L{depth}_ci_high"])


def test_input_map_is_the_product_of_the_linear_layers():
    net = linear_relu(5, 2, 7, seed=0)
    assert input_map(net).shape == (7, 5)
    assert torch.allclose(input_map(net), net[2].weight @ net[1].weight @ net[0].weight)
    u = torch.linalg.qr(torch.randn(5, 2))[0]
    assert alignment(torch.randn(9, 2) @ u.T, u) == pytest.approx(1.0, abs=1e-5)
