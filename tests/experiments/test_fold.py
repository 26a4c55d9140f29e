"""The fold experiment: metrics per layer, figures whose layer count matches the network, animations."""

import numpy as np
import pytest
import torch
from PIL import Image

from priorlab.nets.batched_mlp import BatchedMLP, stage_names, stages
from priorlab.viz.planes import layer_strip, position_colors, projector


@pytest.mark.parametrize("hidden", [1, 4])
def test_stages_follow_the_network(hidden):
    m = BatchedMLP([2] + [3] * hidden + [2], seeds=2)
    x = torch.randn(7, 2)
    st = stages(m, 1, x)
    names = stage_names(m)
    assert len(st) == len(names) == 2 * hidden + 2
    torch.testing.assert_close(st[-1], m.to_sequential(1)(x))
    torch.testing.assert_close(st[2], torch.relu(st[1]))  # post = relu(pre)
    lines = torch.randn(4, 9, 2)
    assert stages(m, 0, lines)[1].shape == (4, 9, 3)


def test_strip_has_one_column_per_layer():
    import matplotlib

    matplotlib.use("Agg")
    hidden = 3
    m = BatchedMLP([2] + [4] * hidden + [2], seeds=1)
    x, y = torch.randn(30, 2), torch.arange(30) % 2
    lines = torch.randn(4, 20, 2)
    ps, ls = stages(m, 0, x), stages(m, 0, lines)
    views = [projector(p, "pca", [0, 1]) for p in ps]
    metrics = {
        "acc": 1.0,
        **{f"folds_layer{l}": 0.0 for l in range(1, hidden + 2)},
        **{f"dead_fraction_layer{l}": 0.0 for l in range(1, hidden + 1)},
    }
    fig = layer_strip(
        m,
        stage_names(m),
        views,
        [f(p) for (f, _), p in zip(views, ps)],
        [f(p) for (f, _), p in zip(views, ls)],
        y,
        position_colors(x.numpy()),
        position_colors(lines.numpy()),
        metrics,
    )
    drawn = [ax for ax in fig.axes if ax.collections]
    assert fig.axes[0].get_gridspec().ncols == hidden + 2  # input, hidden layers, output
    assert len(drawn) == 2 * hidden + 2
    assert "6 layers" not in fig._suptitle.get_text() and f"{hidden + 2} layers" in fig._suptitle.get_text()


def test_pca_projection_keeps_most_variance_and_units_pick_columns():
    h = torch.randn(200, 5) * torch.tensor([5.0, 3.0, 0.1, 0.1, 0.1])
    f, labels = projector(h, "pca", [0, 1])
    assert f(h).shape == (200, 2) and "PC 1" in labels[0]
    assert f(h).var(0).sum() > 0.99 * h.var(0).sum()
    g, labels = projector(h, "units", [3, 1])
    torch.testing.assert_close(g(h), h[:, [3, 1]])
    assert labels == ("unit 4", "unit 2")


def test_fold_run_small(tmp_path, home):
    import priorlab

    run = priorlab.run(
        "fold", out=tmp_path / "f", n_points=120, steps=200, repeats=2, snapshots=3, hidden_layers=3
    )
    assert run.status == "done"
    m = run.metrics
    assert 0 <= m["acc"] <= 1 and 0 <= m["train_acc"] <= 1 and 0 <= m["median_train_acc"] <= 1
    # issue 11: the success rate over the repeats with its Wilson interval, the mean training accuracy with its CI
    from scipy.stats import binomtest

    a = run.arrays()
    for prefix in ("", "success_tanh2_", "success_tanh8_"):
        assert m[f"{prefix}success_rate_n"] == m[f"{prefix}mean_train_acc_n"] == 2
        lo, hi = m[f"{prefix}mean_train_acc_ci_low"], m[f"{prefix}mean_train_acc_ci_high"]
        assert lo <= m[f"{prefix}mean_train_acc"] <= hi
    k = int((a["train_acc"] >= 0.9).sum())
    ref = binomtest(k, 2).proportion_ci(method="wilson")
    assert m["success_rate"] == k / 2 and m["mean_train_acc"] == pytest.approx(a["train_acc"].mean(), abs=1e-6)
    assert (m["success_rate_ci_low"], m["success_rate_ci_high"]) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert {f"folds_layer{l}" for l in range(1, 5)} <= set(m) and "folds_layer5" not in m
    assert {f"dead_fraction_layer{l}" for l in range(1, 4)} <= set(m) and "dead_fraction_layer4" not in m
    names = {p.name for p in run.figures}
    assert {"layers.png", "decision.png", "layers.gif", "training.gif", "seeds.png"} <= names
    for gif, expected in (("layers.gif", None), ("training.gif", 3)):
        with Image.open(run.path / "figures" / gif) as im:
            assert 1 < im.n_frames <= 60
            if expected:
                assert im.n_frames == expected
    a = run.arrays()
    assert len([k for k in a if k.startswith("stage")]) == 2 * 3 + 2
    # the saved model is the drawn network: its dead fraction at layer 1 matches the metric
    from safetensors.torch import load_file

    state = load_file(str(run.path / "model.safetensors"))
    h = torch.relu(torch.tensor(a["x"]) @ state["0.weight"].T + state["0.bias"])
    assert m["dead_fraction_layer1"] == pytest.approx((h == 0).all(1).float().mean().item())
    # the figure protocol: draw() from the arrays gives the figures the run drew
    assert_redraws(run.path)


def test_fold_wide_network_with_chosen_units(tmp_path, home):
    import priorlab

    run = priorlab.run(
        "fold",
        out=tmp_path / "f",
        width=4,
        view="units",
        units=[2, 0],
        n_points=80,
        steps=50,
        repeats=1,
        snapshots=2,
        hidden_layers=2,
        activation="tanh",
    )
    assert run.status == "done" and run.metrics["dead_fraction_layer1"] == 0.0
    assert run.metrics["success_rate_n"] == 1 and "mean_train_acc_ci_low" not in run.metrics
    assert "seeds.png" not in {p.name for p in run.figures}  # no spread to show with one seed
    assert "seeds.png" not in assert_redraws(run.path)


def test_fold_bad_units(home):
    import priorlab
    from priorlab.config import UserError

    with pytest.raises(UserError, match="units"):
        priorlab.run("fold", view="units", units=[0, 5])
    with pytest.raises(UserError, match="units"):
        priorlab.run("fold", units=[1, 1])
    with pytest.raises(UserError, match="renamed to 'repeats'"):
        priorlab.run("fold", restarts=2)
    with pytest.raises(UserError, match="renamed to 'steps'"):
        priorlab.run("fold", epochs=2)


from batchcheck import run_seed_group  # noqa: E402
from claimcheck import assert_verdicts_consistent, verdict_of  # noqa: E402
from figcheck import assert_redraws  # noqa: E402


def test_fold_verdicts_and_the_separable_success(tmp_path):
    import priorlab

    run = priorlab.run("fold", out=tmp_path / "q", root=tmp_path / "runs")  # the quick default
    assert all(r["verdict"] == "reproduces" for r in assert_verdicts_consistent(run.path))
    assert run.metrics["separable_output"] >= 0.95 and run.metrics["separable_last_hidden"] < 0.95
    assert {"layers_success.png", "separable.png"} <= {p.name for p in run.figures}
    # hardly trained: the success is not separable yet, the verdict flips
    short = priorlab.run("fold", out=tmp_path / "s", root=tmp_path / "runs", steps=3, repeats=2, snapshots=2,
                         n_points=60)
    assert verdict_of(assert_verdicts_consistent(short.path), "separable_output") == "differs"


def test_linear_separability_finds_the_line():
    from priorlab.experiments.fold import linear_separability

    h = torch.randn(200, 3)
    y = (h @ torch.tensor([1.0, -2.0, 0.5]) > 0.3).long()
    acc, w, b = linear_separability(h, y, steps=500)
    assert acc > 0.97
    assert ((h @ w + b > 0).long() == y).float().mean().item() == acc  # w, b in the layer's own coordinates
    assert linear_separability(torch.randn(200, 2), torch.arange(200) % 2)[0] < 0.7  # random labels


SMALL = {"n_points": 40, "steps": 25, "repeats": 2, "snapshots": 3, "hidden_layers": 2, "successes": ["tanh:4"]}


def _contexts(tmp_path, seeds):
    from priorlab.context import RunContext

    return [RunContext(folder=tmp_path / f"{tag}{s}", seed=s, device=torch.device("cpu"), quiet=True)
            for tag in ("many", "one") for s in seeds]


def test_run_many_equals_one_by_one_runs_at_float64(tmp_path):
    """A group of seeds trained together (one ensemble per network over all trials' repeats) gives each trial the
    metrics and arrays of its own run()."""
    from priorlab.experiments import fold

    seeds = [3, 4, 5]
    cfgs = [fold.Config(seed=s, **SMALL) for s in seeds]
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        ctxs = _contexts(tmp_path, seeds)
        many = list(fold.run_many(cfgs, ctxs[:3]))
        one = [fold.run(c, ctx) for c, ctx in zip(cfgs, ctxs[3:])]
    finally:
        torch.set_default_dtype(before)
    assert ctxs[0].arrays["net0_w0"].dtype == np.float64
    for a, b, ca, cb in zip(many, one, ctxs[:3], ctxs[3:]):
        assert set(a) == set(b) and a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True)
        for k in ("train_acc", "net0_w0", "net1_b2", "net0_hist_w1", "sep_w1"):
            np.testing.assert_allclose(ca.arrays[k], cb.arrays[k], rtol=1e-9, atol=1e-12)
    assert many[0] != many[1]  # the trials differ (seeds, data)


def test_a_seed_sweep_is_one_group_and_one_run_many_call(tmp_path, monkeypatch):
    from priorlab.experiments import fold

    real_run = fold.run
    runs = run_seed_group("fold", {**SMALL, "steps": 6}, [0, 1, 2], monkeypatch, never_alone=True,
                          root=tmp_path / "runs")
    timing = [r.env["timing"] for r in runs]
    assert all(t["shared"]["train_s"] == {"split_evenly_over": 3} and t["train_s"] > 0 for t in timing)
    alone = real_run(fold.Config(**{**SMALL, "steps": 6, "seed": 1}), _contexts(tmp_path, [1])[1])
    assert runs[1].metrics == pytest.approx(alone, rel=1e-5)  # float32: the one-by-one run, loosely


def test_diverged_member_fails_its_trial_only(tmp_path, monkeypatch):
    from priorlab.errors import Diverged
    from priorlab.experiments import fold

    real = fold.BatchedMLP

    class Poisoned(real):  # the network of seed 21 starts from NaN weights: its loss is never finite
        def __init__(self, sizes, activation="relu", seeds=1, seed=0):
            super().__init__(sizes, activation, seeds, seed)
            if seed == 21 and seeds == 1:
                with torch.no_grad():
                    self.weights[0].fill_(float("nan"))

    monkeypatch.setattr(fold, "BatchedMLP", Poisoned)
    cfgs = [fold.Config(seed=s, **{**SMALL, "steps": 4}) for s in (10, 20)]  # members 10, 11 and 20, 21
    ok, bad = fold.run_many(cfgs, _contexts(tmp_path, [10, 20])[:2])
    assert isinstance(ok, dict) and isinstance(bad, Diverged) and bad.step == 0
