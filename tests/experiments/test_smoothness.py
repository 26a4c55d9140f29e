"""smoothness: Guest & Love (2017) Figure 2A against the paper's numbers and the identity's closed form."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import priorlab
from figcheck import assert_no_figures, assert_redraws
from priorlab import runner
from priorlab.context import RunContext
from priorlab.experiments import smoothness
from priorlab.sweep.plan import Trial, group_trials

PAPER_MODEL1_LEVEL19 = 1 / np.sqrt(1 + 0.95**2)  # 0.725, quoted in the paper


@pytest.fixture(scope="module")
def unit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smooth") / "unit"
    return priorlab.run("smoothness", out=out, root=out.parent / "runs", seed=3)


def test_unit_weights_reproduce_the_paper(unit_run):
    m = unit_run.metrics
    assert unit_run.status == "done"
    assert abs(m["r_level19_model1"] - 0.725) < 0.01
    deep = [m[f"r_level19_model{k}"] for k in range(4, 12)]
    assert all(a > b for a, b in itertools.pairwise(deep)), deep  # monotonic from model 4 to model 11
    assert m["r_level19_model11"] < 0.1
    assert abs(m["r_level19_model4"] - 0.57) < 0.03  # the paper's "≈ 0.57"


def test_identity_follows_closed_form_at_every_level(unit_run):
    a = unit_run.arrays()
    expected = 1 / np.sqrt(1 + a["noise_sd"] ** 2)
    np.testing.assert_allclose(a["r"][0], expected, atol=0.01)
    assert a["r"].shape == (11, 20) and a["r_runs"].shape == (11, 10, 20)


def test_means_over_runs_carry_bootstrap_cis(unit_run):
    """Issue 11: every r at the last level is a mean over the runs with its 95% bootstrap CI and n; the arrays hold
    the CI at every level, and it equals scipy's percentile bootstrap of the per-run values to within its noise."""
    import scipy.stats

    m, a = unit_run.metrics, unit_run.arrays()
    for k in range(1, 12):
        name = f"r_level19_model{k}"
        assert m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"] and m[f"{name}_n"] == 10
        assert m[name] == pytest.approx(a["r_runs"][k - 1, :, 19].mean(), abs=1e-12)
    for k in (4, 11):
        assert m[f"r_level19_model{k}_fanin_ci_low"] <= m[f"r_level19_model{k}_fanin_ci_high"]
    assert a["r_ci_low"].shape == a["r_ci_high"].shape == (11, 20)
    assert (a["r_ci_low"] <= a["r"] + 1e-12).all() and (a["r"] <= a["r_ci_high"] + 1e-12).all()
    runs = a["r_runs"][3, :, 10]
    ref = scipy.stats.bootstrap((runs,), np.mean, n_resamples=10000, method="percentile", rng=0).confidence_interval
    width = ref.high - ref.low
    assert abs(a["r_ci_low"][3, 10] - ref.low) < 0.1 * width and abs(a["r_ci_high"][3, 10] - ref.high) < 0.1 * width


def test_one_run_has_no_interval(tmp_path):
    run = priorlab.run("smoothness", out=tmp_path / "one", root=tmp_path / "runs", repeats=1, prototypes=10)
    m = run.metrics
    assert m["r_level19_model4_n"] == 1 and "r_level19_model4_ci_low" not in m
    assert "r_ci_low" not in run.arrays()


def test_fan_in_weights_keep_deep_nets_smooth(tmp_path):
    run = priorlab.run("smoothness", out=tmp_path / "fan", root=tmp_path / "runs", init="fan-in", repeats=5)
    assert run.metrics["r_level19_model11"] > 0.6


def test_draw_redraws_the_figures_from_the_arrays(unit_run):
    assert assert_redraws(unit_run.path) == {"smoothness.png", "last_level.png"}


SMALL = {"repeats": 3, "prototypes": 6, "dim": 8, "levels": 5, "chunk": 2}  # chunks of 2 and 1 runs


def _ctx(tmp_path, name: str, seed: int) -> RunContext:
    return RunContext(folder=tmp_path / name, seed=seed, device=torch.device("cpu"), quiet=True, figure_mode="none")


@pytest.mark.parametrize("max_batch", [smoothness.MAX_BATCH, 2 * 2 * 6 * 5 * 8])  # all seeds stacked / two at a time
def test_run_many_equals_one_by_one_runs(tmp_path, monkeypatch, max_batch):
    """Seeds stacked in one batch give each seed's own run: the same draws, metrics and arrays (float64)."""
    monkeypatch.setattr(smoothness, "MAX_BATCH", max_batch)
    seeds = [0, 5, 7]
    cfgs = [smoothness.Config(**SMALL, seed=s) for s in seeds]
    alone = [_ctx(tmp_path, f"a{s}", s) for s in seeds]
    expected = [smoothness.run(c, ctx) for c, ctx in zip(cfgs, alone)]
    ctxs = [_ctx(tmp_path, f"b{s}", s) for s in seeds]
    got = list(smoothness.run_many(cfgs, ctxs))
    assert len(got) == 3 and got[0] != got[1]  # the seeds differ
    for want, have, a, b in zip(expected, got, alone, ctxs):
        assert have.keys() == want.keys()
        assert have == pytest.approx(want, rel=1e-9, abs=1e-12)
        for name, arr in a.arrays.items():
            np.testing.assert_allclose(b.arrays[name], arr, rtol=1e-9, atol=1e-12)
    assert all(c.shared == {"measure_s": 3} for c in ctxs)


def test_a_sweep_over_seeds_is_one_run_many_call(home, monkeypatch):
    seeds = [0, 1, 2, 3]
    values = [{**SMALL, "seed": s} for s in seeds]
    trials = [Trial(f"seed={s}", v) for s, v in zip(seeds, values)]
    assert len(group_trials("smoothness", trials, workers=1)) == 1
    calls = []
    batched = smoothness.run_many
    monkeypatch.setattr(smoothness, "run_many", lambda cfgs, ctxs: calls.append(len(cfgs)) or batched(cfgs, ctxs))
    monkeypatch.setattr(smoothness, "run", lambda *a: pytest.fail("run_many fell back to one run per trial"))
    runs = runner.run_batch("smoothness", values, trial_keys=[t.key for t in trials], figures="none")
    assert calls == [4] and [r.status for r in runs] == ["done"] * 4
    monkeypatch.undo()
    alone = priorlab.run("smoothness", **values[2], figures="none")
    assert runs[2].metrics == pytest.approx(alone.metrics, rel=1e-9, abs=1e-12)
    assert_no_figures(runs[2].path)


def test_pearson_matches_numpy():
    h = torch.randn(3, 5, 7, dtype=torch.float64)
    r = smoothness.pearson_to_level0(h)
    for i in range(3):
        for k in range(5):
            assert r[i, k].item() == pytest.approx(np.corrcoef(h[i, 0], h[i, k])[0, 1], abs=1e-12)


def test_remap_and_zscore():
    x = torch.randn(4, 50, dtype=torch.float64) * 3 + 2
    z = smoothness.zscore(x)
    np.testing.assert_allclose(z.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(-1, correction=0), 1, atol=1e-12)
    r = smoothness.remap(z)
    np.testing.assert_allclose(r.amin(-1), -1, atol=1e-12)
    np.testing.assert_allclose(r.amax(-1), 1, atol=1e-12)


def test_same_seed_same_metrics(tmp_path):
    a = priorlab.run("smoothness", out=tmp_path / "a", root=tmp_path / "runs", repeats=2, prototypes=10)
    b = priorlab.run("smoothness", out=tmp_path / "b", root=tmp_path / "runs", repeats=2, prototypes=10)
    assert a.metrics == b.metrics


def test_bad_value_names_the_key(cli):
    res = cli(["run", "smoothness", "--set", "init=big"])
    assert res.code == 2 and "init" in res.err
    res = cli(["run", "smoothness", "--set", "repeats=0"])
    assert res.code == 2 and "repeats" in res.err


@pytest.mark.parametrize("old,new", [("runs", "repeats"), ("weights", "init")])
def test_renamed_keys_point_to_the_new_name(cli, old, new):
    res = cli(["run", "smoothness", "--set", f"{old}=5"])
    assert res.code == 2 and f"renamed to '{new}'" in res.err


@pytest.mark.slow
def test_full_scale_paper_numbers(tmp_path):
    run = priorlab.run("smoothness", out=tmp_path / "full", root=tmp_path / "runs", scale="full")
    m = run.metrics
    assert abs(m["r_level19_model1"] - PAPER_MODEL1_LEVEL19) < 0.005
    assert abs(m["r_level19_model11"] - 0.04) < 0.02


from claimcheck import check_rows as _consistent  # noqa: E402


def test_verdicts_follow_the_config(tmp_path):
    import json

    run = priorlab.run("smoothness", out=tmp_path / "u", root=tmp_path / "runs")  # the quick default
    rows = json.loads((run.path / "verdict.json").read_text())
    _consistent(rows)
    assert {r["verdict"] for r in rows} == {"reproduces", "not tested at this scale"}
    assert sum(r["verdict"] == "reproduces" for r in rows) == 5
    # fan-in weights: the unit claims do not apply, the fan-in claim does
    fan = {c.claim: c.applies for c in smoothness.claims(smoothness.Config(init="fan-in"))}
    assert [k for k, v in fan.items() if v is True and "1/fan_in" in k] and not any(
        v is True for k, v in fan.items() if k.startswith("N(0, 1) weights"))
    # a narrower net (σ_w = √10 instead of 10) is less chaotic: the 8-layer net keeps more than the study's 0.04
    narrow = priorlab.run("smoothness", out=tmp_path / "n", root=tmp_path / "runs", dim=10, repeats=3)
    flipped = {r["claim"]: r["verdict"] for r in json.loads((narrow.path / "verdict.json").read_text())}
    assert flipped["N(0, 1) weights: the 8-layer net (model 11) falls to r ≈ 0.04 at k = 19"] == "differs"
