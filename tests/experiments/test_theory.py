"""theory: simulated random networks against the mean-field correlation map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import priorlab
from figcheck import assert_no_figures, assert_redraws
from priorlab import runner
from priorlab.context import RunContext
from priorlab.experiments import theory
from priorlab.nets.deep import deep
from priorlab.probe.capture import capture
from priorlab.sweep.plan import Trial, group_trials
from priorlab.theory.meanfield import correlation_map


def test_acceptance_tanh_within_005_at_every_layer(tmp_path):
    """Issue 3, acceptance 3: width 2000, 16 nets, 20 layers, every layer within 0.05 of the prediction."""
    run = priorlab.run(
        "theory",
        out=tmp_path / "t",
        root=tmp_path / "runs",
        activations=["tanh"],
        sigma_ws=[1.5, 2.5],
        sigma_bs=[0.0, 0.3],
        c0s=[0.5, 0.9],
        q0=1.0,
        width=2000,
        repeats=16,
        depth=20,
    )
    assert run.status == "done"
    a = run.arrays()
    assert a["empirical"].shape == (1, 4, 2, 16, 20)
    assert np.abs(a["empirical"].mean(3) - a["theory"]).max() < 0.05
    assert run.metrics["max_abs_dev"] < 0.05
    # Guest & Love's weight scales, in fan-in units: σ_w = 10 is chaotic, σ_w = 1 critical for tanh;
    # the map predicts the paper's deep-net smoothness at distortion level 19 (≈ 0.04 vs ≈ 0.67, Fig. 2A)
    m = run.metrics
    assert m["gl_unit_chi1"] > 1 and m["gl_fanin_chi1"] == pytest.approx(1, abs=1e-6)
    assert m["gl_unit_c_layer8"] < 0.1 and m["gl_fanin_c_layer8"] > 0.6


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_shortcut_matches_explicit_deep_nets(activation):
    """simulate() (products drawn from their joint Gaussian) and explicit deep() nets agree with the theory."""
    width, depth, sw, sb, c0, nets = 400, 10, 2.0, 0.3, 0.5, 32
    gen = torch.Generator().manual_seed(0)
    pre = [f"layer{i + 1}.linear" for i in range(depth)]
    explicit, shortcut = [], []
    for n in range(nets):
        x = theory.input_pair(c0, 1.0, width, gen)
        net = deep(width, depth, activation, bias=True, init="fan-in", gain=sw, bias_std=sb, seed=n).double()
        acts = capture(net, x, layers=pre)
        explicit.append([theory.uncentred_corr(acts[name]).item() for name in pre])
        shortcut.append(theory.simulate(activation, [sw], [sb], x[None], depth, gen)[0, 0].numpy())
    predicted = correlation_map(activation, sw, sb, depth, c0)
    np.testing.assert_allclose(np.mean(explicit, 0), predicted, atol=0.05)
    np.testing.assert_allclose(np.mean(shortcut, 0), predicted, atol=0.05)


def test_gaussian_matmul_covariance():
    """Products with one shared N(0, 1/width) matrix have covariance V Vᵀ / width, even for rows of very different norm."""
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(3, 50, dtype=torch.float64, generator=gen) * torch.tensor(
        [[1.0], [1e6], [1e-3]], dtype=torch.float64
    )
    draws = torch.stack([theory.gaussian_matmul(v, gen) for _ in range(400)])  # [400, 3, width]
    samples = draws.permute(0, 2, 1).reshape(-1, 3)  # each unit of each draw is one sample
    scale = v.norm(dim=1)
    emp = np.cov((samples / scale).T.numpy())
    expected = ((v / scale[:, None]) @ (v / scale[:, None]).T / 50).numpy()
    np.testing.assert_allclose(emp, expected, atol=0.01)


SMALL = {"activations": ["tanh", "relu"], "sigma_ws": [1.0, 2.0], "sigma_bs": [0.0, 0.3], "c0s": [0.5],
         "width": 16, "depth": 3, "repeats": 3}
PER_NET = 2 * 3 * (4 * 1 * 2 + 1) * 16  # random numbers of one SMALL network: activations × depth × (rows + 1) × width


def _ctx(tmp_path, name: str, seed: int) -> RunContext:
    return RunContext(folder=tmp_path / name, seed=seed, device=torch.device("cpu"), quiet=True, figure_mode="none")


@pytest.mark.parametrize("max_draws", [theory.MAX_DRAWS, 2 * PER_NET])  # every network in one batch / two at a time
def test_run_many_equals_one_by_one_runs(tmp_path, monkeypatch, max_draws):
    """Networks of several seeds in shared batches (also batches that span two seeds) give each seed's own run."""
    monkeypatch.setattr(theory, "MAX_DRAWS", max_draws)
    seeds = [0, 4, 9]
    cfgs = [theory.Config(**SMALL, seed=s) for s in seeds]
    alone = [_ctx(tmp_path, f"a{s}", s) for s in seeds]
    expected = [theory.run(c, ctx) for c, ctx in zip(cfgs, alone)]
    ctxs = [_ctx(tmp_path, f"b{s}", s) for s in seeds]
    got = list(theory.run_many(cfgs, ctxs))
    assert len(got) == 3 and got[0] != got[1]
    for want, have, a, b in zip(expected, got, alone, ctxs):
        assert have == pytest.approx(want, rel=1e-9, abs=1e-12) and have.keys() == want.keys()
        np.testing.assert_allclose(b.arrays["empirical"], a.arrays["empirical"], rtol=1e-9, atol=1e-12)
        assert [(t, len(rows)) for t, rows in b.tables] == [(t, len(rows)) for t, rows in a.tables]
    assert all(c.shared == {"measure_s": 3} for c in ctxs)


def test_batched_networks_equal_one_network_at_a_time():
    """propagate over a batch of networks equals simulate() network by network on the same draws."""
    cfg = theory.Config(**SMALL)
    gen = torch.Generator().manual_seed(3)
    draws = [theory.network_draws(cfg, 8, gen) for _ in range(3)]
    x = torch.stack([d[0] for d in draws])
    z = torch.stack([d[1]["tanh"][0] for d in draws], 1)
    beta = torch.stack([d[1]["tanh"][1] for d in draws], 1)
    batched = theory.propagate("tanh", cfg.sigma_ws, cfg.sigma_bs, x, z, beta)
    for n, d in enumerate(draws):
        one = theory.propagate("tanh", cfg.sigma_ws, cfg.sigma_bs, d[0][None], d[1]["tanh"][0][:, None],
                               d[1]["tanh"][1][:, None])[0]
        torch.testing.assert_close(batched[n], one, rtol=1e-12, atol=1e-12)


def test_a_sweep_over_seeds_is_one_run_many_call(home, monkeypatch):
    seeds = [0, 1, 2]
    values = [{**SMALL, "seed": s} for s in seeds]
    trials = [Trial(f"seed={s}", v) for s, v in zip(seeds, values)]
    assert len(group_trials("theory", trials, workers=1)) == 1
    calls = []
    batched = theory.run_many
    monkeypatch.setattr(theory, "run_many", lambda cfgs, ctxs: calls.append(len(cfgs)) or batched(cfgs, ctxs))
    monkeypatch.setattr(theory, "run", lambda *a: pytest.fail("run_many fell back to one run per trial"))
    runs = runner.run_batch("theory", values, trial_keys=[t.key for t in trials], figures="none")
    assert calls == [3] and [r.status for r in runs] == ["done"] * 3
    monkeypatch.undo()
    alone = priorlab.run("theory", **values[1], figures="none")
    assert runs[1].metrics == pytest.approx(alone.metrics, rel=1e-9, abs=1e-12)
    assert_no_figures(runs[1].path)


def test_input_pair_is_exact():
    x = theory.input_pair(0.3, 2.0, 100, torch.Generator().manual_seed(0))
    assert (x**2).mean(1).numpy() == pytest.approx([2.0, 2.0])
    assert theory.uncentred_corr(x).item() == pytest.approx(0.3)


def test_bad_correlation_names_the_key(cli):
    res = cli(["run", "theory", "--set", "c0s=0.5,1.5"])
    assert res.code == 2 and "c0s" in res.err
    res = cli(["run", "theory", "--set", "activations=swish"])
    assert res.code == 2 and "activations" in res.err
    for key, bad in (("sigma_ws", "0"), ("sigma_ws", "60"), ("sigma_bs", "-0.1"), ("sigma_bs", "11")):
        res = cli(["run", "theory", "--set", f"{key}={bad}"])
        assert res.code == 2 and key in res.err and len(res.err.strip().splitlines()) == 1
    res = cli(["run", "theory", "--set", "nets=4"])
    assert res.code == 2 and "renamed to 'repeats'" in res.err


from claimcheck import check_rows as _consistent  # noqa: E402


def test_theory_verdicts(tmp_path):
    import json

    import priorlab

    run = priorlab.run("theory", out=tmp_path / "q", root=tmp_path / "runs")  # the quick default
    rows = json.loads((run.path / "verdict.json").read_text())
    _consistent(rows)
    assert all(r["verdict"] == "reproduces" for r in rows), rows
    assert assert_redraws(run.path) == {"correlation_map.png", "phase_diagram.png"}
    # a narrow net strays from the mean-field map (a large-width theory)
    narrow = priorlab.run("theory", out=tmp_path / "n", root=tmp_path / "runs", width=10, repeats=2)
    flipped = json.loads((narrow.path / "verdict.json").read_text())
    _consistent(flipped)
    assert flipped[0]["metric"] == "max_abs_dev" and flipped[0]["verdict"] == "differs"


def test_relu_without_bias_draws_one_panel():
    import numpy as np

    from priorlab.theory.meanfield import correlation_map
    from priorlab.viz.theory import distinct_panels

    settings = [(1.0, 0.0), (2.0, 0.0), (1.0, 0.3)]
    theory = np.array([[correlation_map("relu", sw, sb, 5, 0.5, 1.0)] for sw, sb in settings])
    assert distinct_panels(theory, settings) == [(0, [1]), (2, [])]
