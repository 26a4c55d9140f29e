"""rvfl: random features with a closed-form ridge readout; error vs number of units (acceptance item 6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import priorlab
from batchcheck import run_seed_group
from claimcheck import assert_verdicts_consistent, verdict_of
from figcheck import assert_no_figures, assert_redraws
from priorlab.config import UserError, build_config
from priorlab.context import RunContext
from priorlab.data.functions import target_function
from priorlab.experiments import rvfl
from priorlab.experiments.rvfl import TARGETS_2D, Config, claims, curve, slope
from priorlab.stats.claims import evaluate


def test_defaults_are_the_study_setting():
    cfg = Config()
    assert cfg.n_train == 2000 and cfg.lam <= 1e-6 and cfg.units[0] == 8 and cfg.units[-1] == 512
    full = build_config(Config, {"scale": "full"})
    assert full.repeats == 10 and full.units[0] == 8 and full.units[-1] == 512


def test_smooth_noiseless_1d_slope_at_most_minus_one():
    """Acceptance 6: the fitted log–log slope of test MSE vs units (8…512) is ≤ −1 (Needell et al.'s O(1/n))."""
    cfg = Config(repeats=2)
    _, f = target_function(cfg.target_1d)
    mse, _ = curve(cfg, 1, lambda x: f(x[:, 0]), 0.0, seed=0)
    assert slope(cfg.units, mse) <= -1.0


def test_noisy_targets_floor_at_the_absorbed_noise():
    """With noisy training targets the error stops falling: at many units it sits near σ²·dof/N (least squares
    theory for the noise a linear fit with dof degrees of freedom absorbs), far above the noiseless error."""
    cfg = Config(units=[64, 256], repeats=2, noise=0.1)
    f = TARGETS_2D["sincos"][1]
    clean, _ = curve(cfg, 2, f, 0.0, seed=0)
    noisy, dof = curve(cfg, 2, f, cfg.noise, seed=0)
    floor = cfg.noise**2 * dof.mean(0) / cfg.n_train
    assert np.all(noisy.mean(0) > 10 * clean.mean(0))
    assert 0.5 < noisy.mean(0)[-1] / floor[-1] < 2.0


def test_run_writes_metrics_and_figures(tmp_path):
    run = priorlab.run(
        "rvfl",
        out=tmp_path / "run",
        root=tmp_path / "home",
        units=[8, 16, 32],
        repeats=1,
        n_train=300,
        n_test=200,
    )
    assert run.status == "done"
    assert {"slope_1d", "slope_2d", "mse_1d_noisy_n32", "noise_term_2d_noisy_n32"} <= set(run.metrics)
    assert run.metrics["slope_1d"] < 0
    assert {p.name for p in run.figures} == {"scaling.png", "fits.png"}
    assert assert_redraws(run.path) == {"scaling.png", "fits.png"}
    arrays = run.arrays()
    assert arrays["mse_1d"].shape == (1, 3)
    rows = assert_verdicts_consistent(run.path)
    assert verdict_of(rows, "slope_1d") == "reproduces" and len(rows) == 4
    # nearly linear features (tanh of tiny inputs): adding units adds no new functions, the error stops falling
    flat = priorlab.run("rvfl", out=tmp_path / "flat", root=tmp_path / "home", units=[8, 16, 32], repeats=1,
                        n_train=300, n_test=200, feature_scale=0.01)
    rows = assert_verdicts_consistent(flat.path)
    assert verdict_of(rows, "slope_1d") == "differs" and verdict_of(rows, "slope_2d") == "differs"


SMALL = {"units": [8, 16], "n_train": 60, "n_test": 30}


def _ctxs(tmp_path, cfgs, tag):
    return [RunContext(folder=tmp_path / f"{tag}{i}", seed=c.seed, device=torch.device("cpu"), quiet=True,
                       figure_mode="none") for i, c in enumerate(cfgs)]


def test_run_many_equals_one_by_one_and_fits_each_draw_once(tmp_path, monkeypatch):
    """A group of trials that differ in seed and repeats gives each trial the metrics and arrays of its own run()
    (float64 throughout), and fits each (curve, seed) draw once: seeds 0+{0,1}, 1+{0,1}, 1+{0,1,2} are 4 draws."""
    cfgs = [Config(seed=0, repeats=2, **SMALL), Config(seed=1, repeats=2, **SMALL), Config(seed=1, repeats=3, **SMALL)]
    alone = _ctxs(tmp_path, cfgs, "one")
    one = [rvfl.run(c, ctx) for c, ctx in zip(cfgs, alone)]
    seen, real = [], rvfl.curve_draw

    def counted(cfg, d, f, noise, seed):
        seen.append(seed)
        return real(cfg, d, f, noise, seed)

    monkeypatch.setattr(rvfl, "curve_draw", counted)
    together = _ctxs(tmp_path, cfgs, "many")
    many = list(rvfl.run_many(cfgs, together))
    assert sorted(seen) == sorted([0, 1, 2, 3] * len(rvfl.curves_of(cfgs[0])))
    for a, b, ca, cb in zip(one, many, alone, together):
        assert set(a) == set(b) and all(b[k] == pytest.approx(v, rel=1e-12, abs=0) for k, v in a.items())
        assert set(ca.arrays) == set(cb.arrays)
        for k, v in ca.arrays.items():
            np.testing.assert_allclose(cb.arrays[k], v, rtol=1e-12, err_msg=k)
        assert ca.tables == cb.tables
    assert one[0] != one[1]  # different seeds: different draws


def test_a_seed_sweep_is_one_group_and_one_run_many_call(tmp_path, monkeypatch):
    runs = run_seed_group("rvfl", {**SMALL, "repeats": 2}, [0, 1, 2], monkeypatch, root=tmp_path / "home")
    assert runs[0].env["timing"]["shared"]["train_s"] == {"split_evenly_over": 3}
    assert_no_figures(runs[1].path)


def test_claims_follow_the_config():
    m = {"slope_1d": -3.0, "slope_2d": -0.5, "mse_1d_noisy_n512": 1.0, "noise_term_1d_noisy_n512": 1.0}
    rows = {r["metric"]: r for r in evaluate(claims(Config()), m)}
    assert rows["slope_1d"]["verdict"] == "reproduces" and rows["slope_2d"]["verdict"] == "differs"
    assert rows["mse_1d_noisy_n512 / noise_term_1d_noisy_n512"]["verdict"] == "reproduces"
    rows = {r["metric"]: r for r in evaluate(claims(Config(lam=1e-3, noise=0)), m)}
    assert rows["slope_1d"]["verdict"] == "not tested at this scale" and "λ = 0.001" in rows["slope_1d"]["note"]
    assert rows["mse_1d_noisy_n512 / noise_term_1d_noisy_n512"]["verdict"] == "not tested at this scale"


def test_bad_input_names_the_key():
    with pytest.raises(UserError, match="units"):
        priorlab.run("rvfl", units=[0, 8])
    with pytest.raises(UserError, match="lam"):
        priorlab.run("rvfl", lam=-1)
    with pytest.raises(UserError, match="target_1d"):
        priorlab.run("rvfl", target_1d="__import__('os')")


@pytest.mark.slow
def test_full_scale_slopes(tmp_path):
    run = priorlab.run("rvfl", out=tmp_path / "run", root=tmp_path / "home", scale="full")
    assert run.metrics["slope_1d"] <= -1.0 and run.metrics["slope_2d"] <= -1.0
    assert math.isfinite(run.metrics["mse_2d_noisy_n512"])
