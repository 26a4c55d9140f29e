"""Run folders and the index: contents, atomic completion, SIGKILL safety, determinism, the Python API."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

import priorlab
from priorlab.store import Store

QUICK = dict(steps=40, frames=4)


def test_run_folder_has_every_file(home):
    run = priorlab.run("fit1d", seed=2, **QUICK)
    p = run.path
    assert run.status == "done" and p.parent == (home / "fit1d").resolve()
    for name in ("config.yaml", "metrics.json", "env.json", "model.safetensors", "arrays.npz", "report.html"):
        assert (p / name).is_file(), name
    figs = {f.name for f in (p / "figures").iterdir()}
    assert {"fit.png", "contributions.png", "extrapolation.png", "training.gif"} <= figs
    cfg = yaml.safe_load((p / "config.yaml").read_text())
    from priorlab.experiments.fit1d import Config

    assert set(cfg) == set(Config.model_fields)  # every field, defaults filled in
    env = json.loads((p / "env.json").read_text())
    for key in ("priorlab", "torch", "numpy", "python", "blas", "torch_threads", "device", "git_commit", "seed",
                "command", "start", "end", "status"):
        assert key in env, key
    assert env["status"] == "done" and env["seed"] == 2
    # weights load back without unpickling
    from safetensors.torch import load_file

    state = load_file(p / "model.safetensors")
    assert state["hidden.weight"].shape == (10, 1)
    assert not [q for q in p.parent.iterdir() if q.name.startswith(".partial-")]


def test_out_writes_exactly_there_and_index_rows(home, tmp_path):
    out = tmp_path / "exact" / "place"
    run = priorlab.run("fit1d", out=out, **QUICK)
    assert run.path == out.resolve() and (out / "report.html").exists()
    con = sqlite3.connect(home / "index.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = con.execute("SELECT id, status, path FROM runs").fetchall()
    assert rows == [(run.id, "done", str(out.resolve()))]
    names = {r[0] for r in con.execute("SELECT name FROM metrics WHERE run_id=?", (run.id,))}
    assert names == set(run.metrics)
    loaded = priorlab.load_run(out)
    assert loaded.metrics == run.metrics and loaded.config == run.config


def test_same_seed_same_metrics_twice(home):
    a = priorlab.run("fit1d", seed=5, activation="relu", hidden=20, **QUICK)
    b = priorlab.run("fit1d", seed=5, activation="relu", hidden=20, **QUICK)
    c = priorlab.run("fit1d", seed=6, activation="relu", hidden=20, **QUICK)
    assert a.metrics == b.metrics
    assert a.metrics != c.metrics


def test_sigkill_mid_training_leaves_nothing_finished(home):
    env = dict(os.environ, PRIORLAB_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "priorlab.cli", "run", "fit1d", "--set", "steps=1000000", "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            parts = list((home / "fit1d").glob(".partial-*")) if (home / "fit1d").exists() else []
            if parts and (parts[0] / "env.json").exists():
                break
            time.sleep(0.2)
        else:
            pytest.fail("run never started")
        time.sleep(1.0)  # now inside the training loop
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    finished = [p for p in (home / "fit1d").iterdir() if not p.name.startswith(".")]
    assert finished == []
    (partial,) = list((home / "fit1d").glob(".partial-*"))
    assert json.loads((partial / "env.json").read_text())["status"] == "running"
    assert not (partial / "report.html").exists()
    rows = Store(home).runs()
    assert [r["status"] for r in rows] == ["running"]
    con = sqlite3.connect(home / "index.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM runs WHERE status='done'").fetchone()[0] == 0


def test_svg_figures_on_request(home):
    run = priorlab.run("fit1d", figure_format="svg", **QUICK)
    figs = {f.name for f in run.figures}
    assert {"fit.png", "fit.svg", "extrapolation.svg"} <= figs
    assert (run.path / "figures" / "fit.svg").read_text().lstrip().startswith("<?xml")


def test_sweeps_table_round_trip_and_trial_rows(home):
    store = Store(home)
    assert store.sweeps() == [] and store.load_sweep("sw-x") is None and not store.index_path.exists()
    spec = {"base": {"iterations": 5}, "grid": {"hidden": [2, 3]}, "seeds": [0],
            "trials": [{"key": f"hidden={h},seed=0", "values": {"iterations": 5, "hidden": h, "seed": 0}}
                       for h in (2, 3)]}
    store.save_sweep("sw-x", "fit1d", spec)
    loaded = store.load_sweep("sw-x")
    assert loaded["experiment"] == "fit1d" and loaded["total"] == 2
    assert {k: loaded[k] for k in spec} == spec
    folder = home / "fit1d" / ".partial-a"
    folder.mkdir(parents=True)
    store.begin("a", "fit1d", folder, {}, 0, sweep_id="sw-x", trial_key="hidden=2,seed=0")
    store.begin("b", "fit1d", home / "fit1d" / "b", {}, 0, sweep_id="sw-x", trial_key="hidden=3,seed=0")
    store.finish("b", "done", home / "fit1d" / "b", {"mse": 0.5})
    assert store.trial_statuses("sw-x") == {"hidden=2,seed=0": "running", "hidden=3,seed=0": "done"}
    assert store.trial_rows("sw-x")["hidden=3,seed=0"]["metrics"] == {"mse": 0.5}
    (row,) = store.sweeps()
    assert (row["id"], row["done"], row["running"], row["failed"]) == ("sw-x", 1, 1, 0)
    assert store.recover() == [] and folder.exists()  # its owner (this process) is alive: left alone
    store.mark_lost("sw-x", ["hidden=2,seed=0", "hidden=3,seed=0"], "worker lost")
    assert store.trial_statuses("sw-x") == {"hidden=2,seed=0": "failed: worker lost", "hidden=3,seed=0": "done"}
    assert len(store.recover()) == 1  # the lost trial's half-written folder is moved aside
    assert not folder.exists() and (home / "fit1d" / ".failed-a").is_dir()
    assert store.sweep_folder("sw-x") == store.root / "sweeps" / "sw-x" and store.sweep_folder("sw-x").is_dir()
