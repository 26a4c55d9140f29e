"""The Ray backend on a real local Ray instance (2 CPUs, usage statistics off) gives the local backend's metrics."""

from __future__ import annotations

import pytest

from priorlab.store import Store
from priorlab.sweep import results, sweep

ray = pytest.importorskip("ray")

GRID = {"hidden": [2, 3]}
SEEDS = list(range(6))  # 12 trials
BASE = {"steps": 20, "frames": 2, "n_eval": 10}


def _metrics(root, sweep_id):
    rows, _, names = results(Store(root), sweep_id)
    assert {r["status"] for r in rows} == {"done"}
    return {(r["hidden"], r["seed"]): {n: r[n] for n in names} for r in rows}


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])  # Ray talks to its own processes on the loopback interface only
def test_ray_backend_equals_local_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    local = sweep("fit1d", grid=GRID, seeds=SEEDS, base=BASE, workers=2, root=tmp_path / "local", quiet=True)
    on_ray = sweep("fit1d", grid=GRID, seeds=SEEDS, base=BASE, workers=2, backend="ray", root=tmp_path / "ray",
                   quiet=True)
    assert local["ran"] == on_ray["ran"] == 12 and local["failed"] == on_ray["failed"] == 0
    assert not ray.is_initialized()  # the instance started for the sweep is shut down
    a, b = _metrics(tmp_path / "local", local["id"]), _metrics(tmp_path / "ray", on_ray["id"])
    assert a.keys() == b.keys() and len(a) == 12
    for key in a:
        for name, value in a[key].items():
            assert b[key][name] == pytest.approx(value, rel=1e-6, abs=1e-9), (key, name)
