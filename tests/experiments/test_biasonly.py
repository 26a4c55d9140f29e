"""biasonly: the network of Williams et al., the cached forward pass, parameter matching, and the width curve."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import priorlab
from batchcheck import run_seed_group
from claimcheck import assert_verdicts_consistent, verdict_of
from figcheck import assert_redraws
from priorlab.context import RunContext
from priorlab.experiments import biasonly
from priorlab.nets.onelayer import FrozenFirstLayer, full_batch, matched_width, one_hidden
from priorlab.regimes import apply, summary
from priorlab.train.loop import fit

# small enough for float64 and a few seeds: both task kinds, every regime, two repeats
SMALL = dict(tasks=["parity", "fit1d"], widths=[8, 32], repeats=2, steps=30, steps_full=20, n_train=20)


def test_initialisation_follows_the_paper():
    net = one_hidden(64, 4096, 10, seed=0)
    assert net[0].weight.std().item() == pytest.approx(1 / 8, rel=0.02)  # N(0, 1/d)
    assert net[2].weight.std().item() == pytest.approx(1 / 64, rel=0.02)  # N(0, 1/N)
    assert net[0].bias.abs().max() == 0 and net[2].bias.abs().max() == 0


@pytest.mark.parametrize("width,d,c", [(16, 64, 10), (4096, 64, 10), (300, 1, 1), (1000, 5, 3)])
def test_matched_width_matches_bias_only_parameter_count(width, d, c):
    bias_only = summary(apply(one_hidden(d, width, c, 0), "bias_only")).trainable
    assert bias_only == width + c  # hand count: b1 and b2
    n = matched_width(width, d, c)
    full = summary(apply(one_hidden(d, n, c, 0), "full")).trainable
    assert full == n * (d + 1 + c) + c
    # the closest width: one unit more or fewer is further from the bias-only count (or n is the minimum 1)
    per_unit = d + 1 + c
    assert abs(full - bias_only) <= per_unit / 2 or (n == 1 and full > bias_only)


def test_cached_first_layer_is_the_same_function_and_gradient():
    torch.manual_seed(0)
    x, y = torch.randn(50, 8), torch.randint(0, 3, (50,))
    net = apply(one_hidden(8, 32, 3, seed=1), "bias_only")
    with torch.no_grad():
        net[0].bias.normal_()
    cached = FrozenFirstLayer(net, x)
    torch.testing.assert_close(cached(), net(x))
    g_cached = torch.autograd.grad(torch.nn.functional.cross_entropy(cached(), y), net[0].bias)[0]
    g_plain = torch.autograd.grad(torch.nn.functional.cross_entropy(net(x), y), net[0].bias)[0]
    torch.testing.assert_close(g_cached, g_plain)


def test_bias_only_training_changes_only_biases():
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    net = apply(one_hidden(4, 64, 2, seed=0), "bias_only")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    forward = full_batch(net, x)
    assert isinstance(forward, FrozenFirstLayer)  # W1 is frozen: its product with x is cached
    losses = fit(net, lambda _: torch.nn.functional.cross_entropy(forward(), y), 50, lr=0.05).losses
    assert losses[-1] < losses[0]
    after = net.state_dict()
    assert torch.equal(before["0.weight"], after["0.weight"]) and torch.equal(
        before["2.weight"], after["2.weight"]
    )
    assert not torch.equal(before["0.bias"], after["0.bias"])


def test_digits_quick_curve(home):
    widths = [16, 128, 1024]
    run = priorlab.run("biasonly", tasks=["digits"], widths=widths, steps=150, repeats=1, seed=0)
    assert run.status == "done"
    m = run.metrics
    bias = [m[f"acc_digits_bias_only_w{w}"] for w in widths]
    assert bias == sorted(bias) and bias[-1] > bias[0] + 0.3
    for w in widths:
        assert m[f"acc_digits_bias_only_w{w}"] <= m[f"acc_digits_full_w{w}"]
        assert m[f"acc_digits_readout_w{w}"] > 0.2  # random features beat chance (0.1)
        assert m[f"gap_digits_w{w}"] == pytest.approx(m[f"acc_digits_full_w{w}"] - m[f"acc_digits_bias_only_w{w}"])
    assert {"width.png", "params.png", "gap.png"} == assert_redraws(run.path)  # draw() from the arrays alone
    arrays = run.arrays()
    assert arrays["scores"].shape == (1, 4, 3, 1)
    assert m["gap_digits_w16_n"] == 1 and "gap_digits_w16_ci_low" not in m  # one seed: no interval


def test_two_tasks_three_seeds_gaps_with_cis_and_verdicts(home):
    """Issue 13: parity and digits, 3 seeds; gap metrics with CIs; the difficulty verdict is computed."""
    run = priorlab.run("biasonly", widths=[16, 256], regimes=["bias_only", "full", "full_matched"], steps=150)
    m = run.metrics
    for task in ("parity", "digits"):
        for w in (16, 256):
            assert m[f"gap_{task}_w{w}_ci_low"] <= m[f"gap_{task}_w{w}"] <= m[f"gap_{task}_w{w}_ci_high"]
            assert m[f"gap_{task}_w{w}_n"] == 3
            for regime in ("bias_only", "full", "full_matched"):  # issue 11: every mean over seeds has its CI
                name = f"acc_{task}_{regime}_w{w}"
                assert m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"] and m[f"{name}_n"] == 3
    assert run.arrays()["scores"].shape == (2, 3, 2, 3)
    rows = assert_verdicts_consistent(run.path)
    assert verdict_of(rows, "gap_difficulty") == "reproduces"  # 10 classes trail by more than 2
    assert verdict_of(rows, "gap_matched_digits_w256") == "differs"  # n = 3 matched units: bias-only wins
    small = priorlab.run("biasonly", tasks=["digits"], widths=[16, 32], regimes=["bias_only", "full"], steps=20,
                         steps_full=20, repeats=1)
    assert verdict_of(assert_verdicts_consistent(small.path), "gap_difficulty") == "not tested at this scale"


@pytest.mark.parametrize("readout_fit", ["ridge", "adam"])
def test_run_many_equals_one_by_one_runs_at_float64(tmp_path, readout_fit):
    """A group of seeds trained as ensembles (one per task, regime and width) gives every trial the metrics and
    arrays of its own run()."""
    cfgs = [biasonly.Config(seed=s, readout_fit=readout_fit, **SMALL) for s in (0, 1, 5)]
    ctx = lambda name, cfg: RunContext(folder=tmp_path / name, seed=cfg.seed, device=torch.device("cpu"), quiet=True)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        alone_ctxs, many_ctxs = [ctx(f"a{c.seed}", c) for c in cfgs], [ctx(f"b{c.seed}", c) for c in cfgs]
        alone = [biasonly.run(c, x) for c, x in zip(cfgs, alone_ctxs)]
        many = list(biasonly.run_many(cfgs, many_ctxs))
    finally:
        torch.set_default_dtype(old)
    assert len({m["mse_fit1d_full_w32"] for m in alone}) == 3  # the seeds differ
    for a, m, ca, cm in zip(alone, many, alone_ctxs, many_ctxs):
        assert m.keys() == a.keys()
        for k in a:
            assert m[k] == pytest.approx(a[k], rel=1e-9, abs=1e-12), k
        np.testing.assert_allclose(cm.arrays["scores"], ca.arrays["scores"], rtol=1e-9, atol=1e-12)
        assert np.array_equal(cm.arrays["hidden"], ca.arrays["hidden"])


def test_a_seed_sweep_is_one_group_and_one_run_many_call(home, monkeypatch):
    runs = run_seed_group("biasonly", {**SMALL, "tasks": ["parity"]}, [0, 1, 2], monkeypatch)
    assert all(r.env["timing"]["shared"]["train_s"] == {"split_evenly_over": 3} for r in runs)
    alone = priorlab.run("biasonly", **{**SMALL, "tasks": ["parity"], "seed": 2}, figures="none")
    assert runs[2].metrics == pytest.approx(alone.metrics, rel=1e-4, abs=0.01)  # float32: rounding apart


def test_fit1d_bias_only_error_falls_with_width(home):
    run = priorlab.run(
        "biasonly", tasks=["fit1d"], widths=[16, 4096], regimes=["bias_only", "full"], steps=3000, repeats=1
    )
    m = run.metrics
    assert m["mse_fit1d_bias_only_w4096"] < m["mse_fit1d_bias_only_w16"] / 2
    assert m["mse_fit1d_bias_only_w4096"] < 0.02  # sin(x) has variance 0.5 on [-pi, pi]


def test_bad_config_names_the_key(cli):
    r = cli(["run", "biasonly", "--set", "widths=16,16"])
    assert r.code == 2 and "widths" in r.err
    r = cli(["run", "biasonly", "--set", "regimes=bias"])
    assert r.code == 2 and "regimes" in r.err
    r = cli(["run", "biasonly", "--set", "tasks=fit1d", "--set", "target=os.system(1)"])
    assert r.code == 2 and "target" in r.err
    r = cli(["run", "biasonly", "--set", "task=fit1d"])
    assert r.code == 2 and "renamed to 'tasks'" in r.err


@pytest.mark.slow
def test_full_scale_acceptance(home):
    """Issue 4, acceptance 3 (digits, seeds 0-2, widths 2^4..2^12; issue 13 takes the full scale to 2^14)."""
    widths = [2**k for k in range(4, 13)]
    run = priorlab.run("biasonly", scale="full", tasks=["digits"], widths=widths, seed=0)
    m = run.metrics
    bias = [m[f"acc_digits_bias_only_w{w}"] for w in widths]
    assert spearmanr(widths, bias).statistic > 0.95
    assert m["acc_digits_bias_only_w4096"] >= 0.85
    for w in widths:
        assert m[f"acc_digits_bias_only_w{w}"] <= m[f"acc_digits_full_w{w}"]
    assert np.isfinite(list(m.values())).all()
