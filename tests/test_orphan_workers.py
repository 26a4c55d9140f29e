"""SIGKILL of a sweep's main process only (what the OOM killer does): no worker (nor the resource tracker) is alive
5 s later, so none can write into the runs root after the sweep died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_the_sweep_main_process_leaves_no_worker(home):
    if not Path("/proc").is_dir():
        import pytest

        pytest.skip("needs /proc to find the workers")
    env = dict(os.environ, PRIORLAB_HOME=str(home), OMP_NUM_THREADS="1")
    main = subprocess.Popen([sys.executable, "-m", "priorlab.cli", "sweep", "fit1d", "--seeds", "0-3", "--workers",
                             "2", "--set", "steps=1000000", "--set", "frames=2", "--quiet", "--device", "cpu"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # until both workers are training (their rows are 'running')
        workers |= _children(main.pid)
        running = list(home.glob("fit1d/.partial-*"))
        if len(running) >= 2:
            break
        time.sleep(0.5)
    workers |= _children(main.pid)
    assert len(running) >= 2 and len(workers) >= 2, (running, workers)
    main.send_signal(signal.SIGKILL)
    main.wait()
    time.sleep(5)
    alive = [p for p in workers if _alive(p)]
    for p in alive:  # clean up before failing
        os.kill(p, signal.SIGKILL)
    assert alive == []
