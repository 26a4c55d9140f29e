"""Benchmark: RDMs of every GoogLeNet block over N random 224×224 images within the default memory budget
(issue 3, item 5).

    OMP_NUM_THREADS=2 .venv/bin/python bench/layerwise_googlenet.py                 # N=2000, budget 4 GiB, CPU
    .venv/bin/python bench/layerwise_googlenet.py --n 200 --budget-gib 0.5 [--device cuda] [--memmap DIR]

torchvision's googlenet(weights=None, aux_logits=False, init_weights=True) in eval mode; its natural blocks
(conv1 … fc). Prints one JSON line: passes, wall time, peak RSS of this process (and peak CUDA memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
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


def main():
    import torchvision

    from priorlab.probe.layerwise import GiB, layerwise_analysis

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--budget-gib", type=float, default=4.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--memmap", default=None, help="hold activations in memory-mapped files in this folder")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    model = (
        torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True).eval().to(args.device)
    )
    images = torch.randn(args.n, 3, 224, 224)
    t0 = time.perf_counter()
    last = [0.0]

    def progress(step, total, what):
        if time.perf_counter() - last[0] > 30 or step == total:
            last[0] = time.perf_counter()
            print(f"  {what}: batch {step}/{total}, {last[0] - t0:.0f} s", file=sys.stderr, flush=True)

    res = layerwise_analysis(
        model,
        images,
        metric="correlation",
        memory_budget=int(args.budget_gib * GiB),
        batch_size=args.batch_size,
        device=args.device,
        gram_device=args.device,
        memmap_dir=args.memmap,
        progress=progress,
    )
    seconds = time.perf_counter() - t0
    out = {
        "n": args.n,
        "budget_gib": args.budget_gib,
        "blocks": len(res.names),
        "features_per_item": sum(res.features.values()),
        "passes": res.passes,
        "seconds": round(seconds, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "device": args.device,
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "torch": torch.__version__,
    }
    if args.device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name()
        out["peak_cuda_gib"] = round(torch.cuda.max_memory_allocated() / GiB, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
