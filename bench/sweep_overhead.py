"""Benchmark (b): what the sweep machinery costs per trial on the local backend.

A trial's wall time in a sweep = the experiment's own time (``seconds`` in its env.json: training, figures, files)
+ the sweep's overhead (worker start-up, planning, index rows, folder renames, the sweep page). The experiment is
fit1d at its cheapest (1 step, 2 animation frames), run one trial at a time (``batch=False``), so the
overhead is what remains.

    python bench/sweep_overhead.py --trials 40 --workers 1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from priorlab.store import Store
from priorlab.sweep import sweep

BASE = {"steps": 1, "frames": 2, "n_eval": 10}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        res = sweep("fit1d", grid={}, base=BASE, seeds=list(range(args.trials)), workers=args.workers,
                    root=root, quiet=True, batch=False)
        wall = time.perf_counter() - t0
        runs = Store(root).runs(sweep_id=res["id"])
        own = [json.loads((Path(r["path"]) / "env.json").read_text())["seconds"] for r in runs]
    assert res["failed"] == 0 and len(own) == args.trials
    per_trial = wall / args.trials
    exp = sum(own) / len(own)
    out = {
        "trials": args.trials, "workers": args.workers, "cpus": os.cpu_count(), "wall_s": round(wall, 2),
        "wall_per_trial_s": round(per_trial, 3), "experiment_per_trial_s": round(exp, 3),
        "overhead_per_trial_s": round(per_trial - exp / args.workers, 3),
    }
    print(f"{args.trials} fit1d trials, {args.workers} worker(s): {wall:.1f} s wall = {per_trial * 1e3:.0f} ms per trial; "
          f"the experiment itself {exp * 1e3:.0f} ms per trial; sweep overhead {out['overhead_per_trial_s'] * 1e3:.0f} ms "
          "per trial (worker start-up, index, folders, sweep page, amortised)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
