"""Load test of the playground (issue 16): N concurrent sessions stepping against a real server on loopback.

Starts `priorlab serve` on a free 127.0.0.1 port (a subprocess, stopped by its PID), opens ``--sessions`` sessions
(fit1d and fold alternately, each with its own seed, width and activation), and from one client thread per session
posts ``{"steps": --steps}`` as fast as answers come for ``--seconds`` seconds, reading the session's state every
``--state-every`` calls. Reports step-call latency (p50 / p95 / p99 / max), steps per second, and checks:

- the server stays up (it answers after the load, its process is alive, no call failed);
- no session's state is mixed with another's: each state names its own session id and config, and each session's
  full loss curve (every step, as the step calls returned it) equals the curve of the same session replayed alone
  in this process with the same calls.

    OMP_NUM_THREADS=1 .venv/bin/python bench/serve_load.py                 # 30 sessions, 20 s
    OMP_NUM_THREADS=1 .venv/bin/python bench/serve_load.py --sessions 5 --seconds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_of(i: int) -> tuple[str, dict]:
    if i % 2 == 0:
        acts = ["tanh", "cos", "relu", "sigmoid", "saw"]
        return "fit1d", {"activation": acts[(i // 2) % 5], "hidden": 4 + (i % 7) * 6, "depth": 1 + (i // 2) % 3,
                         "seed": i}
    acts = ["tanh", "relu", "cos"]
    return "fold", {"activation": acts[(i // 2) % 3], "width": 4 + (i % 5) * 3, "hidden_layers": 2 + i % 4,
                    "task": ["spiral", "circles", "moons", "xor", "gaussians"][i % 5], "classes": 2 + i % 3,
                    "seed": i}


class Worker(threading.Thread):
    def __init__(self, base: str, i: int, args, stop: threading.Event, ready: threading.Barrier):
        super().__init__(daemon=True)
        self.base, self.i, self.args, self.stop, self.ready = base, i, args, stop, ready
        self.experiment, self.config = config_of(i)
        self.latencies: list[float] = []
        self.losses: list[float | None] = []
        self.calls: list[int] = []
        self.problems: list[str] = []

    def run(self):
        with httpx.Client(base_url=self.base, timeout=60) as c:
            r = c.post("/api/sessions", json={"experiment": self.experiment, "config": self.config})
            self.ready.wait()  # every session made: the clock starts
            if r.status_code != 200:
                self.problems.append(f"create: {r.status_code} {r.text}")
                return
            self.id = r.json()["id"]
            n = 0
            while not self.stop.is_set():
                t = time.perf_counter()
                r = c.post(f"/api/sessions/{self.id}/step", json={"steps": self.args.steps})
                self.latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    self.problems.append(f"step: {r.status_code} {r.text}")
                    return
                body = r.json()
                self.calls.append(len(body["losses"]))
                self.losses += body["losses"]
                if body["stopped"]:
                    break
                n += 1
                if n % self.args.state_every == 0:
                    s = c.get(f"/api/sessions/{self.id}/state").json()
                    mine = {k: s["config"][k] for k in self.config}
                    if s["id"] != self.id or mine != self.config or s["step"] != len(self.losses):
                        self.problems.append(f"state of {s['id']} at step {s['step']} is not this session's")


def replay(worker: Worker) -> bool:
    """The same session alone, in this process, with the same step calls: the same loss curve?"""
    from priorlab.serve.sessions import Manager, _num

    session = Manager().create(worker.experiment, worker.config)
    losses = []
    for n in worker.calls:
        losses += session.step(n)["losses"]
    return losses == worker.losses and all(v == _num(v) for v in losses if v is not None)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--steps", type=int, default=10, help="optimizer steps per call")
    ap.add_argument("--state-every", type=int, default=5, help="read the state every N step calls")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)  # as the server: the replay must do the same arithmetic
    port = free_port()
    home = tempfile.mkdtemp(prefix="priorlab-load-")
    env = {**os.environ, "PRIORLAB_HOME": home, "PYTHONPATH": str(REPO / "src")}
    server = subprocess.Popen([sys.executable, "-m", "priorlab.cli", "serve", "--port", str(port), "--max-sessions",
                               str(max(64, args.sessions))], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/api/experiments", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print("the server did not start:", server.stderr.read().decode(), file=sys.stderr)
                    return 1
                time.sleep(0.2)
        for experiment in ("fit1d", "fold"):  # warm up the server's first calls
            sid = httpx.post(base + "/api/sessions", json={"experiment": experiment}, timeout=60).json()["id"]
            httpx.post(f"{base}/api/sessions/{sid}/step", json={"steps": 1}, timeout=60)
            httpx.delete(f"{base}/api/sessions/{sid}", timeout=60)
        stop, ready = threading.Event(), threading.Barrier(args.sessions + 1)
        workers = [Worker(base, i, args, stop, ready) for i in range(args.sessions)]
        for w in workers:
            w.start()
        ready.wait(120)
        t0 = time.perf_counter()
        time.sleep(args.seconds)
        stop.set()
        for w in workers:
            w.join()
        wall = time.perf_counter() - t0
        alive = server.poll() is None and httpx.get(base + "/api/experiments", timeout=10).status_code == 200
        load = os.getloadavg()[0]
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(20)
    lat = [v for w in workers for v in w.latencies]
    for p in [p for w in workers for p in w.problems][:5]:
        print("problem:", p, file=sys.stderr)
    if not lat:
        return 1
    steps = sum(len(w.losses) for w in workers)
    problems = [p for w in workers for p in w.problems]
    mixed = [w.i for w in workers if not w.problems and not replay(w)]
    result = {
        "sessions": args.sessions, "seconds": round(wall, 1), "steps_per_call": args.steps,
        "calls": len(lat), "steps": steps, "steps_per_s": round(steps / wall),
        "p50_ms": round(1000 * percentile(lat, 50), 1), "p95_ms": round(1000 * percentile(lat, 95), 1),
        "p99_ms": round(1000 * percentile(lat, 99), 1), "max_ms": round(1000 * max(lat), 1),
        "server_up": alive, "failed_calls": len(problems), "mixed_sessions": mixed,
        "cpus": os.cpu_count(), "load_average": round(load, 1), "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    print(json.dumps(result))
    return 0 if alive and not problems and not mixed else 1


if __name__ == "__main__":
    sys.exit(main())
