"""Benchmark: layer-wise analysis against the bare forward passes it makes (issue 14, acceptance 4).

    OMP_NUM_THREADS=2 .venv/bin/python bench/layerwise_vs_forward.py                    # resnet18, N=500, 112 px
    .venv/bin/python bench/layerwise_vs_forward.py --model googlenet --n 2000 --size 224 --budget-gib 40 --device cuda

`priorlab.probe.layerwise_analysis` (correlation RDMs of every natural block, within --budget-gib) on a torchvision
network with random weights (eval mode) over N random images, against the same forward calls (same batches, under
``torch.no_grad()``) with no hooks, repeated once per pass the analysis made. Both are timed --repeats times,
alternating, and the best of each is kept. Prints one JSON line: passes (and why), both times, the ratio
analysis / forward (in wall time and in this process's CPU time, the steadier one on a shared machine).
"""

from __future__ import annotations

import time

import torch
from _common import best_time, emit, machine, parser, sync  # bench/ is on sys.path when run as a script

MODELS = {
    "resnet18": lambda tv: tv.models.resnet18(weights=None),
    "googlenet": lambda tv: tv.models.googlenet(weights=None, aux_logits=False, init_weights=True),
}


def main():
    import torchvision

    from priorlab.probe.layerwise import GiB, layerwise_analysis

    ap = parser(__doc__, n=500, repeats=3, batch_size=50)
    ap.add_argument("--model", choices=sorted(MODELS), default="resnet18")
    ap.add_argument("--size", type=int, default=112, help="image side in pixels (3 x size x size)")
    ap.add_argument("--budget-gib", type=float, default=4.0)
    args = ap.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = MODELS[args.model](torchvision).eval().to(device)
    images = torch.randn(args.n, 3, args.size, args.size, generator=torch.Generator().manual_seed(args.seed))
    images = images.to(device)

    def forward(passes: int) -> None:
        with torch.no_grad():
            for _ in range(passes):
                for start in range(0, args.n, args.batch_size):
                    model(images[start : start + args.batch_size])

    def analysis():
        return layerwise_analysis(
            model, images, metric="correlation", memory_budget=int(args.budget_gib * GiB),
            batch_size=args.batch_size, device=device, gram_device=device,
        )

    forward(1)  # warm-up (allocator, CUDA context, cuDNN's choice of kernels)
    res = analysis()
    sync(device)
    fwd, fwd_cpu, ana, ana_cpu = [], [], [], []
    for _ in range(args.repeats):  # alternate, so a change in the machine's load hits both
        t, c, res = best_time(analysis, 1, device)
        ana.append(t)
        ana_cpu.append(c)
        t, c, _ = best_time(lambda passes=res.passes: forward(passes), 1, device)
        fwd.append(t)
        fwd_cpu.append(c)
    out = {
        "model": args.model,
        "n": args.n,
        "image": f"3x{args.size}x{args.size}",
        "batch_size": args.batch_size,
        "budget_gib": args.budget_gib,
        "layers": len(res.names),
        "features_per_item": sum(res.features.values()),
        "passes": res.passes,
        "passes_why": getattr(res, "passes_reason", None),  # None before the analysis reported it
        "analysis_s": round(min(ana), 3),
        "forward_s": round(min(fwd), 3),
        "ratio": round(min(ana) / min(fwd), 3),
        "analysis_cpu_s": round(min(ana_cpu), 3),
        "forward_cpu_s": round(min(fwd_cpu), 3),
        "cpu_ratio": round(min(ana_cpu) / min(fwd_cpu), 3),
        "all_analysis_s": [round(t, 3) for t in ana],
        "all_forward_s": [round(t, 3) for t in fwd],
        **machine(device),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if device.type == "cuda":
        out["peak_cuda_gib"] = round(torch.cuda.max_memory_allocated() / GiB, 2)
    emit(out)


if __name__ == "__main__":
    main()
