"""Two `--resume` of one sweep at once: the second is refused with one line while the first holds the sweep's lock,
and nothing it could have written appears (the issue's case: 16 folders for 8 trials, metric rows of no run)."""

from __future__ import annotations

import subprocess
import sys
import time

from priorlab.store import Store
from priorlab.sweep import _plan

HOLD = ("import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.pwrite(fd, str(os.getpid()).encode(), 0)\n"
        "print('locked', flush=True)\n"
        "time.sleep(600)\n")


def test_second_resume_is_refused_while_the_first_runs(cli, home):
    store = Store(home)
    sw = _plan(store, "fit1d", {}, {"steps": 20, "frames": 2}, [0, 1], 100_000)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(store.sweep_folder(sw["id"]) / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"  # another process is running this sweep
        r = cli(["sweep", "--resume", sw["id"], "--quiet", "--workers", "1"])
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
        assert "already running" in r.err and str(holder.pid) in r.err
        assert store.runs() == [] and not list(home.glob("fit1d/*"))
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    # the lock goes with its process: a resume now runs each trial exactly once
    r = cli(["sweep", "--resume", sw["id"], "--quiet", "--workers", "1", "--device", "cpu"])
    assert r.code == 0, r.err
    rows = store.runs(sweep_id=sw["id"])
    assert sorted(x["trial_key"] for x in rows) == ["seed=0", "seed=1"]
    assert all(x["status"] == "done" for x in rows)
    assert len([p for p in home.glob("fit1d/*") if not p.name.startswith(".")]) == 2
    with store.connect() as con:
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_lock_is_exclusive_within_one_process_too(home):
    import pytest

    from priorlab.errors import UserError

    store = Store(home)
    with store.sweep_lock("sw-x"):
        with pytest.raises(UserError, match="already running"):
            with store.sweep_lock("sw-x"):
                pass
    with store.sweep_lock("sw-x"):  # released on exit
        pass
