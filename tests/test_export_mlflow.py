"""`priorlab export mlflow RUN|SWEEP`: read back with MLflow's own client — every metric, the params, the artifacts."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install 'priorlab[mlflow]')")

CHEAP = ["--set", "steps=20", "--set", "frames=2", "--set", "n_eval=10"]


@pytest.fixture
def client_for(monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for reading back here; the export sets it itself
    return lambda uri: mlflow.MlflowClient(tracking_uri=uri)


def _exported(out: str) -> list[tuple[str, str]]:
    return [(line.split()[1], line.split()[5]) for line in out.splitlines() if line.startswith(("exported", "skipped"))]


def test_a_run_round_trips_every_metric(cli, home, tmp_path, client_for, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    assert cli(["run", "fit1d", *CHEAP, "--quiet"]).code == 0
    run = json.loads(cli(["runs", "--format", "json"]).out)[0]
    uri = f"file:{tmp_path / 'mlruns'}"
    res = cli(["export", "mlflow", run["id"], "--tracking-uri", uri])
    assert res.code == 0, res.err
    [(rid, mlflow_id)] = _exported(res.out)
    assert rid == run["id"]
    got = client_for(uri).get_run(mlflow_id)
    want = {k: v for k, v in run["metrics"].items()}
    assert set(got.data.metrics) == set(want)
    for k, v in want.items():
        if v is None:
            assert math.isnan(got.data.metrics[k])
        else:
            assert got.data.metrics[k] == pytest.approx(v, rel=1e-12), k
    assert got.data.params["hidden"] == str(run["config"]["hidden"])
    assert got.data.params["steps"] == "20"
    assert got.data.tags["priorlab.run_id"] == run["id"] and got.info.status == "FINISHED"
    arts = {a.path for a in client_for(uri).list_artifacts(mlflow_id)}
    assert {"report.html", "config.yaml", "metrics.json", "env.json", "figures"} <= arts
    figures = {a.path for a in client_for(uri).list_artifacts(mlflow_id, "figures")}
    assert figures and all(f.startswith("figures/") for f in figures)
    # a second export of the same run is skipped, not duplicated
    again = cli(["export", "mlflow", run["id"], "--tracking-uri", uri])
    assert again.out.startswith("skipped") and _exported(again.out)[0][1] == mlflow_id


def test_a_sweep_exports_each_trial_with_its_weights(cli, home, tmp_path, client_for):
    import torch
    from torch import nn

    import priorlab

    # a compare run made through the API carries weights (reference.safetensors)
    res = priorlab.compare(nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)), torch.randn(8, 4),
                           device="cpu")
    saved = res.save()
    uri = f"file:{tmp_path / 'ml'}"
    out = cli(["export", "mlflow", saved.id, "--tracking-uri", uri, "--experiment-name", "mine"])
    assert out.code == 0, out.err
    [(_, mid)] = _exported(out.out)
    client = client_for(uri)
    assert {a.path for a in client.list_artifacts(mid, "weights")} == {"weights/reference.safetensors"}
    assert client.get_experiment_by_name("mine") is not None
    assert cli(["sweep", "fit1d", *CHEAP, "--grid", "hidden=2,3", "--workers", "1", "--quiet"]).code == 0
    sweep_id = json.loads(cli(["runs", "--format", "json"]).out)[-1]["sweep_id"]
    out = cli(["export", "mlflow", sweep_id, "--tracking-uri", uri])
    exported = _exported(out.out)
    assert len(exported) == 2
    runs = client.search_runs([client.get_experiment_by_name("priorlab-fit1d").experiment_id])
    assert {r.data.tags["priorlab.sweep_id"] for r in runs} == {sweep_id}
    assert sorted(r.data.params["hidden"] for r in runs) == ["2", "3"]


def test_export_errors_are_one_line(cli, tmp_path):
    r = cli(["export", "mlflow", "nope", "--tracking-uri", f"file:{tmp_path}"])
    assert r.code == 2 and "no run 'nope'" in r.err and len(r.err.strip().splitlines()) == 1


def test_the_cli_does_not_import_mlflow_at_start_up():
    code = "import sys, priorlab.cli; sys.exit('mlflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ}).returncode == 0
