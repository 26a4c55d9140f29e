"""twocat (Guest's two-category toy) and the deep() builder it uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import priorlab
from batchcheck import run_seed_group
from figcheck import assert_no_figures, assert_redraws
from priorlab.context import RunContext
from priorlab.experiments import twocat
from priorlab.nets.deep import DeepNet, deep
from priorlab.viz.rdm import rank_transform


# ---------------------------------------------------------------------------------------------- deep()
def test_deep_shapes_and_names():
    net = deep(16, 4, "relu", in_features=5, out_features=3)
    assert isinstance(net, DeepNet)
    names = [n for n, _ in net.named_children()]
    assert names == ["layer1", "layer2", "layer3", "layer4", "readout"]
    assert net(torch.randn(7, 5)).shape == (7, 3)
    assert net.layer1.linear.bias is None  # no bias unless asked


@pytest.mark.parametrize(
    "init,gain,expected", [("normal", 0.1, 0.1), ("normal", 1.0, 1.0), ("fan-in", 2.0, 2.0 / 20)]
)
def test_deep_weight_scales(init, gain, expected):
    net = deep(400, 3, init=init, gain=gain, in_features=400, seed=0)
    w = torch.cat([b.linear.weight.flatten() for b in net.blocks])
    assert w.mean().item() == pytest.approx(0, abs=expected * 0.01)
    expected_std = gain if init == "normal" else gain / 400**0.5
    assert w.std().item() == pytest.approx(expected_std, rel=0.01)


def test_deep_bias_std_and_seed():
    a = deep(300, 2, bias=True, init="fan-in", bias_std=0.3, seed=5)
    b = deep(300, 2, bias=True, init="fan-in", bias_std=0.3, seed=5)
    bias = torch.cat([blk.linear.bias for blk in a.blocks])
    assert bias.std().item() == pytest.approx(0.3, rel=0.1)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    with pytest.raises(ValueError, match="activation"):
        deep(10, 2, "swish")


def test_deep_is_the_blog_forward_pass():
    """capture() on deep() gives exactly n = tanh(n @ W) layer after layer (the blog's numpy loop)."""
    net = deep(30, 5, "tanh", init="normal", gain=0.1, seed=1)
    x = torch.randn(8, 30, dtype=torch.float64)
    net = net.double()
    reps = twocat.layer_representations(net, x)
    n = x.numpy()
    for i, blk in enumerate(net.blocks):
        n = np.tanh(n @ blk.linear.weight.detach().numpy().T)
        np.testing.assert_allclose(reps[i + 1].numpy(), n, atol=1e-12)


# ---------------------------------------------------------------------------------------------- twocat
def test_within_between_brute_force():
    rng = np.random.default_rng(0)
    corr = np.corrcoef(rng.normal(size=(9, 20)))
    cats = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    w, b = twocat.within_between(corr, cats)
    pairs_w = [corr[i, j] for i in range(9) for j in range(9) if i != j and cats[i] == cats[j]]
    pairs_b = [corr[i, j] for i in range(9) for j in range(9) if cats[i] != cats[j]]
    assert w == pytest.approx(np.mean(pairs_w)) and b == pytest.approx(np.mean(pairs_b))


def test_items_follow_the_blog_recipe():
    cfg = twocat.Config()
    x, cats = twocat.items(cfg, torch.Generator().manual_seed(0))
    assert x.shape == (20, 100) and list(cats) == [0] * 10 + [1] * 10
    # member 0 is the prototype itself; member i differs from it by noise of SD 0.01·i
    diffs = (x[1:10] - x[0]).std(1)
    np.testing.assert_allclose(diffs, 0.01 * np.arange(1, 10), rtol=0.35)


def test_twocat_run(tmp_path):
    run = priorlab.run("twocat", out=tmp_path / "t", root=tmp_path / "runs", repeats=4)
    m, a = run.metrics, run.arrays()
    assert run.status == "done"
    assert a["within"].shape == (4, 21) and a["strip_rdms"].shape[1:] == (20, 20)
    # input: members nearly identical, random prototypes nearly uncorrelated
    assert m["within_corr_layer0"] > 0.99 and abs(m["between_corr_layer0"]) < 0.2
    # the blog: after 20 layers categories stay apart (functional smoothness) ...
    assert m["within_corr_layer20"] - m["between_corr_layer20"] > 0.5
    # ... but part of the members' similarity structure is lost
    assert m["within_rdm_vs_input_last"] < 0.95
    np.testing.assert_allclose(a["rdm_to_input"][:, 0], 1.0)
    assert {p.name for p in run.figures} >= {"correlation.png", "rdm_strip.png", "within_strip.png"}
    assert len(assert_redraws(run.path)) == len(twocat.FIGURES)


SMALL = {"categories": 2, "members": 3, "width": 12, "depth": 3}


def _ctxs(tmp_path, cfgs, tag):
    return [RunContext(folder=tmp_path / f"{tag}{i}", seed=c.seed, device=torch.device("cpu"), quiet=True,
                       figure_mode="none") for i, c in enumerate(cfgs)]


def test_run_many_equals_one_by_one_and_measures_each_network_once(tmp_path, monkeypatch):
    """A group of trials that differ in seed and repeats gives each trial the metrics, arrays and tables of its own
    run() (the measures are float64), and draws each network once: seeds 0+{0,1}, 1+{0,1}, 1+{0,1,2} are 4
    networks per weight SD (the configured one and the chaotic one)."""
    cfgs = [twocat.Config(seed=s, repeats=r, **SMALL) for s, r in ((0, 2), (1, 2), (1, 3))]
    alone = _ctxs(tmp_path, cfgs, "one")
    one = [twocat.run(c, ctx) for c, ctx in zip(cfgs, alone)]
    seen, real = [], twocat.network

    def counted(config, seed, strip=None, timer=None):
        seen.append((config.weight_std, seed))
        return real(config, seed, strip, timer)

    monkeypatch.setattr(twocat, "network", counted)
    together = _ctxs(tmp_path, cfgs, "many")
    many = list(twocat.run_many(cfgs, together))
    assert sorted(seen) == [(sd, s) for sd in (0.1, 1.0) for s in range(4)]
    for a, b, ca, cb in zip(one, many, alone, together):
        assert set(a) == set(b) and all(b[k] == pytest.approx(v, rel=1e-12, abs=0) for k, v in a.items())
        assert set(ca.arrays) == set(cb.arrays)
        for k, v in ca.arrays.items():
            np.testing.assert_allclose(cb.arrays[k], v, rtol=1e-12, err_msg=k)
        assert ca.tables == cb.tables
    assert one[0] != one[1]  # different seeds: different networks


def test_a_seed_sweep_is_one_group_and_one_run_many_call(tmp_path, monkeypatch):
    runs = run_seed_group("twocat", {**SMALL, "repeats": 2}, [0, 1, 2], monkeypatch, root=tmp_path / "home")
    assert runs[0].env["timing"]["shared"]["train_s"] == {"split_evenly_over": 3}
    assert_no_figures(runs[2].path)


def test_rank_transform_is_a_percentile():
    d = np.array([[0, 1, 5], [1, 0, 3], [5, 3, 0]], dtype=float)
    r = rank_transform(d)
    assert (r[0, 1], r[1, 2], r[0, 2]) == (10, 50, 90) and np.all(np.diag(r) == 0) and np.allclose(r, r.T)


def test_bad_strip_layer_names_the_key(cli):
    for bad in ("0,50", "-1,3"):
        res = cli(["run", "twocat", "--set", f"strip_layers={bad}"])
        assert res.code == 2 and "strip_layers" in res.err and len(res.err.strip().splitlines()) == 1


def test_package_names_are_the_builders():
    """`from priorlab.nets import deep` works even after the submodule priorlab.nets.deep was imported."""
    from priorlab.nets import deep as from_package

    assert isinstance(from_package(8, 2), DeepNet)


from claimcheck import check_rows as _consistent  # noqa: E402


def test_twocat_verdicts(tmp_path):
    import json

    run = priorlab.run("twocat", out=tmp_path / "q", root=tmp_path / "runs")  # the quick default
    rows = json.loads((run.path / "verdict.json").read_text())
    _consistent(rows)
    assert all(r["verdict"] == "reproduces" for r in rows), rows
    assert "shrinks" in (run.path / "report.html").read_text()
    # more noise per member: the members are no longer close, the study's within-category numbers break
    noisy = priorlab.run("twocat", out=tmp_path / "n", root=tmp_path / "runs", repeats=2, noise_step=0.1,
                         chaotic_std=None)
    flipped = {r["metric"]: r["verdict"] for r in json.loads((noisy.path / "verdict.json").read_text())}
    assert flipped["within_dist_layer20"] == "differs" and flipped["chaotic_within_corr_layer5"].startswith("not")
    # other weights: the SD-0.1 claims say they do not apply
    other = twocat.claims(twocat.Config(weight_std=0.5))
    assert all(c.applies is not True for c in other if "0.1" in c.claim)
