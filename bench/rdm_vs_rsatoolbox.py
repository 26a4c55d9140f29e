"""Benchmark: correlation RDM of N items × D features, priorlab vs rsatoolbox's calc_rdm (issue 3, item 5).

    OMP_NUM_THREADS=1 .venv/bin/python bench/rdm_vs_rsatoolbox.py            # N=1000, D=20000
    .venv/bin/python bench/rdm_vs_rsatoolbox.py --n 500 --d 5000 --repeats 5 [--device cuda]

Both start from the same float64 numpy array; priorlab's time includes turning it into a float32 tensor
(and moving it to the device). Prints one JSON line: times (best of --repeats), speed-up, max |difference|.
"""

from __future__ import annotations

import numpy as np
import torch
from _common import best_time, emit, machine, parser  # bench/ is on sys.path when this file is run as a script


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

    ap = parser(__doc__, n=1000, repeats=3)
    ap.add_argument("--d", type=int, default=20000, help="features per item")
    args = ap.parse_args()

    x = np.random.default_rng(args.seed).normal(size=(args.n, args.d))
    device = torch.device(args.device)

    def ours():
        return rdm(torch.from_numpy(x).to(device=device, dtype=torch.float32), "correlation")

    ours()  # warm-up (allocator, CUDA context)
    t_ours, _, d_ours = best_time(ours, args.repeats, device)
    oracle_name, oracle_fn = oracle(x)
    t_rsa, _, d_rsa = best_time(oracle_fn, args.repeats)
    emit({
        "n": args.n,
        "d": args.d,
        **machine(device),
        "oracle": oracle_name,
        "oracle_s": round(t_rsa, 4),
        "priorlab_s": round(t_ours, 4),
        "speedup": round(t_rsa / t_ours, 1),
        "max_abs_diff": float(np.abs(d_ours.double().cpu().numpy() - d_rsa).max()),
    })


if __name__ == "__main__":
    main()
