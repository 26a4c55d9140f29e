"""Benchmark: correlation RDM of N items × D features, priorlab vs rsatoolbox's calc_rdm (issue 3, item 5).

    OMP_NUM_THREADS=1 .venv/bin/python bench/rdm_vs_rsatoolbox.py            # N=1000, D=20000
    .venv/bin/python bench/rdm_vs_rsatoolbox.py --n 500 --d 5000 --repeats 5 [--device cuda]

Both start from the same float64 numpy array; priorlab's time includes turning it into a float32 tensor
(and moving it to the device). Prints one JSON line: times (best of --repeats), speed-up, max |difference|.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
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


def best_time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def oracle(x):
    """rsatoolbox's calc_rdm, or (where rsatoolbox is not installed) numpy's corrcoef in float64."""
    try:
        import rsatoolbox
    except ImportError:
        return "numpy.corrcoef", lambda: 1 - np.corrcoef(x)
    return "rsatoolbox.calc_rdm", lambda: rsatoolbox.rdm.calc_rdm(
        rsatoolbox.data.Dataset(x), method="correlation"
    ).get_matrices()[0]


def main():
    from priorlab.probe import rdm

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--d", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    x = np.random.default_rng(args.seed).normal(size=(args.n, args.d))
    device = torch.device(args.device)

    def ours():
        d = rdm(torch.from_numpy(x).to(device=device, dtype=torch.float32), "correlation")
        if device.type == "cuda":
            torch.cuda.synchronize()
        return d

    ours()  # warm-up (allocator, CUDA context)
    t_ours, d_ours = best_time(ours, args.repeats)
    oracle_name, oracle_fn = oracle(x)
    t_rsa, d_rsa = best_time(oracle_fn, args.repeats)
    result = {
        "n": args.n,
        "d": args.d,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "cpu": cpu_name(),
        "oracle": oracle_name,
        "oracle_s": round(t_rsa, 4),
        "priorlab_s": round(t_ours, 4),
        "speedup": round(t_rsa / t_ours, 1),
        "max_abs_diff": float(np.abs(d_ours.double().cpu().numpy() - d_rsa).max()),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
