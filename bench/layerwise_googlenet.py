"""Benchmark: RDMs of every GoogLeNet block over N random 224×224 images within the default memory budget
(issue 3, item 5).

    OMP_NUM_THREADS=2 .venv/bin/python bench/layerwise_googlenet.py                 # N=2000, budget 4 GiB, CPU
    .venv/bin/python bench/layerwise_googlenet.py --n 200 --budget-gib 0.5 [--device cuda] [--memmap DIR]

torchvision's googlenet(weights=None, aux_logits=False, init_weights=True) in eval mode; its natural blocks
(conv1 … fc). Prints one JSON line: passes, wall time, peak RSS of this process (and peak CUDA memory).
"""

from __future__ import annotations

import resource
import sys
import time

import torch
from _common import emit, machine, parser  # bench/ is on sys.path when this file is run as a script


def main():
    import torchvision

    from priorlab.probe.layerwise import GiB, layerwise_analysis

    ap = parser(__doc__, n=2000, batch_size=32)
    ap.add_argument("--budget-gib", type=float, default=4.0)
    ap.add_argument("--memmap", default=None, help="hold activations in memory-mapped files in this folder")
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
        **machine(args.device),
    }
    if args.device.startswith("cuda"):
        out["peak_cuda_gib"] = round(torch.cuda.max_memory_allocated() / GiB, 2)
    emit(out)


if __name__ == "__main__":
    main()
