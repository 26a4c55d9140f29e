"""The locality experiment end to end: LeNet on digits (metrics, figures, sweep and sparsity in the report), the
RNN variant, AlexNet-fc6 on a generated image folder, MNIST from IDX files, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import priorlab

METRICS = {
    "acc_control", "acc_locality", "spatial_var_control", "spatial_var_locality", "t_images", "p_images",
    "t_classmeans", "p_classmeans", "smoothness_control", "smoothness_locality",
}
SMALL = {"repeats": 2, "epochs": 1, "train_limit": 200, "test_limit": 120, "sweep_repeats": 1,
         "sweep_costs": ["linear", "sqrt"], "sweep_strengths": [1.0], "keep_fractions": [1.0, 0.1]}


def test_lenet_on_digits_writes_metrics_figures_and_report(home):
    run = priorlab.run("locality", **SMALL)
    assert run.status == "done"
    assert METRICS <= set(run.metrics)
    assert all(np.isfinite(run.metrics[k]) for k in METRICS)
    assert 0 <= run.metrics["p_images"] <= 1 and 0 <= run.metrics["p_classmeans"] <= 1
    assert all(0 <= run.metrics[f"acc_{k}"] <= 1 for k in ("control", "locality"))  # a fraction
    names = {f.stem for f in run.figures}
    assert {"class_maps", "prior", "spatial_variance", "smoothness", "sparsity", "sweep"} <= names
    report = (run.path / "report.html").read_text()
    assert "Cost sweep" in report and "sparsity" in report
    arrays = run.arrays()
    # pruning everything but 10% of the sheet layer can only be as good as chance or better, never NaN
    assert arrays["sparsity_locality"].shape == (2, 2)
    # per-image spatial variances of a 7x7 sheet lie between a point (0) and the two far corners (18)
    v = arrays["var_image_locality"]
    assert v.shape == (2, 120) and np.nanmax(v) <= 18 + 1e-9 and np.nanmin(v) >= 0


def test_rnn_variant_reports_the_same_measures(home):
    run = priorlab.run("locality", model="rnn", **SMALL)
    assert run.status == "done"
    assert METRICS <= set(run.metrics)
    assert {"class_maps", "sparsity", "sweep"} <= {f.stem for f in run.figures}


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
