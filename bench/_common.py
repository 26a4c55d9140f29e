"""What the benchmarks share: the common command-line options, best-of-R timing and a description of the machine.

Run a benchmark as a script (``python bench/<name>.py``): bench/ is then on sys.path and ``from _common import …``
finds this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parser(doc: str, n: int, **defaults) -> argparse.ArgumentParser:
    """--n (items), --device, --seed, and any of --repeats, --batch-size given a default here."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--n", type=int, default=n, help="items")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    if "repeats" in defaults:
        ap.add_argument("--repeats", type=int, default=defaults["repeats"], help="timed runs (the best is kept)")
    if "batch_size" in defaults:
        ap.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    return ap


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def best_time(fn, repeats: int, device="cpu"):
    """(best wall seconds over `repeats` calls of fn, best CPU seconds of this process, the last result)."""
    times, cpu_times, out = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
    return min(times), min(cpu_times), out


def machine(device) -> dict:
    """Where the benchmark ran: device, CPU, threads, load average, torch (and the GPU's name)."""
    out = {
        "device": str(device),
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "load_average": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
    }
    if torch.device(device).type == "cuda":
        out["gpu"] = torch.cuda.get_device_name()
    return out


def emit(result: dict) -> None:
    print(json.dumps(result), flush=True)
