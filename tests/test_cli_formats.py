"""`priorlab runs --format table|csv|json`, `show --format json`, whole ids on pipes, results.parquet after a sweep."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

CHEAP = ["--set", "steps=20", "--set", "frames=2", "--set", "n_eval=10"]  # the cheapest complete fit1d run


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A runs root with one run and a 2-trial sweep, made in-process once for the module."""
    import os

    from priorlab.cli import main

    root = tmp_path_factory.mktemp("formats") / "runs"
    old = os.environ.get("PRIORLAB_HOME")
    os.environ["PRIORLAB_HOME"] = str(root)
    try:
        assert main(["run", "fit1d", *CHEAP, "--set", "hidden=5", "--seed", "3", "--quiet"]) == 0
        assert main(["sweep", "fit1d", *CHEAP, "--grid", "hidden=2,4", "--workers", "1", "--quiet"]) == 0
    finally:
        if old is None:
            os.environ.pop("PRIORLAB_HOME")
        else:
            os.environ["PRIORLAB_HOME"] = old
    return root


def _pipe(root, *args) -> str:
    """`priorlab ARGS | cat`: stdout is a pipe, as in a shell."""
    cmd = f"{sys.executable} -m priorlab.cli {' '.join(args)} | cat"
    env = {**__import__("os").environ, "PRIORLAB_HOME": str(root)}
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, env=env, check=True)
    return out.stdout


def test_runs_csv_parses_in_a_pipe_with_every_metric(filled):
    from priorlab.store import Store

    text = _pipe(filled, "runs", "--format", "csv")
    check = subprocess.run([sys.executable, "-c", "import csv,sys; rows=list(csv.DictReader(sys.stdin)); "
                            "print(len(rows), rows[0]['id'])"], input=text, capture_output=True, text=True)
    assert check.returncode == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    index = Store(filled).runs()
    assert [r["id"] for r in rows] == [r["id"] for r in index]  # whole ids, oldest first
    assert check.stdout.split() == [str(len(index)), index[0]["id"]]
    for row, want in zip(rows, index):
        assert row["experiment"] == "fit1d" and row["status"] == "done" and row["path"] == want["path"]
        for name, value in want["metrics"].items():
            assert float(row[name]) == pytest.approx(value, rel=1e-12)
    swept = [r for r in rows if r["sweep_id"]]
    assert len(swept) == 2


def test_runs_json_and_table(filled, monkeypatch, cli):
    monkeypatch.setenv("PRIORLAB_HOME", str(filled))
    r = cli(["runs", "--format", "json", "--limit", "2"])
    data = json.loads(r.out)
    assert len(data) == 2 and {"id", "metrics", "config", "path", "sweep_id"} <= set(data[0])
    assert data[-1]["config"]["hidden"] in (2, 4)
    table = cli(["runs"]).out.splitlines()
    assert table[0].split() == ["id", "experiment", "status", "seed", "metrics"]
    assert len(table) == 1 + 3 and all(len(line.split()[0]) == len(data[0]["id"]) for line in table[1:])
    bad = cli(["runs", "--format", "xml"])
    assert bad.code == 2 and "invalid --format 'xml'" in bad.err


def test_show_json(filled, monkeypatch, cli):
    monkeypatch.setenv("PRIORLAB_HOME", str(filled))
    rid = json.loads(cli(["runs", "--format", "json"]).out)[0]["id"]
    shown = json.loads(cli(["show", rid, "--format", "json"]).out)
    assert shown["env"]["run_id"] == rid and shown["config"]["hidden"] == 5 and shown["metrics"]


def test_piped_sweeps_show_whole_ids(filled):
    from priorlab.store import Store

    sweep_id = Store(filled).sweeps()[0]["id"]
    out = _pipe(filled, "sweeps")
    lines = out.splitlines()
    assert lines[0].split() == ["id", "experiment", "created", "progress", "failed", "running"]
    assert lines[1].split()[0] == sweep_id and "2/2" in lines[1]
    assert "…" not in out and "━" not in out  # plain text, nothing cut



def test_piped_sweep_table_is_plain(filled, monkeypatch, cli):
    from priorlab.store import Store

    monkeypatch.setenv("PRIORLAB_HOME", str(filled))
    sweep_id = Store(filled).sweeps()[0]["id"]
    table = cli(["show", sweep_id]).out
    run_ids = {r["id"] for r in Store(filled).runs(sweep_id=sweep_id)}
    assert {line.split()[-1] for line in table.splitlines()[1:]} == run_ids


def test_results_parquet_is_written_when_the_sweep_ends(filled):
    pq = pytest.importorskip("pyarrow.parquet")
    from priorlab.store import Store

    store = Store(filled)
    sweep_id = store.sweeps()[0]["id"]
    table = pq.read_table(store.root / "sweeps" / sweep_id / "results.parquet").to_pylist()
    runs = {r["id"]: r for r in store.runs(sweep_id=sweep_id)}
    assert sorted(r["hidden"] for r in table) == [2, 4]
    for row in table:
        assert row["status"] == "done"
        for name, value in runs[row["run"]]["metrics"].items():
            assert row[name] == pytest.approx(value, rel=1e-12)


def test_a_terminal_still_gets_the_rich_table(filled, monkeypatch, cli):
    monkeypatch.setenv("PRIORLAB_HOME", str(filled))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert "━" in cli(["sweeps"]).out
