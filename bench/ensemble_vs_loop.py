"""Benchmark (a): K small models trained by the ensemble engine vs a sequential PyTorch loop.

Task (issue 7): fit1d, 1 -> 10 -> 1 sigmoid, 50 samples, float32, Adam (lr 1e-2), 300 full-batch steps per model;
the loop trains the K models one after the other, one optimizer per model.

The loop's time is linear in K (the models are independent), so for large K it is timed on ``--loop-models`` models
and scaled to K; the output says so. Times exclude nothing but the one-off data creation; the ensemble's
compile / graph capture happens in the first call, which is timed and reported separately ("first call").

    python bench/ensemble_vs_loop.py --K 16 256 1024                  # CPU
    python bench/ensemble_vs_loop.py --K 16 256 1024 --device cuda    # GPU (CUDA graph + capturable Adam)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch
from torch import nn

from priorlab.train.ensemble import Ensemble, from_modules

STEPS, HIDDEN, N, LR = 300, 10, 50, 1e-2


def data(device):
    x = torch.linspace(-3, 3, N, device=device)[:, None]
    return x, torch.sin(2 * x)


def model(seed: int, device) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, HIDDEN), nn.Sigmoid(), nn.Linear(HIDDEN, 1)).to(device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def loop(seeds, x, y, device) -> tuple[float, list[float]]:
    """The baseline: each model its own optimizer and its own 300-step Python loop."""
    sync(device)
    t0 = time.perf_counter()
    finals = []
    for s in seeds:
        m = model(s, device)
        opt = torch.optim.Adam(m.parameters(), lr=LR)
        for _ in range(STEPS):
            opt.zero_grad(set_to_none=True)
            loss = ((m(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        finals.append(loss)
    sync(device)
    return time.perf_counter() - t0, [f.item() for f in finals]


def ensemble(K, x, y, device, mode: str) -> tuple[float, float, torch.Tensor]:
    """(setup seconds, training seconds, final losses) for K members in one engine."""
    fwd, params, frozen, masks = from_modules([model(s, device) for s in range(K)])

    def loss_fn(p, x, y):
        return ((fwd(p, x) - y) ** 2).mean()

    ens = Ensemble(
        loss_fn,
        params,
        frozen=frozen,
        masks=masks,
        lr=LR,
        compile=(mode == "compile"),
        cuda_graph=(mode == "graph"),
    )
    # setup = the first call, which compiles / captures; then the same engine is reset and timed
    sync(device)
    t0 = time.perf_counter()
    ens.train(STEPS, x, y)
    sync(device)
    setup = time.perf_counter() - t0
    ens.reset(params)
    t0 = time.perf_counter()
    res = ens.train(STEPS, x, y)
    sync(device)
    return setup, time.perf_counter() - t0, res.final


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--K", type=int, nargs="+", default=[16, 256, 1024])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--modes", default=None, help="comma list of eager,compile,graph (default: cpu eager,compile; "
                    "cuda eager,graph)")
    ap.add_argument("--loop-models", type=int, default=16, help="models the loop is timed on (then scaled to K)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None, help="write results here")
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    modes = (args.modes or ("eager,graph" if device.type == "cuda" else "eager,compile")).split(",")
    x, y = data(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"# {name}, torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    loop(range(2), x, y, device)  # warm-up
    n_loop = args.loop_models
    t_loop, loop_final = loop(range(n_loop), x, y, device)
    per_model = t_loop / n_loop
    print(f"loop: {n_loop} models in {t_loop:.2f} s = {per_model * 1e3:.1f} ms per model "
          f"({per_model / STEPS * 1e6:.0f} us per step)")
    rows = []
    for K in args.K:
        for mode in modes:
            setup, t_ens, final = ensemble(K, x, y, device, mode)
            m = min(n_loop, K)
            agree = max(abs(final[i].item() - loop_final[i]) for i in range(m))
            t_loop_K = per_model * K
            row = {
                "K": K, "mode": mode, "loop_s": round(t_loop_K, 3), "loop_scaled": K != n_loop,
                "ensemble_s": round(t_ens, 4), "first_call_s": round(setup, 3),
                "us_per_step": round(t_ens / STEPS * 1e6, 1),
                "speedup": round(t_loop_K / t_ens, 1), "speedup_first_call": round(t_loop_K / setup, 1),
                "max_abs_loss_diff_vs_loop": agree,
            }
            rows.append(row)
            print(f"K={K:5d} {mode:8s} loop {t_loop_K:8.2f} s{'*' if K != n_loop else ' '}  ensemble "
                  f"{t_ens:7.4f} s ({row['us_per_step']:.0f} us/step; first call {setup:.2f} s)  "
                  f"speed-up {row['speedup']:8.1f}x (first call {row['speedup_first_call']:.1f}x)  "
                  f"|final loss - loop| <= {agree:.1e}")
    print(f"* loop time scaled from {n_loop} models (the loop is linear in K)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "torch": torch.__version__, "rows": rows, "loop_per_model_s": per_model}, f,
                      indent=2)


if __name__ == "__main__":
    main()
