"""The `regimes` experiment: one architecture and task under every regime (small sizes; the default run is slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import priorlab
from batchcheck import run_seed_group
from claimcheck import assert_verdicts_consistent, verdict_of
from figcheck import assert_redraws
from priorlab.config import UserError
from priorlab.context import RunContext
from priorlab.data.digits import Split
from priorlab.experiments import regimes
from priorlab.experiments.regimes import ALL_REGIMES, TOGETHER, Config, build, claims
from priorlab.stats import mean_ci
from priorlab.stats.claims import evaluate
from priorlab.viz.regimes import hyper_layout, sharing_example

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
    assert assert_redraws(small_run.path) == {"regimes.png", "fits.png", "hyper.png", "sharing.png"}
    rows = assert_verdicts_consistent(small_run.path)
    assert len(rows) == 7 and verdict_of(rows, "err_shared_grad_vs_sum") == "reproduces"
    assert "acc_full_ci_low" not in m  # one seed: no interval
    assert m["acc_permute_minus_full"] == pytest.approx(m["acc_permute"] - m["acc_full"])


def test_sharing_example_gradients_add_up():
    ex = sharing_example(3)
    index = torch.as_tensor(ex["index"])
    assert sorted(np.bincount(ex["index"].ravel())) == [3, 3, 3, 3] and ex["err"] < 1e-15
    # the peer: each tied value's gradient is the sum of its copies' (a hand-written scatter-add)
    for k in range(4):
        assert ex["grad_u"][k] == pytest.approx(ex["grad_w"][ex["index"] == k].sum(), abs=1e-14)
    # and the copies' gradient is the least-squares one, 2/(N·3) (x Wᵀ − y)ᵀ x, recomputed from the same draw
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    w = torch.as_tensor(ex["u"])[index]
    np.testing.assert_allclose(ex["grad_w"], (2 / 18 * (x @ w.T - y).T @ x).numpy(), atol=1e-14)


def test_hyper_layout_counts_by_hand():
    cfg = Config(width=16, depth=2)
    lay = hyper_layout(build(cfg, "hyper", 64, 10, seed=0))
    shapes = [t["shape"] for t in lay["targets"]]
    assert shapes == [(16, 64), (16, 16), (10, 16)]
    for t in lay["targets"]:
        assert t["chunks"] == math.ceil(t["shape"][0] * t["shape"][1] / lay["chunk"])
        assert t["embeddings"] == t["chunks"] * lay["embed_dim"]
    e, h, c = lay["embed_dim"], lay["hidden"], lay["chunk"]
    assert lay["generator_params"] == (e * h + h) + (h * c + c)  # two Linear layers of the generator


def test_repeats_give_bootstrap_cis_and_tying_every_weight_flips_the_shared_claim(tmp_path):
    small = {**SMALL, "regimes": ["full", "shared"], "repeats": 2}
    run = priorlab.run("regimes", out=tmp_path / "a", root=tmp_path / "home", **small)
    m, arrays = run.metrics, run.arrays()
    for r in ("full", "shared"):
        assert arrays[f"acc_{r}"].shape == (2,)
        assert (m[f"acc_{r}"], m[f"acc_{r}_ci_low"], m[f"acc_{r}_ci_high"]) == pytest.approx(
            tuple(mean_ci(arrays[f"acc_{r}"], seed=0)))
        assert m[f"acc_{r}_ci_low"] <= m[f"acc_{r}"] <= m[f"acc_{r}_ci_high"]
    page = (run.path / "report.html").read_text()
    assert "n seeds" in page and f"{m['acc_full']:.3f} [{m['acc_full_ci_low']:.3f}, {m['acc_full_ci_high']:.3f}]" in page
    rows = assert_verdicts_consistent(run.path)
    assert verdict_of(rows, "acc_shared_minus_full") == "differs"  # width 16 tied into a tenth: far behind
    assert verdict_of(rows, "acc_mask_minus_full") == "not tested at this scale"  # no mask regime in this run
    # one tied value per weight is the full network again: the claim reproduces
    every = priorlab.run("regimes", out=tmp_path / "b", root=tmp_path / "home", **{**small, "shared_fraction": 1.0,
                                                                                    "repeats": 1})
    rows = assert_verdicts_consistent(every.path)
    assert verdict_of(rows, "acc_shared_minus_full") == "reproduces"
    assert abs(every.metrics["acc_shared_minus_full"]) <= 0.01


# one regime of each kind: trained together (full, shared, hyper) and one by one (mask, nothing to train: frozen)
TINY = {"width": 8, "depth": 1, "epochs": 1, "steps": 20, "n_train": 16,
        "regimes": ["full", "frozen", "mask", "permute", "shared", "hyper", "readout_ridge"]}


def test_run_many_equals_one_by_one_runs_at_float64(tmp_path, monkeypatch):
    """A group of seeds (two trials, two repeats each) gives every trial the metrics and arrays of its own run()
    (seconds aside): the engine's regimes trained as ensembles, minibatch for minibatch."""
    assert {"full", "mask", "permute", "shared", "hyper"} <= set(TOGETHER) and "frozen" not in TOGETHER
    real = regimes.digits
    monkeypatch.setattr(regimes, "digits", lambda seed: Split(*(
        t.double() if t.is_floating_point() else t for t in vars(real(seed=seed)).values())))
    cfgs = [Config(seed=s, repeats=2, **TINY) for s in (0, 3)]
    ctx = lambda name, cfg: RunContext(folder=tmp_path / name, seed=cfg.seed, device=torch.device("cpu"), quiet=True)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        alone_ctxs, many_ctxs = [ctx(f"a{c.seed}", c) for c in cfgs], [ctx(f"b{c.seed}", c) for c in cfgs]
        alone = [regimes.run(c, x) for c, x in zip(cfgs, alone_ctxs)]
        many = list(regimes.run_many(cfgs, many_ctxs))
    finally:
        torch.set_default_dtype(old)
    assert alone[0]["mse_full"] != alone[1]["mse_full"]  # the seeds differ
    for a, m, ca, cm in zip(alone, many, alone_ctxs, many_ctxs):
        assert m.keys() == a.keys()
        for k in a:
            if not k.startswith("seconds_"):
                assert m[k] == pytest.approx(a[k], rel=1e-9, abs=1e-12), k
        assert cm.arrays.keys() == ca.arrays.keys()
        for k, v in ca.arrays.items():
            np.testing.assert_allclose(cm.arrays[k], v, rtol=1e-9, atol=1e-12, err_msg=k)


def test_a_seed_sweep_is_one_group_and_one_run_many_call(home, monkeypatch):
    runs = run_seed_group("regimes", {**TINY, "regimes": ["full", "mask"]}, [0, 1, 2], monkeypatch)
    assert all(r.env["timing"]["shared"]["train_s"] == {"split_evenly_over": 3} for r in runs)
    assert all(r.figures == [] for r in runs)


def test_claims_follow_the_config():
    few = {r["metric"]: r for r in evaluate(claims(Config(mask_fraction=0.05)), {"acc_mask_minus_full": 0.0})}
    assert few["acc_mask_minus_full"]["verdict"] == "not tested at this scale"
    assert "30–70%" in few["acc_mask_minus_full"]["note"]


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
