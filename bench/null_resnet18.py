"""Benchmark: a random-weight null of torchvision's resnet18 (issue 11): K draws, every natural block.

    OMP_NUM_THREADS=2 .venv/bin/python bench/null_resnet18.py                    # K=50, 200 images of 3x64x64
    .venv/bin/python bench/null_resnet18.py --draws 10 --size 32 [--device cuda]

"One draw" is what a user would write by hand for one random network: build resnet18(weights=None), randomize it
(seed s), capture its 14 natural blocks (eval mode) on the stimuli, compute the stimuli's correlation RDM and
compare each block's correlation RDM with it by Spearman (`priorlab.probe.compare`); it is timed on --singles
draws (median). The null is `priorlab.stats.null_distribution` with K = --draws draws. Prints one JSON line: both
times, the ratio null / (K x one draw), which must be <= 1 (in wall-clock time and in this process's CPU time, the
steadier of the two on a shared machine), and the largest difference between the null's draw 0 and the hand-made
one. 64x64 images (not 224x224) keep the default run to a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
from _common import cpu_name, sync  # bench/ is on sys.path when this file is run as a script


def main():
    import torchvision

    from priorlab import randomize
    from priorlab.probe import capture, compare, rdm
    from priorlab.stats import null_distribution

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=50, help="K, the number of random draws in the null")
    ap.add_argument("--stimuli", type=int, default=200)
    ap.add_argument("--size", type=int, default=64, help="image side in pixels (3 x size x size)")
    ap.add_argument("--singles", type=int, default=3, help="hand-made single draws to time (median)")
    ap.add_argument("--init", default="torch-default")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    device = torch.device(args.device)
    images = torch.rand(args.stimuli, 3, args.size, args.size, generator=torch.Generator().manual_seed(0)).to(device)

    def factory():
        return torchvision.models.resnet18(weights=None)

    def one_draw(seed: int) -> list[float]:
        model = randomize(factory(), init=args.init, seed=seed).to(device).eval()
        outputs = capture(model, images)
        target = rdm(images)
        values = [compare(rdm(out), target, "spearman") for out in outputs.values()]
        sync(device)
        return values

    one_draw(0)  # warm-up (allocator, CUDA context, lazy imports)
    times, cpu_times, by_hand = [], [], None
    for s in range(args.singles):
        t, c = time.perf_counter(), time.process_time()
        values = one_draw(s)
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
        by_hand = values if s == 0 else by_hand
    one, one_cpu = statistics.median(times), statistics.median(cpu_times)

    t, c = time.perf_counter(), time.process_time()
    null = null_distribution(factory, images, n=args.draws, init=args.init)
    sync(device)
    null_s, null_cpu = time.perf_counter() - t, time.process_time() - c

    result = {
        "draws": args.draws,
        "stimuli": args.stimuli,
        "image": f"3x{args.size}x{args.size}",
        "layers": len(null.layers),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "load_average": os.getloadavg()[0],
        "one_draw_s": round(one, 3),
        "one_draw_all_s": [round(x, 3) for x in times],
        "null_s": round(null_s, 2),
        "null_per_draw_s": round(null_s / args.draws, 3),
        "ratio": round(null_s / (args.draws * one), 3),
        "one_draw_cpu_s": round(one_cpu, 3),
        "null_cpu_s": round(null_cpu, 2),
        "cpu_ratio": round(null_cpu / (args.draws * one_cpu), 3),
        "max_abs_diff_draw0": float(max(abs(a - b) for a, b in zip(null.values[0], by_hand))),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
