"""The Ray backend on a real local Ray instance (2 CPUs, usage statistics off) gives the local backend's metrics.

Ray runs in a child process: its driver state (threads, vendored libraries) stays out of the pytest worker, where it
has crashed a later pyarrow read in the same process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("ray")

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import ray
    from priorlab.store import Store
    from priorlab.sweep import results, sweep

    grid, seeds, base = {"hidden": [2, 3]}, list(range(6)), {"steps": 20, "frames": 2, "n_eval": 10}  # 12 trials

    def metrics(root, sweep_id):
        rows, _, names = results(Store(root), sweep_id)
        return {"statuses": sorted({r["status"] for r in rows}),
                "values": {f"{r['hidden']},{r['seed']}": {n: r[n] for n in names} for r in rows}}

    root = sys.argv[1]
    local = sweep("fit1d", grid=grid, seeds=seeds, base=base, workers=2, root=root + "/local", quiet=True)
    on_ray = sweep("fit1d", grid=grid, seeds=seeds, base=base, workers=2, backend="ray", root=root + "/ray",
                   quiet=True)
    print(json.dumps({"ran": [local["ran"], on_ray["ran"]], "failed": [local["failed"], on_ray["failed"]],
                      "initialized": ray.is_initialized(),
                      "local": metrics(root + "/local", local["id"]), "ray": metrics(root + "/ray", on_ray["id"])}))
    """
)


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])  # Ray talks to its own processes on the loopback interface only
def test_ray_backend_equals_local_backend(tmp_path):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ran"] == [12, 12] and out["failed"] == [0, 0]
    assert not out["initialized"]  # the instance started for the sweep is shut down
    a, b = out["local"], out["ray"]
    assert a["statuses"] == b["statuses"] == ["done"]
    assert a["values"].keys() == b["values"].keys() and len(a["values"]) == 12
    for key, values in a["values"].items():
        for name, value in values.items():
            assert b["values"][key][name] == pytest.approx(value, rel=1e-6, abs=1e-9), (key, name)
