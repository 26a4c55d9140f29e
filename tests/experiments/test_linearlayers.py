"""linearlayers: extra linear layers align a weight-decayed ReLU net's input map with the multi-index subspace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import priorlab
from claimcheck import assert_verdicts_consistent, verdict_of
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


def test_verdicts_follow_the_numbers_and_an_untrained_net_breaks_the_claim(small_run, tmp_path):
    rows = assert_verdicts_consistent(small_run.path)
    assert verdict_of(rows, "wins_L1") == "reproduces"
    broken = priorlab.run("linearlayers", out=tmp_path / "b", root=tmp_path / "home", **{**SMALL, "steps": 2})
    assert verdict_of(assert_verdicts_consistent(broken.path), "mse_ratio_L1") == "differs"


def test_input_map_is_the_product_of_the_linear_layers():
    net = linear_relu(5, 2, 7, seed=0)
    assert input_map(net).shape == (7, 5)
    assert torch.allclose(input_map(net), net[2].weight @ net[1].weight @ net[0].weight)
    u = torch.linalg.qr(torch.randn(5, 2))[0]
    assert alignment(torch.randn(9, 2) @ u.T, u) == pytest.approx(1.0, abs=1e-5)
