"""The `regimes` experiment: one architecture and task under every regime (small sizes; the default run is slow)."""

from __future__ import annotations

import pytest

import priorlab
from priorlab.config import UserError
from priorlab.experiments.regimes import ALL_REGIMES

SMALL = {"width": 16, "depth": 2, "epochs": 3, "steps": 150, "n_train": 50}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return priorlab.run(
        "regimes", out=tmp_path_factory.mktemp("r") / "run", root=tmp_path_factory.mktemp("home"), **SMALL
    )


def test_every_regime_reported_with_hand_counted_parameters(small_run):
    m = small_run.metrics
    assert small_run.status == "done"
    for r in ALL_REGIMES:
        assert {f"acc_{r}", f"mse_{r}", f"trainable_{r}", f"seconds_digits_{r}"} <= set(m)
    # 64 -> 16 -> 16 -> 10 with biases, counted by hand
    full = (64 * 16 + 16) + (16 * 16 + 16) + (16 * 10 + 10)
    assert m["trainable_full"] == full
    assert m["trainable_frozen"] == 0
    assert m["trainable_bias_only"] == 16 + 16 + 10
    assert m["trainable_readout"] == m["trainable_readout_ridge"] == 16 * 10 + 10
    assert (
        m["trainable_mask"] == m["trainable_permute"] == 64 * 16 + 16 * 16 + 16 * 10
    )  # one score per weight
    assert {p.name for p in small_run.figures} == {"regimes.png", "fits.png"}


def test_learning_beats_initialisation(small_run):
    m = small_run.metrics
    assert m["acc_full"] > m["acc_frozen"] + 0.3  # digits: 10 classes
    assert m["mse_full"] < m["mse_frozen"]
    assert m["mse_readout_ridge"] < m["mse_frozen"]


def test_bad_regime_is_a_user_error():
    with pytest.raises(UserError, match="regimes"):
        priorlab.run("regimes", regimes=["full", "bogus"])
    with pytest.raises(UserError, match="target"):
        priorlab.run("regimes", target="import os")
    with pytest.raises(UserError, match="regimes"):
        priorlab.run("regimes", regimes=["full", "full"])


def test_cli_rejects_bad_width(cli):
    res = cli(["run", "regimes", "--set", "width=0"])
    assert res.code == 2 and "width" in res.err


@pytest.mark.slow
def test_default_run(tmp_path):
    run = priorlab.run("regimes", out=tmp_path / "run", root=tmp_path / "home")
    assert run.status == "done"
    assert run.metrics["acc_full"] > 0.9
