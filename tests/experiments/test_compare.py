"""compare: any model vs its random self; plus the pieces it uses (lenet, fit_classifier, stimuli)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import priorlab
from claimcheck import assert_verdicts_consistent, verdict_of
from figcheck import assert_redraws
from priorlab.config import UserError
from priorlab.data.stimuli import stimuli
from priorlab.nets import build
from priorlab.probe.capture import capture
from priorlab.probe.rdm import compare as compare_rdms
from priorlab.probe.rdm import rdm

LSTM_FACTORY = """
from torch import nn

class RowReader(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=3, batch_first=True)
        self.input_shape = (1, 8, 8)

    def forward(self, x):
        out, _ = self.lstm(x.flatten(1, 2))   # [N, 1, 8, 8] -> 8 rows of 8 pixels
        return out

def make():
    return RowReader()
"""


def _run(tmp_path, name="c", **config):
    return priorlab.run("compare", out=tmp_path / name, root=tmp_path / "runs", **config)


# ---------------------------------------------------------------------------------------------- the experiment
QUICK = {"random_inits": 3, "n_boot": 100}


def test_default_lenet_trained_on_digits(tmp_path):
    """Issue 11, acceptance 3: layers.csv/.parquet, bands in the figure, a verdict computed from the tests."""
    import pandas as pd

    run = _run(tmp_path, n_stimuli=40, epochs=4, target="category", random_inits=6, n_boot=100)
    m, a = run.metrics, run.arrays()
    assert run.status == "done" and m["reference_is_trained"] == 1
    assert 0.85 < m["acc_reference"] <= 1  # a fraction
    assert list(a["layers"][:3]) == ["conv1", "relu1", "pool1"] and "flatten" not in a["layers"]  # alias dropped
    assert (run.path / "reference.safetensors").exists() and (run.path / "figures" / "rdm_vs_target.png").exists()
    # the first draw's layer-wise (budgeted) RDMs equal the direct computation: capture + rdm + compare
    model = priorlab.randomize(build("lenet", None).make(), init="torch-default", seed=0).eval()
    s = stimuli("digits", 40, 8, 1, seed=0)
    acts = capture(model, s.x)
    target = (np.array(s.labels)[:, None] != np.array(s.labels)[None]).astype(float)
    direct = [compare_rdms(rdm(acts[n].double()), torch.from_numpy(target)) for n in a["layers"]]
    np.testing.assert_allclose(a["rdm_vs_target_random_draws"][0], direct, atol=1e-6)
    assert a["rdm_vs_target_random_draws"].shape == (6, m["layers"]) and np.all(np.abs(a["cka_draws"]) <= 1 + 1e-9)
    # the tidy table: one row per layer x network x measure, the same in CSV and parquet
    table = pd.read_csv(run.path / "layers.csv")
    assert list(table.columns) == ["layer", "network", "measure", "value", "ci_low", "ci_high", "p", "p_corrected"]
    pd.testing.assert_frame_equal(table, pd.read_parquet(run.path / "layers.parquet"), check_dtype=False)
    ref = table[(table.network == "reference") & (table.measure == "rdm_vs_target_spearman")]
    rnd = table[(table.network == "random") & (table.measure == "rdm_vs_target_spearman")]
    assert list(ref.layer) == list(a["layers"]) == list(rnd.layer)
    assert (ref.ci_low <= ref.value).all() and (ref.value <= ref.ci_high).all() and ref.p.between(0, 1).all()
    assert (ref.p_corrected >= ref.p - 1e-12).all() and rnd.p.isna().all()
    np.testing.assert_allclose(rnd.ci_low, np.percentile(a["rdm_vs_target_random_draws"], 2.5, axis=0))
    assert set(table.measure) == {"rdm_vs_target_spearman", "cka", "rdm_reference_vs_random"}
    # the verdict sentence follows the corrected p-values
    changed = [n for n, p in zip(a["layers"], a["p_corrected"]) if p < 0.05]
    assert m["layers_changed"] == len(changed) and "fc3" in changed  # trained on the labels: the readout changes
    page = (run.path / "report.html").read_text()
    assert f"Training changes layers {changed[0]}" in page or f"Training changes layer {changed[0]}" in page
    rows = assert_verdicts_consistent(run.path)
    assert verdict_of(rows, "p_corrected_last") == "reproduces"
    # the figures come from the arrays (compare.draw), the same files again; training is timed as train
    assert assert_redraws(run.path) == {"rdm_vs_target.png", "rdms_reference.png", "rdms_random.png"}
    assert run.env["timing"]["train_s"] > 0 and run.env["timing"]["measure_s"] > 0


def test_an_untrained_reference_flips_the_training_verdict(tmp_path):
    """The same claim for a weights file holding an untrained LeNet: it lies inside the band, so `differs`."""
    torch.save(priorlab.randomize(build("lenet", None).make(), seed=123).state_dict(), tmp_path / "untrained.pt")
    run = _run(tmp_path, weights=str(tmp_path / "untrained.pt"), n_stimuli=40, target="category", random_inits=6,
               n_boot=100)
    rows = assert_verdicts_consistent(run.path)
    assert verdict_of(rows, "p_corrected_last") == "differs" and run.metrics["p_corrected_last"] >= 0.05


def test_measured_target_rdms_report_the_noise_ceiling(tmp_path):
    """Issue 11, acceptance 3: target=rdms:<file> with S = 4 (npy, and rsatoolbox's hdf5) gives the noise ceiling."""
    rsatoolbox = pytest.importorskip("rsatoolbox")
    s = stimuli("digits", 20, 8, 1, seed=0)
    base = rdm(s.x.double()).numpy()
    rng = np.random.default_rng(0)
    stack = np.stack([base + 0.3 * np.abs(rng.standard_normal(base.shape)) for _ in range(4)])
    stack = (stack + stack.transpose(0, 2, 1)) / 2 * (1 - np.eye(20))
    np.save(tmp_path / "subjects.npy", stack)
    rsatoolbox.rdm.RDMs(stack).save(str(tmp_path / "subjects.hdf5"), "hdf5")
    theirs = rsatoolbox.inference.boot_noise_ceiling(rsatoolbox.rdm.RDMs(stack), method="spearman")
    torch.save(build("lenet", None).make().state_dict(), tmp_path / "w.pt")
    for name in ("subjects.npy", "subjects.hdf5"):
        run = _run(tmp_path, f"run_{name}", weights=str(tmp_path / "w.pt"), n_stimuli=20, target=f"rdms:{tmp_path / name}",
                   **QUICK)
        m = run.metrics
        assert m["target_rdms"] == 4
        assert m["noise_ceiling_lower"] == pytest.approx(theirs[0], abs=1e-6)
        assert m["noise_ceiling_upper"] == pytest.approx(theirs[1], abs=1e-6)
        assert f"Noise ceiling of the 4 target RDMs: lower {m['noise_ceiling_lower']:.3f}" in (
            run.path / "report.html").read_text()
        assert_verdicts_consistent(run.path)


def test_seed_changes_only_the_random_networks(tmp_path):
    """Issue 11, acceptance 4: the input RDM depends on stimulus_seed only (saved as rdm_input)."""
    torch.save(build("lenet", None).make().state_dict(), tmp_path / "w.pt")
    common = dict(weights=str(tmp_path / "w.pt"), n_stimuli=20, random_inits=2, n_boot=20)
    a = priorlab.run("compare", out=tmp_path / "a", root=tmp_path / "runs", seed=0, **common).arrays()
    b = priorlab.run("compare", out=tmp_path / "b", root=tmp_path / "runs", seed=1, **common).arrays()
    c = priorlab.run("compare", out=tmp_path / "c", root=tmp_path / "runs", seed=0, stimulus_seed=5,
                     **common).arrays()
    np.testing.assert_array_equal(a["rdm_input"], b["rdm_input"])
    assert a["rdm_input"].shape == (20, 20)
    assert not np.allclose(a["rdm_vs_target_random_draws"], b["rdm_vs_target_random_draws"])
    assert not np.array_equal(a["rdm_input"], c["rdm_input"])


def test_more_stimuli_than_files_exits_2_naming_both_numbers(cli, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)  # textured images: a uniform one has no defined correlation distance
    for i in range(5):
        (tmp_path / "imgs" / "cat").mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "imgs" / "cat" / f"{i}.png")
    args = ["run", "compare", "--set", f"stimuli=images:{tmp_path / 'imgs'}", "--set", "n_stimuli=9",
            "--set", "random_inits=2", "--set", "n_boot=20", "--set", "epochs=1", "--out", str(tmp_path / "run")]
    res = cli(args)
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert "n_stimuli=9" in res.err and "5 image files" in res.err and "augment=true" in res.err
    assert not (tmp_path / "run").exists()
    assert cli([*args, "--set", "augment=true", "--quiet"]).code == 0
    assert "5 originals, 4 random crops" in (tmp_path / "run" / "report.html").read_text()


GUEST_LOVE = """
from torch import nn

def model11():
    return nn.Sequential(*[m for _ in range(8) for m in (nn.Linear(100, 100, bias=False), nn.Tanh())])
"""


def test_distortion_measure_reproduces_guest_and_love(tmp_path):
    """Issue 11, acceptance 5 on the study's own network (8 tanh layers, unit-variance weights): at noise SD 0.95 the
    random draws' r is ≈ 0.57 after one layer and ≈ 0.04 after eight (the smoothness experiment's numbers)."""
    (tmp_path / "gl.py").write_text(GUEST_LOVE)
    np.save(tmp_path / "protos.npy", np.random.default_rng(0).standard_normal((30, 100)).astype(np.float32))
    run = _run(tmp_path, model=f"module:{tmp_path / 'gl.py'}:model11", stimuli=f"table:{tmp_path / 'protos.npy'}",
               n_stimuli=30, measure="distortion", init="normal", random_inits=4, n_boot=20)
    a, m = run.arrays(), run.metrics
    draws = a["distortion_random_draws"]  # [K, levels, L]
    assert draws.shape == (4, 20, 16) and a["noise_sd"][-1] == pytest.approx(0.95)
    r = draws.mean(0)[-1]
    assert r[1] == pytest.approx(0.57, abs=0.06) and r[15] == pytest.approx(0.04, abs=0.05)
    assert np.all(np.diff(r[1::2]) < 0)  # every further tanh layer is less smooth
    rows = assert_verdicts_consistent(run.path)
    assert verdict_of(rows, "distortion_fall_random") == "reproduces"
    assert verdict_of(rows, "distortion_drop_random_min") == "reproduces"
    assert m["distortion_fall_random"] == pytest.approx(r[0] - r[-1])
    assert (run.path / "figures" / "distortion.png").exists()
    assert "distortion.png" in assert_redraws(run.path)


def test_distortion_on_lenet(tmp_path):
    """Issue 11, acceptance 5 on lenet at unit-variance weights: r falls with distortion at every layer; LeNet's
    ReLUs are positively homogeneous, so deeper layers are not less smooth, and the claim says `differs`."""
    torch.save(build("lenet", None).make().state_dict(), tmp_path / "w.pt")
    run = _run(tmp_path, weights=str(tmp_path / "w.pt"), n_stimuli=30, measure="distortion", init="normal", **QUICK)
    a, m = run.arrays(), run.metrics
    r = a["distortion_random_draws"].mean(0)  # [levels, L]
    assert np.all(r[0] > 0.99) and np.all(r[0] - r[-1] > 0.01) and m["distortion_drop_random_min"] > 0.01
    rows = assert_verdicts_consistent(run.path)
    assert verdict_of(rows, "distortion_drop_random_min") == "reproduces"
    assert verdict_of(rows, "distortion_fall_random") == ("reproduces" if r[-1, 0] - r[-1, -1] >= 0.05 else "differs")
    fan_in = _run(tmp_path, "f", weights=str(tmp_path / "w.pt"), n_stimuli=30, measure="distortion", init="fan-in",
                  **QUICK)
    assert verdict_of(assert_verdicts_consistent(fan_in.path), "distortion_fall_random") == "not tested at this scale"


@pytest.mark.parametrize(
    "model,extra",
    [
        ("torchvision:resnet18", {"image_size": 32}),
        ("torchvision:googlenet", {"image_size": 64}),
        ("torchvision:inception_v3", {"image_size": 75}),
        ("lstm", {}),
    ],
)
def test_any_architecture_runs_with_random_weights(tmp_path, model, extra):
    """Issue 3, acceptance 4: googlenet, inception_v3, resnet18 and an LSTM, with no code changes."""
    run = _run(tmp_path, model=model, stimuli="samples", n_stimuli=8, random_inits=2, n_boot=20, **extra)
    assert run.status == "done", run.status
    assert run.metrics["reference_is_trained"] == 0 and run.metrics["layers"] >= 4
    assert all(math.isfinite(v) for v in run.metrics.values())


def test_module_factory_lstm(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(LSTM_FACTORY)
    run = _run(tmp_path, model=f"module:{path}:make", n_stimuli=12, **QUICK)
    assert run.status == "done"
    # the last step of the sequence, then each layer's final states ([N, H] each); the top layer's h_n is the last
    # step's output, so it is skipped as an alias and the report says so
    assert list(run.arrays()["layers"]) == [
        "lstm.0@t7", "lstm.h_n.0", "lstm.h_n.1", "lstm.c_n.0", "lstm.c_n.1", "lstm.c_n.2"
    ]
    assert "lstm.h_n.2 (= lstm.0@t7)" in (run.path / "report.html").read_text()


RECURRENT_FACTORY = """
from torch import nn

class Reader(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(3, 8, num_layers=2, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])

def gru():
    return Reader(nn.GRU)

def lstm():
    return Reader(nn.LSTM)
"""


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recurrent_nets_on_a_sequence_file_through_the_cli(cli, tmp_path, cell):
    """Issue 15, acceptance 2: per-time-step RDMs, h_n states named, nothing flattened across items."""
    from priorlab.runner import load_run

    (tmp_path / "nets.py").write_text(RECURRENT_FACTORY)
    rng = np.random.default_rng(0)
    labels = np.repeat(["up", "down", "flat"], 4)
    x = rng.standard_normal((12, 6, 3)) + (labels == "up")[:, None, None] * np.linspace(0, 2, 6)[None, :, None]
    np.savez(tmp_path / "seqs.npz", x=x, labels=labels)
    out = tmp_path / "run"
    res = cli(["run", "compare", "--set", f"model=module:{tmp_path / 'nets.py'}:{cell}", "--set",
               f"stimuli=sequences:{tmp_path / 'seqs.npz'}", "--set", "timesteps=all", "--set", "random_inits=3",
               "--out", out, "--quiet"])
    assert res.code == 0, res.err
    run = load_run(out)
    a = run.arrays()
    steps = [f"rnn.0@t{t}" for t in range(6)]
    states = ["rnn.h_n.0"] + (["rnn.c_n.0", "rnn.c_n.1"] if cell == "lstm" else [])
    assert list(a["layers"]) == [*steps, *states, "head"]
    assert "rnn.h_n.1 (= rnn.0@t5)" in (out / "report.html").read_text()
    assert sorted(set(a["labels"])) == ["down", "flat", "up"] and list(a["labels"]) == sorted(a["labels"])
    assert run.metrics["layers"] == len(a["layers"]) and all(np.isfinite(v) for v in run.metrics.values())
    # each step's RDM is over the 12 sequences: the same numbers as capture + rdm on the random network
    model = priorlab.randomize(build(f"module:{tmp_path / 'nets.py'}:{cell}").make(), seed=0).eval()
    order = np.argsort(labels, kind="stable")
    xs = torch.from_numpy(x[order]).float()
    acts = capture(model, xs, timesteps="all")
    assert acts["rnn.h_n.0"].shape == (12, 8)
    direct = [compare_rdms(rdm(acts[n].double()), rdm(xs.double())) for n in [*steps, *states]]
    np.testing.assert_allclose(a["rdm_vs_target_random_draws"][0, : len(direct)], direct, atol=1e-6)


def test_table_stimuli_measures_and_the_last_step(tmp_path):
    (tmp_path / "mlp.py").write_text(
        "from torch import nn\n"
        "def make():\n"
        "    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Flatten(), nn.Linear(16, 8), nn.ReLU())\n"
    )
    rows = np.random.default_rng(1).standard_normal((30, 5))
    lines = ["a,b,c,d,e,label"] + [",".join(f"{v:.6f}" for v in r) + f",{'ab'[i % 2]}" for i, r in enumerate(rows)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    run = _run(tmp_path, model=f"module:{tmp_path / 'mlp.py'}:make", stimuli=f"table:{tmp_path / 't.csv'}",
               n_stimuli=20, measures=["procrustes", "cca", "svcca", "pwcca", "shape"], shape_alpha=1.0, **QUICK)
    a, m = run.arrays(), run.metrics
    assert list(a["layers"]) == ["0", "1", "3", "4"]  # "2" (Flatten) equals "1": an alias
    assert len(a["labels"]) == 20 and m["layers"] == 4
    for name in ("procrustes", "cca", "svcca", "pwcca", "shape"):
        assert a[name].shape == (4,) and m[f"{name}_last"] == pytest.approx(a[name][-1])
    # the shape metric at α = 1 is the angular form of the Procrustes distance
    np.testing.assert_allclose(np.cos(a["shape"]), 1 - a["procrustes"] ** 2 / 2, atol=1e-9)
    assert np.all((a["cca"] > 0) & (a["cca"] <= 1 + 1e-12))


def test_in_place_relu_does_not_corrupt_hooked_outputs():
    """Inception's BasicConv2d applies relu(inplace=True) to its BatchNorm's output; the hooked copy keeps negatives."""
    model = build("torchvision:inception_v3", 75).make().eval()
    acts = capture(model, torch.randn(2, 3, 75, 75), layers=["Conv2d_1a_3x3.bn", "Conv2d_1a_3x3"])
    assert acts["Conv2d_1a_3x3.bn"].min() < 0
    assert acts["Conv2d_1a_3x3"].min() >= 0


def test_weights_file_is_the_reference(tmp_path):
    net = build("lenet", None).make()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    a = _run(tmp_path, "a", weights=str(tmp_path / "w.pt"), n_stimuli=20, **QUICK)
    assert a.metrics["reference_is_trained"] == 1 and "acc_reference" not in a.metrics
    # the same weights as safetensors give the same numbers
    from safetensors.torch import save_file

    save_file(net.state_dict(), str(tmp_path / "w.safetensors"))
    b = _run(tmp_path, "b", weights=str(tmp_path / "w.safetensors"), n_stimuli=20, **QUICK)
    np.testing.assert_allclose(a.arrays()["rdm_vs_target_reference"], b.arrays()["rdm_vs_target_reference"])


@pytest.mark.parametrize(
    "sets,key",
    [
        (["weights=/no/such/file.pt"], "weights"),
        (["model=alexnet2"], "model"),
        (["model=torchvision:nonet"], "model"),
        (["model=module:/no/file.py:make"], "model"),
        (["stimuli=photos"], "stimuli"),
        (["stimuli=images:/no/such/folder"], "stimuli"),
        (["layers=conv1,nolayer"], "layers"),
        (["model=torchvision:inception_v3", "image_size=32"], "image_size"),
        (["train_epochs=3"], "renamed to 'epochs'"),
        (["stimuli=sequences:/no/such.npz"], "stimuli: no such file"),
        (["timesteps=first"], "timesteps"),
        (["measures=cca,rsa"], "measures"),
        (["target=brain"], "target"),
        (["target=rdms:/no/such.npy"], "target: no such file"),
        (["rdm_metric=manhattan"], "rdm_metric"),
        (["compare_method=tau_b"], "compare_method"),
        (["random_inits=1"], "random_inits"),
        (["measure=cka"], "measure"),
        (["stimuli=samples", "n_stimuli=9"], "n_stimuli=9 is more than the 8 image files"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(cli, sets, key):
    args = ["run", "compare"]
    for s in sets:
        args += ["--set", s]
    res = cli(args)
    assert res.code == 2, res.err
    assert key in res.err and len(res.err.strip().splitlines()) == 1


def test_a_model_that_cannot_take_the_stimuli_is_one_line(cli, tmp_path):
    np.savez(tmp_path / "s.npz", x=np.zeros((5, 4, 3)))
    res = cli(["run", "compare", "--set", f"stimuli=sequences:{tmp_path / 's.npz'}"])  # LeNet takes images
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert "stimuli: LeNet" in res.err and "cannot take these stimuli ([4, 3] per item)" in res.err


def test_unreadable_weights_file(cli, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    res = cli(["run", "compare", "--set", f"weights={bad}"])
    assert res.code == 2 and "weights" in res.err
    other = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    res = cli(["run", "compare", "--set", f"weights={other}"])
    assert res.code == 2 and "does not fit" in res.err


CAST_MLP = """
import torch
from torch import nn

class Cast(nn.Module):  # the table's float32 stimuli in the default dtype (float64 in the test)
    def forward(self, x):
        return x.to(torch.get_default_dtype())

def make():
    return nn.Sequential(Cast(), nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
"""


def test_a_seed_sweep_is_one_group_equal_to_runs_one_by_one(tmp_path, monkeypatch):
    """run_many over seeds: one group, one run_many call; the draws shared between the trials' seed ranges (and the
    other-seed references) give each trial the metrics and arrays of its run alone, at float64."""
    from priorlab.experiments import compare
    from priorlab.runner import run_batch
    from priorlab.sweep.plan import Trial, group_trials

    (tmp_path / "mlp.py").write_text(CAST_MLP)
    np.save(tmp_path / "t.npy", np.random.default_rng(3).standard_normal((14, 5)).astype(np.float32))
    base = dict(model=f"module:{tmp_path / 'mlp.py'}:make", stimuli=f"table:{tmp_path / 't.npy'}", n_stimuli=14,
                random_inits=3, n_boot=30, measures=["cka", "procrustes"])
    values = [{**base, "seed": s} for s in (0, 2, 3)]
    assert len(group_trials("compare", [Trial(str(i), v) for i, v in enumerate(values)], workers=1)) == 1
    calls = []
    real = compare.run_many
    monkeypatch.setattr(compare, "run_many", lambda cfgs, ctxs: calls.append(len(cfgs)) or real(cfgs, ctxs))
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        group = run_batch("compare", values, trial_keys=[None] * 3, root=tmp_path / "runs")
        monkeypatch.setattr(compare, "run_many", real)
        alone = [priorlab.run("compare", root=tmp_path / "runs", **v) for v in values]
    finally:
        torch.set_default_dtype(old)
    assert calls == [3]
    for g, a in zip(group, alone):
        assert g.status == a.status == "done"
        assert set(g.metrics) == set(a.metrics)
        for k, v in a.metrics.items():
            assert g.metrics[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
        ga, aa = g.arrays(), a.arrays()
        assert ga["rdm_vs_target_random_draws"].dtype == np.float64
        for k in ("rdm_vs_target_random_draws", "cka_draws", "rdm_reference_vs_random_draws", "procrustes"):
            np.testing.assert_allclose(ga[k], aa[k], rtol=1e-9, atol=1e-12)
        assert {f.name for f in g.figures} == {f.name for f in a.figures}
        assert g.env["timing"]["shared"]["measure_s"]["split_evenly_over"] == 3
    # seeds 2 and 3 share two of their three draws: the same draw gives the same scores in both trials
    np.testing.assert_array_equal(group[1].arrays()["rdm_vs_target_random_draws"][1:],
                                  group[2].arrays()["rdm_vs_target_random_draws"][:2])


# ---------------------------------------------------------------------------------------------- pieces
def test_lenet_names_and_sizes():
    from priorlab.nets import lenet  # the builder, also after priorlab.nets.lenet was imported

    net = lenet()
    assert [n for n, _ in net.named_children()][:4] == ["conv1", "relu1", "pool1", "conv2"]
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert lenet(image_size=28)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_fit_classifier_learns_digits():
    from priorlab.data.digits import digits
    from priorlab.nets.lenet import lenet
    from priorlab.train.classify import accuracy, fit_classifier

    torch.manual_seed(0)
    split = digits(flatten=False)
    net = lenet()
    before = accuracy(net, split.x_test, split.y_test)
    after = fit_classifier(net, split, epochs=3)
    assert after > 0.8 and after > before + 0.5


def test_stimuli_digits_balanced_and_sorted():
    s = stimuli("digits", 30, None, 1)
    assert s.x.shape == (30, 1, 8, 8) and s.labels == sorted(s.labels)
    assert [s.labels.count(str(c)) for c in range(10)] == [3] * 10
    assert abs(s.x.mean().item()) < 1e-5 and abs(s.x.std().item() - 1) < 1e-3


def test_stimuli_samples_no_download():
    s = stimuli("samples", 20, 48, 3, seed=1, augment=True)
    assert s.x.shape == (20, 3, 48, 48) and len(set(s.labels)) >= 6 and s.n_original == 8
    assert torch.isfinite(s.x).all()
    assert torch.equal(s.x, stimuli("samples", 20, 48, 3, seed=1, augment=True).x)  # seeded crops


def test_stimuli_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cat in ("cats/small", "dogs"):
        (tmp_path / cat).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(
                tmp_path / cat / f"{i}.png"
            )
    (tmp_path / "notes.txt").write_text("not an image")
    s = stimuli(f"images:{tmp_path}", 4, 16, 1)
    assert s.x.shape == (4, 1, 16, 16) and s.labels == ["cats/small", "cats/small", "dogs", "dogs"]
    assert len(stimuli(f"images:{tmp_path}", 7, 16, 3, augment=True)) == 7  # more than the files: random crops
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"xx")
    with pytest.raises(UserError, match="cannot read image"):
        stimuli(f"images:{tmp_path}", 5, 16, 3)


# ---------------------------------------------------------------------------------------------- full size
@pytest.mark.slow
@pytest.mark.parametrize("model", ["torchvision:googlenet", "torchvision:inception_v3"])
def test_full_size_torchvision(tmp_path, model):
    run = _run(tmp_path, model=model, stimuli="samples", n_stimuli=16)
    assert run.status == "done" and run.metrics["layers"] >= 15
