"""The locality experiment end to end: LeNet on digits (metrics, figures, sweep and sparsity in the report), the
RNN variant, AlexNet-fc6 on a generated image folder, MNIST from IDX files, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats

import priorlab
from claimcheck import assert_verdicts_consistent
from figcheck import assert_redraws

METRICS = {
    "acc_control", "acc_locality", "spatial_var_control", "spatial_var_locality", "t_images", "p_images",
    "t_classmeans", "p_classmeans", "smoothness_control", "smoothness_locality", "acc_diff", "spatial_var_diff",
    "spatial_var_rel_diff", "spatial_var_class_diff", "smoothness_diff",
}
FIGURES = {"differences", "class_maps", "mean_subtracted", "input_maps", "prior", "prior_1d", "smoothness",
           "sparsity", "sweep"}
SMALL = {"repeats": 2, "epochs": 1, "train_limit": 200, "test_limit": 120, "sweep_repeats": 1,
         "sweep_costs": ["linear", "sqrt"], "sweep_strengths": [1.0], "keep_fractions": [1.0, 0.1]}
# three seeds per sweep point; linear/sqrt/quadratic × strengths 1, 2 give a = 1, 2 | 0.5, 1 | 2, 4
SWEEP = {**SMALL, "repeats": 3, "sweep_repeats": 3, "sweep_costs": ["linear", "sqrt", "quadratic"],
         "sweep_strengths": [1.0, 2.0]}


def test_lenet_on_digits_writes_metrics_figures_and_report(home):
    run = priorlab.run("locality", **SWEEP)
    assert run.status == "done"
    m = run.metrics
    assert METRICS <= set(m)
    assert all(np.isfinite(m[k]) for k in METRICS)
    assert 0 <= m["p_images"] <= 1 and 0 <= m["p_classmeans"] <= 1
    assert all(0 <= m[f"acc_{k}"] <= 1 for k in ("control", "locality"))  # a fraction
    assert FIGURES <= {f.stem for f in run.figures}
    arrays = run.arrays()
    assert arrays["sparsity_locality"].shape == (3, 2)
    # per-image spatial variances of a 7x7 sheet lie between a point (0) and the two far corners (18)
    v, c = arrays["var_image_locality"], arrays["var_image_control"]
    assert v.shape == (3, 120) and np.nanmax(v) <= 18 + 1e-9 and np.nanmin(v) >= 0
    # both tests against scipy on the saved pairs: (image, seed) and (class, seed)
    ok = np.isfinite(v) & np.isfinite(c)
    ref = scipy.stats.ttest_rel(v[ok], c[ok])
    assert m["t_images"] == pytest.approx(ref.statistic) and m["p_images"] == pytest.approx(ref.pvalue)
    vc, cc = arrays["var_class_locality"].ravel(), arrays["var_class_control"].ravel()
    ref = scipy.stats.ttest_rel(vc, cc)
    assert m["t_classmeans"] == pytest.approx(ref.statistic) and m["p_classmeans"] == pytest.approx(ref.pvalue)
    # paired differences with their CIs
    assert m["spatial_var_diff"] == pytest.approx(np.mean(v[ok] - c[ok]))
    for k in ("acc_diff", "spatial_var_diff", "spatial_var_class_diff", "smoothness_diff", "spatial_var_rel_diff"):
        assert m[f"{k}_ci_low"] <= m[k] <= m[f"{k}_ci_high"], k
    # the cost sweep: one point per distinct exponent a, each with 3 seeds
    a = {{"linear": 1.0, "sqrt": 0.5, "quadratic": 2.0}[cost] * s for cost in SWEEP["sweep_costs"]
         for s in SWEEP["sweep_strengths"]}
    assert sorted(arrays["sweep_a"]) == sorted(a) == [0.5, 1.0, 2.0, 4.0]
    for tag in ("a0p5", "a1", "a2", "a4"):
        assert {f"sweep_acc_diff_{tag}", f"sweep_var_diff_{tag}_ci_low", f"p_sweep_{tag}"} <= set(m)
    # the a = 1 point reuses the first three seeds' networks of the main comparison
    assert m["sweep_acc_diff_a1"] == pytest.approx(m["acc_diff"])
    report = (run.path / "report.html").read_text()
    assert "Cost sweep: one row per distinct prior" in report and "linear×2, quadratic×1" in report
    # the page says which test is significant, from the numbers
    significant = [name for name, p in (("per-image", m["p_images"]), ("class-mean", m["p_classmeans"])) if p < 0.05]
    line = report.split("Significant at 0.05: ")[1].split(";")[0]
    assert all(f"the {name} test" in line for name in significant)
    assert line == "neither test" or significant
    rows = assert_verdicts_consistent(run.path)
    assert {r["metric"] for r in rows} >= {"acc_diff", "spatial_var_rel_diff", "sweep_acc_diff_a2", "p_sweep_a0p5"}
    # every figure is drawn from the arrays (locality.draw): the same files again; training is timed as train
    assert {n.removesuffix(".png") for n in assert_redraws(run.path)} == FIGURES
    timing = run.env["timing"]
    assert timing["train_s"] > 0 and timing["measure_s"] > 0 and timing["figures_s"] > 0


def test_strength_zero_is_the_control_and_flips_the_clustering_claim(home):
    """P = g(d)^0 = 1: each locality net is its control, to the bit; the study's drop is then not there."""
    run = priorlab.run("locality", strength=0.0, **{**SMALL, "sweep_repeats": 0})
    a = run.arrays()
    np.testing.assert_array_equal(a["var_image_locality"], a["var_image_control"])
    assert run.metrics["acc_diff"] == 0 and run.metrics["spatial_var_rel_diff"] == 0
    rows = {r["metric"]: r for r in assert_verdicts_consistent(run.path)}
    assert rows["spatial_var_rel_diff"]["verdict"] == "differs"
    assert rows["acc_diff"]["verdict"] == "reproduces"  # no accuracy cost either
    assert rows["sweep_acc_diff_a2"]["verdict"] == "not tested at this scale"  # no sweep in this run


def test_claims_follow_the_config():
    from priorlab.experiments import locality

    cfg = locality.Config
    assert all(c.applies is not True for c in locality.claims(cfg(method="wiring")))
    assert all(c.applies is not True for c in locality.claims(cfg(form="output")))
    sweep = [c for c in locality.claims(cfg(sweep_costs=["linear"], sweep_strengths=[1.0])) if "sweep" in c.metric_name]
    assert sweep and all(c.applies is not True for c in sweep)  # a = ½ and a = 2 are not in a linear-only sweep
    rnn = locality.claims(cfg(model="rnn"))
    assert rnn and all(c.claim.startswith("RNN") and "extension" in c.source for c in rnn)
    alex = locality.claims(cfg(model="alexnet-fc6", data="samples"))
    assert alex and all(isinstance(c.applies, str) and "ImageNet" in c.applies for c in alex)
    assert "RNN" in locality.setup(cfg(model="rnn")) and "extension" in locality.setup(cfg(model="rnn"))


def test_axes_of_accuracy_and_variance_start_at_zero_or_show_differences():
    from priorlab.viz import locality as viz

    rng = np.random.default_rng(0)
    fig = viz.sparsity_figure(np.array([1.0, 0.1]), {"control": rng.uniform(0.8, 0.9, (3, 2)),
                                                    "locality": rng.uniform(0.8, 0.9, (3, 2))}, 0.1)
    assert fig.axes[0].get_ylim()[0] == 0
    d = {"acc": rng.normal(-0.1, 0.01, 3), "var_image": rng.normal(-0.5, 0.1, (3, 50)),
         "var_class": rng.normal(-0.5, 0.1, (3, 10)), "smooth": rng.normal(0.2, 0.01, 3)}
    fig = viz.differences_figure(d, {"images": (-3.0, 0.01), "classmeans": (-1.0, 0.3)}, "t")
    for ax in fig.axes[:4]:  # every difference axis shows 0, even when all differences share a sign
        lo, hi = ax.get_ylim()
        assert lo < 0 < hi
    assert "(significant at 0.05)" in fig.axes[1].get_title() and "not significant" in fig.axes[2].get_title()
    pts = [{"kind": "power", "a": a, "label": "x", "acc": rng.normal(-0.01, 0.01, 3),
            "var": rng.normal(-0.3, 0.1, 60), "smooth": rng.normal(0, 0.01, 3)} for a in (0.5, 1, 2)]
    for ax in viz.sweep_figure(pts, "t").axes[:3]:
        lo, hi = ax.get_ylim()
        assert lo < 0 < hi and [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "2"]


def test_samples_is_an_image_folder_written_in_the_run(tmp_path):
    pytest.importorskip("skimage")
    from priorlab.data.samplefolder import sample_photos
    from priorlab.experiments import locality

    split = locality.load_data(locality.Config(model="alexnet-fc6", data="samples"), tmp_path)
    photos = sample_photos()
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == sorted(p.stem for p in photos)
    assert split.n_classes == len(photos) and split.x_train.shape[1:] == (3, 64, 64)
    assert len(split.y_train) + len(split.y_test) == 16 * len(photos)
    assert set(split.y_test.tolist()) == set(range(len(photos)))  # stratified


def test_rnn_variant_is_an_extension_with_its_own_claims(home):
    run = priorlab.run("locality", model="rnn", **SMALL)
    assert run.status == "done"
    assert METRICS <= set(run.metrics)
    assert {f.stem for f in run.figures} == FIGURES - {"input_maps"}  # the recurrent matrix reads the sheet
    assert_redraws(run.path)
    rows = assert_verdicts_consistent(run.path)
    assert rows and all(r["claim"].startswith("RNN") for r in rows)
    report = (run.path / "report.html").read_text()
    assert "RNN extension" in report and "LeNet on MNIST" not in report


def test_wiring_cost_alternative_runs(home):
    run = priorlab.run("locality", method="wiring", wiring_lambda=0.01, **SMALL)
    assert run.status == "done" and METRICS <= set(run.metrics)


def test_mnist_folder(home, tmp_path):
    from priorlab.data.mnist import FILES, write_idx

    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for key, stem in FILES.items():
        n = 60 if "train" in key else 30
        a = rng.integers(0, 256, (n, 28, 28)) if key.startswith("x") else np.arange(n) % 10
        write_idx(folder / (stem + ".gz"), a.astype(np.uint8))
    run = priorlab.run("locality", data=f"mnist:{folder}", repeats=1, epochs=1, sweep_repeats=0,
                       keep_fractions=[1.0])
    assert run.status == "done" and METRICS <= set(run.metrics)


def test_alexnet_fc6_on_an_image_folder(home, tmp_path):
    pytest.importorskip("torchvision")  # the `vision` extra
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    for c in ("cats", "dogs"):
        (folder / c).mkdir(parents=True)
        for i in range(6):
            img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(img).save(folder / c / f"{i}.png")
    run = priorlab.run("locality", model="alexnet-fc6", data=f"images:{folder}", image_size=64, repeats=1,
                       epochs=1, batch_size=4, sweep_repeats=0, keep_fractions=[1.0])
    assert run.status == "done", (run.path / "traceback.txt").read_text() if (run.path / "traceback.txt").exists() else ""
    assert METRICS <= set(run.metrics)
    maps = run.arrays()["class_maps_locality"]
    assert maps.shape == (1, 2, 4096)  # a 64x64 sheet


@pytest.mark.parametrize(
    "args, key",
    [
        (["--set", "data=cifar"], "data"),
        (["--set", "model=alexnet-fc6"], "data=images"),
        (["--set", "cost=cubic"], "cost"),
        (["--set", "repeats=0"], "repeats"),
        (["--set", "keep_fractions=1,1.5"], "keep_fractions"),
        (["--set", "sweep_strengths=1,11"], "sweep_strengths"),
        (["--set", "data=images:/tmp/x"], "data=images"),
        (["--set", "data=samples"], "data=samples"),
        (["--set", "data=mnist:/nonexistent/folder"], "nonexistent"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(cli, args, key):
    res = cli(["run", "locality", *args])
    assert res.code == 2
    assert key in res.err and "Traceback" not in res.err


@pytest.mark.slow
def test_acceptance_digits_five_seeds(home):
    """Issue 5, acceptance 2: locality within 2 points of control, spatial variance lower with p < 0.01."""
    run = priorlab.run("locality", repeats=5, sweep_repeats=0)
    m = run.metrics
    print(json.dumps(m, indent=1))
    assert abs(m["acc_locality"] - m["acc_control"]) <= 0.02
    assert m["spatial_var_locality"] < m["spatial_var_control"] and m["t_images"] < 0 and m["p_images"] < 0.01
