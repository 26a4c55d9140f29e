"""Sweeps: planning, crash safety (SIGKILL + --resume), failures recorded, results and report page."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from priorlab.config import UserError
from priorlab.store import Store
from priorlab.sweep import results
from priorlab.sweep.plan import expand, parse_grid, parse_seeds, trial_key

# the cheapest fit1d trial that still writes a complete run folder
CHEAP = ["--set", "steps=20", "--set", "frames=2", "--set", "n_eval=10"]


def test_parse_seeds_and_grid():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,3,5") == [0, 3, 5]
    assert parse_seeds("7,0-2,2") == [0, 1, 2, 7]
    for bad in ("a-b", "5-2", "-1", ""):
        with pytest.raises(UserError, match="--seeds"):
            parse_seeds(bad)
    g = parse_grid(["activation=sigmoid,relu", "hidden=3,10", "networks=[sigmoid:10,relu:100],[cos:3]"])
    assert g == {
        "activation": ["sigmoid", "relu"],
        "hidden": [3, 10],
        "networks": [["sigmoid:10", "relu:100"], ["cos:3"]],
    }
    with pytest.raises(UserError, match="key=v1,v2"):
        parse_grid(["hidden"])
    with pytest.raises(UserError, match="--seeds"):
        parse_grid(["seed=1,2"])


def test_expand_is_the_full_product_with_unique_keys():
    trials = expand({"steps": 5}, {"activation": ["cos", "relu"], "hidden": [3, 10, 100]}, [0, 1])
    assert len(trials) == 2 * 3 * 2
    assert len({t.key for t in trials}) == len(trials)
    assert trials[0].values == {"steps": 5, "activation": "cos", "hidden": 3, "seed": 0}
    assert trial_key({"seed": 1, "hidden": 3}) == trial_key({"hidden": 3, "seed": 1}) == "hidden=3,seed=1"


def test_bad_sweeps_are_user_errors(cli):
    r = cli(["sweep", "fit1d", "--grid", "hiddn=3,4"])
    assert r.code == 2 and "hiddn" in r.err
    r = cli(["sweep", "fit1d", "--grid", "hidden=0,3"])  # validated for every trial before anything runs
    assert r.code == 2 and "'hidden'" in r.err
    r = cli(["sweep", "--resume", "sw-nope"])
    assert r.code == 2 and "no sweep 'sw-nope'" in r.err
    r = cli(["sweep", "fit1d", "--backend", "slurm"])
    assert r.code == 2 and "--backend" in r.err
    assert cli(["sweeps"]).out.strip() == "no sweeps yet"


def _index(home: Path):
    con = sqlite3.connect(home / "index.sqlite")
    con.row_factory = sqlite3.Row
    return con


def test_sigkill_halfway_then_resume_runs_every_trial_exactly_once(home):
    # two groups of 5 trials (one per activation) on one worker; once 4 trials are committed (the first group's,
    # in batched commits) the worker SIGKILLs the sweep's main process and itself: the whole sweep dies mid-way
    args = ["sweep", "fit1d", "--grid", "activation=sigmoid,cos", "--seeds", "0-4", *CHEAP, "--workers", "1",
            "--quiet"]
    env = {**os.environ, "PRIORLAB_HOME": str(home), "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-m", "priorlab.cli", *args], env={**env, "PRIORLAB_KILL_AT":
                            "after_commits:4"}, capture_output=True, text=True, timeout=400, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with _index(home) as con:
        finished = [r[0] for r in con.execute("SELECT finished FROM runs WHERE status='done'")]
    assert len(set(finished)) < len(finished)  # several trials were committed in one transaction

    (sweep,) = Store(home).sweeps()
    assert 4 <= sweep["done"] <= 5
    r = subprocess.run([sys.executable, "-m", "priorlab.cli", "sweep", "--resume", sweep["id"], "--quiet",
                        "--workers", "1"], env=env, capture_output=True, text=True, timeout=400, check=False)
    assert r.returncode == 0, r.stderr
    assert f"{10 - sweep['done']} trials run" in r.stdout

    with _index(home) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT trial_key, status, path FROM runs WHERE sweep_id=?", (sweep["id"],)).fetchall()
        keys = [r["trial_key"] for r in rows]
        assert sorted(keys) == sorted(t.key for t in expand({}, {"activation": ["sigmoid", "cos"]}, list(range(5))))
        assert len(set(keys)) == len(keys) == 10
        assert {r["status"] for r in rows} == {"done"}
        # every counted folder is complete and under its final name; no half-written folder is referenced
        for r in rows:
            p = Path(r["path"])
            assert not p.name.startswith("."), p
            assert (p / "metrics.json").exists() and (p / "report.html").exists()
        n_metrics = con.execute("SELECT COUNT(DISTINCT run_id) FROM metrics").fetchone()[0]
        assert n_metrics == 10
    finished = [p for p in (home / "fit1d").iterdir() if not p.name.startswith(".")]
    assert len(finished) == 10
    assert not [p for p in (home / "fit1d").iterdir() if p.name.startswith(".partial-")]


def test_failed_trial_is_recorded_and_does_not_stop_the_sweep(cli, home):
    r = cli(["sweep", "fit1d", "--grid", "lr=0.01,10", "--set", "activation=relu", "--set", "hidden=50",
             "--set", "optimizer=sgd", "--seeds", "0,1", *CHEAP, "--workers", "2", "--quiet"])
    assert r.code == 1, r.err
    assert "2 failed" in r.out and "--resume" in r.out
    (sweep,) = Store(home).sweeps()
    assert sweep["done"] == 2 and sweep["failed"] == 2
    rows, grid_keys, metrics = results(Store(home), sweep["id"])
    assert grid_keys == ["lr"] and "extrap_mse" in metrics
    for row in rows:
        if row["lr"] == 10:
            assert row["status"].startswith("failed: diverged at step")
        else:
            assert row["status"] == "done" and row["extrap_mse"] > 0

    # results: csv and parquet carry every trial; a run id is not a sweep
    r = cli(["show", sweep["id"], "--format", "csv"])
    lines = r.out.strip().splitlines()
    assert r.code == 0 and lines[0].startswith("lr,seed,status,") and len(lines) == 5
    r = cli(["show", sweep["id"], "--format", "parquet"])
    import pyarrow.parquet as pq

    table = pq.read_table(r.out.strip().splitlines()[-1])
    assert table.num_rows == 4 and sorted(table.column("seed").to_pylist()) == [0, 0, 1, 1]
    r = cli(["show", sweep["id"], "--format", "xml"])
    assert r.code == 2 and "table, csv, parquet" in r.err

    # the sweep page is linked from the report index and holds a metric-vs-parameter figure
    index = Path(cli(["report"]).out.strip())
    html = index.read_text()
    assert sweep["id"] in html and "sweep report" in html
    page = home / "sweeps" / sweep["id"] / "report.html"
    text = page.read_text()
    assert "extrap_mse vs lr" in text and "data:image/png;base64" in text
    assert cli(["sweeps"]).out.count(sweep["id"][:10]) == 1


def test_trial_timings_add_up_to_the_sweep_wall_time(home):
    """Consistency, not speed: every trial's env.json timing has each phase (≥ 0, the worker's start-up shared over
    its first group), and their totals over the sweep add up to its wall time within 20% (one worker)."""
    import priorlab.experiments.fit1d  # noqa: F401 - loaded before the clock starts (the test's own imports)
    from priorlab.sweep import sweep

    t0 = time.perf_counter()
    res = sweep("fit1d", grid={"hidden": [3, 10]}, base={"steps": 5000, "frames": 2}, seeds=list(range(6)), workers=1,
                device="cpu", root=home, quiet=True)
    wall = time.perf_counter() - t0
    assert res["failed"] == 0
    rows = Store(home).runs(sweep_id=res["id"])
    timings = [json.loads((Path(r["path"]) / "env.json").read_text())["timing"] for r in rows]
    assert len(timings) == 12
    for t in timings:
        for phase in ("startup_s", "train_s", "measure_s", "figures_s", "io_s"):
            assert t[phase] >= 0, (phase, t)
        assert t["shared"]["startup_s"] == {"split_evenly_over": 12}  # one group: the worker's first
        assert t["total_s"] == pytest.approx(sum(v for k, v in t.items() if k.endswith("_s") and k != "total_s"),
                                             abs=1e-3)
    assert len({t["startup_s"] for t in timings}) == 1  # split evenly (a forked worker starts in milliseconds)
    total = sum(t["total_s"] for t in timings)
    assert abs(total - wall) <= 0.2 * wall, (total, wall, timings[0])


def test_workers_fork_only_single_threaded_cpu_sweeps_on_linux(monkeypatch):
    """A forked worker starts with this process's imports, but must not inherit an OpenMP pool it would enter: fork
    only for one torch thread per worker, on the CPU, with no other thread running; spawn otherwise."""
    import threading

    import torch

    from priorlab.sweep.backends import start_method

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as in the CLI (pytest-xdist runs its own threads)
    assert start_method("cpu", 1) == "fork" and start_method("auto", 1) == "fork"
    assert start_method("cpu", 2) == "spawn"  # several threads per worker
    assert start_method("cuda", 1) == "spawn"
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert start_method("cpu", 1) == "spawn"  # another thread could hold a lock across the fork
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert start_method("cpu", 1) == "spawn"
