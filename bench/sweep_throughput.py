"""Benchmark: a fit1d sweep (the CLI, start-up included) against the same trainings in a plain sequential PyTorch loop.

The sweep is ``priorlab sweep fit1d --grid activation=sigmoid,cos --grid hidden=3,10 --seeds 0-(S-1) --set
steps=1000`` (``--figures summary``, the default: no per-trial figures, the sweep page has its figures), run as a
subprocess ``python -m priorlab.cli sweep …`` into a fresh ``PRIORLAB_HOME`` and timed from outside, so interpreter
and torch start-up, planning, worker start-up, every trial's run folder and index rows, and the sweep page all count.
The loop trains the same networks one after the other in this process: ``nn.Module`` + ``torch.optim.Adam`` per
network, the same data and initialisation (fit1d's ``make_data`` and ``OneHidden`` under ``torch.manual_seed(seed)``),
full batch, the same learning rates; it writes nothing. ``--loop-models M`` times the loop on the first M networks of
each (activation, hidden) cell and scales it to all of them (the loop is linear in the number of networks).

    OMP_NUM_THREADS=1 python bench/sweep_throughput.py --n 96      # 2 activations x 2 widths x 24 seeds
    OMP_NUM_THREADS=1 python bench/sweep_throughput.py --n 960 --loop-models 24
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import emit, machine, parser

ACTIVATIONS = ("sigmoid", "cos")
HIDDEN = (3, 10)


def sweep_cli(seeds: int, steps: int, workers: int | None, device: str) -> tuple[float, dict[str, float], str]:
    """(wall seconds of the CLI sweep, trial key -> train_mse, the CLI's output) in a fresh runs root."""
    args = [sys.executable, "-m", "priorlab.cli", "sweep", "fit1d", "--grid", f"activation={','.join(ACTIVATIONS)}",
            "--grid", f"hidden={','.join(map(str, HIDDEN))}", "--seeds", f"0-{seeds - 1}", "--set", f"steps={steps}",
            "--quiet", "--device", device]
    if workers:
        args += ["--workers", str(workers)]
    with tempfile.TemporaryDirectory(prefix="priorlab-bench-") as home:
        env = {**os.environ, "PRIORLAB_HOME": home}
        t0 = time.perf_counter()
        r = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"the sweep failed ({r.returncode}): {r.stderr[-2000:]}")
        con = sqlite3.connect(Path(home) / "index.sqlite")
        mse = dict(con.execute("SELECT r.trial_key, m.value FROM runs r JOIN metrics m ON m.run_id = r.id "
                               "WHERE m.name = 'train_mse' AND r.status = 'done'").fetchall())
        con.close()
    return wall, mse, r.stdout


def loop(seeds: list[int], steps: int) -> tuple[float, int, dict[str, float]]:
    """(seconds, networks trained, trial key -> train_mse) of the plain sequential loop over the grid's cells."""
    from priorlab.experiments.fit1d import DEFAULT_LR, Config, make_data
    from priorlab.nets.onehidden import OneHidden
    from priorlab.sweep.plan import trial_key

    mse, n = {}, 0
    t0 = time.perf_counter()
    for act in ACTIVATIONS:
        for hidden in HIDDEN:
            for seed in seeds:
                cfg = Config(activation=act, hidden=hidden, steps=steps, seed=seed)
                data = make_data(cfg, seed)
                torch.manual_seed(seed)
                model = OneHidden(hidden, act)
                opt = torch.optim.Adam(model.parameters(), lr=DEFAULT_LR[act])
                for _ in range(steps):
                    opt.zero_grad(set_to_none=True)
                    loss = torch.mean((model(data.x) - data.y) ** 2)
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    final = torch.mean((model(data.x) - data.y) ** 2).item()
                mse[trial_key({"activation": act, "hidden": hidden, "seed": seed})] = final
                n += 1
    return time.perf_counter() - t0, n, mse


def main():
    ap = parser(__doc__, n=96)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=None, help="sweep workers (default: the CPU count)")
    ap.add_argument("--loop-models", type=int, default=None,
                    help="time the loop on this many seeds per cell and scale (default: all)")
    ap.add_argument("--json", default=None, help="also write the result here")
    args = ap.parse_args()
    cells = len(ACTIVATIONS) * len(HIDDEN)
    if args.n % cells:
        raise SystemExit(f"--n must be a multiple of {cells} (activations x widths)")
    seeds = args.n // cells
    loop_seeds = list(range(min(seeds, args.loop_models or seeds)))

    sweep_s, sweep_mse, out = sweep_cli(seeds, args.steps, args.workers, args.device)
    loop_s, trained, loop_mse = loop(loop_seeds, args.steps)
    scaled = trained < args.n
    loop_all = loop_s * args.n / trained
    diffs = [abs(sweep_mse[k] - v) for k, v in loop_mse.items() if k in sweep_mse]
    ratio = loop_all / sweep_s
    result = {
        "benchmark": "sweep_throughput", "trials": args.n, "steps": args.steps, "workers": args.workers or os.cpu_count(),
        "sweep_s": round(sweep_s, 2), "loop_s": round(loop_all, 2), "loop_scaled_from": trained if scaled else None,
        "loop_per_network_s": round(loop_s / trained, 4), "speedup": round(ratio, 2),
        "sweep_done": len(sweep_mse), "max_abs_train_mse_diff": max(diffs) if diffs else None, **machine(args.device),
    }
    print(f"{args.n} fit1d trials x {args.steps} steps: sweep (CLI, start-up included) {sweep_s:.1f} s; "
          f"sequential loop {loop_all:.1f} s{' (scaled from ' + str(trained) + ' networks)' if scaled else ''}; "
          f"speed-up {ratio:.1f}x; load average {result['load_average']}")
    print(out.strip().splitlines()[0] if out.strip() else "")
    emit(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if len(sweep_mse) != args.n:
        raise SystemExit(f"only {len(sweep_mse)} of {args.n} trials are done")


if __name__ == "__main__":
    main()
