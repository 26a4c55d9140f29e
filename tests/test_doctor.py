"""`priorlab doctor [--repair]`: integrity, foreign keys, folders vs index rows, stale `running` rows; --repair fixes
what can be fixed and says what it did; a clean root is reported clean."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

from priorlab.store import Store
from test_hostile_inputs import _fake_run


def test_clean_root_is_clean(cli, home):
    _fake_run(home)
    r = cli(["doctor"])
    assert r.code == 0 and "clean" in r.out and "problem" not in r.out


def test_stale_running_row_of_a_dead_process_is_marked_lost(cli, home):
    store = Store(home)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.begin("r-dead", "fit1d", home / "fit1d" / ".partial-r-dead", {}, 0)
    (home / "fit1d" / ".partial-r-dead").mkdir(parents=True)
    (home / "fit1d" / ".partial-r-dead" / "env.json").write_text(json.dumps({"status": "running"}))
    with store.connect() as con:  # owned by a process that has exited
        con.execute("UPDATE runs SET owner=? WHERE id='r-dead'", (f"{store_host()}:{dead.pid}:1",))
    store.begin("r-live", "fit1d", home / "fit1d" / ".partial-r-live", {}, 0)  # this live process
    r = cli(["doctor"])
    assert r.code == 0, r.out
    assert "r-dead" in r.out and "failed: lost" in r.out and "r-live" not in r.out
    st = {x["id"]: x["status"] for x in store.runs()}
    assert st == {"r-dead": "failed: lost", "r-live": "running"}
    assert (home / "fit1d" / ".failed-r-dead").is_dir()
    assert json.loads((home / "fit1d" / ".failed-r-dead" / "env.json").read_text())["status"] == "failed: lost"


def store_host() -> str:
    import socket

    return socket.gethostname()


def test_orphans_and_foreign_keys_reported_then_repaired(cli, home):
    store = Store(home)
    kept = _fake_run(home, "20260101-000000-aaaaaa")
    gone = _fake_run(home, "20260101-000001-bbbbbb")
    shutil.rmtree(gone)  # a done row whose folder was deleted
    orphan = _fake_run(home, "20260101-000002-cccccc")
    store.forget("20260101-000002-cccccc")  # a finished folder with no row
    (home / "fit1d" / ".failed-zzz").mkdir()  # a failed folder with no row
    con = sqlite3.connect(store.index_path)
    con.execute("INSERT INTO metrics (run_id, name, value) VALUES ('nobody', 'mse', 1.0)")
    con.commit()
    con.close()
    r = cli(["doctor"])
    assert r.code == 1
    for needle in ("belong to no run", "bbbbbb", str(orphan), ".failed-zzz", "--repair"):
        assert needle in r.out, r.out
    r = cli(["doctor", "--repair"])
    assert r.code == 0 and r.out.count("fixed:") == 4, r.out
    assert cli(["doctor"]).code == 0
    ids = {x["id"] for x in store.runs()}
    assert ids == {"20260101-000000-aaaaaa", "20260101-000002-cccccc"} and kept.is_dir()
    assert not (home / "fit1d" / ".failed-zzz").exists()
    with store.connect() as con:
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []


def test_damaged_index_is_set_aside_and_rebuilt_from_the_folders(cli, home):
    _fake_run(home, "20260101-000000-aaaaaa")
    (home / "index.sqlite").write_bytes(b"garbage" * 1000)
    r = cli(["doctor"])
    assert r.code == 1 and "index unreadable" in r.out
    r = cli(["doctor", "--repair"])
    assert r.code == 0 and "rebuilt" in r.out and "indexed as run 20260101-000000-aaaaaa" in r.out, r.out
    assert list(home.glob("index.sqlite.damaged-*"))
    assert [x["metrics"] for x in Store(home).runs()] == [{"mse": 0.5}]
    assert cli(["runs"]).code == 0
