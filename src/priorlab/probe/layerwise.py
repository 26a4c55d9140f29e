"""Layer-wise RDMs and Gram matrices of every layer of a network, within a memory budget.

An N×N Gram matrix needs every pair of items, so a layer's activations for all N items must be held at once.
When N × Σ widths does not fit, we make several passes over the data: each pass holds (float32, in RAM or in
memory-mapped files) the activations of as many layers — or column slices of a layer — as fit in
`memory_budget`, forms their Gram matrices (summed over column chunks of ≤ 64 MiB, on the GPU when present),
drops them, and the next pass takes the next group. A pass stops the forward call as soon as its last layer has fired.

    res = layerwise_analysis(model, images, metric="correlation", memory_budget=4 * 2**30)
    res.rdms["inception3a"]          # [N, N], equal to rdm(capture(model, images)["inception3a"])
    res.passes                       # how many passes over the data it took

Peak memory ≈ budget + model + one batch + a few chunks + (1 or 2) × L × N² results.

Per column slice X_k (all N items × some features) we centre the columns (exact: every item is present) and
accumulate in float64: C += X̃_k X̃_kᵀ, the row sums r += X̃_k 1, u += X̃_k μ_k, and |μ_k|², Σμ_k, D_k. These sums
give the column-centred Gram C (for CKA and Euclidean distances), the raw Gram G = C + u1ᵀ + 1uᵀ + |μ|², and the
row-centred Gram G − s sᵀ / D (for correlation), all without the cancellation of a raw float32 Gram.
"""

from __future__ import annotations

import itertools
import math
import tempfile
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from priorlab.probe.capture import Hooks, resolve_layers
from priorlab.probe.cka import cka_gram
from priorlab.probe.rdm import METRICS, from_gram, self_gram

GiB = 2**30
Progress = Callable[[int, int, str], None]


@dataclass
class Unit:
    """Columns [c0, c1) of one captured output (entry), held during one pass."""

    entry: str
    c0: int
    c1: int


@dataclass
class _Sums:
    """Additive statistics of one entry's column-centred slices (float64)."""

    c: torch.Tensor
    r: torch.Tensor
    u: torch.Tensor
    mu2: float = 0.0
    musum: float = 0.0
    d: int = 0

    @classmethod
    def zeros(cls, n: int, device: torch.device) -> _Sums:
        return cls(
            *(torch.zeros(shape, dtype=torch.float64, device=device) for shape in ((n, n), (n,), (n,)))
        )

    def add(self, x: torch.Tensor, device: torch.device, block_bytes: int = 2**26) -> None:
        """Add one slice x [N, c], in column chunks of at most `block_bytes` moved to `device` (float64 copies of a
        chunk are the only extra memory)."""
        n, d = x.shape
        cols = max(1, block_bytes // (n * x.element_size()))
        for c0 in range(0, d, cols):
            chunk = x[:, c0 : c0 + cols].to(device=device, dtype=torch.float64)
            mu = chunk.mean(0)
            chunk -= mu
            self.r += chunk.sum(1)
            self.u += chunk @ mu
            self.mu2 += float(mu @ mu)
            self.musum += float(mu.sum())
            self.c += self_gram(chunk.to(x.dtype)).to(torch.float64)  # the big product in the model's dtype
            self.d += chunk.shape[1]

    def centered_gram(self) -> torch.Tensor:
        return self.c

    def raw_gram(self) -> torch.Tensor:
        return self.c + self.u[:, None] + self.u[None, :] + self.mu2

    def prepared_gram(self, metric: str) -> torch.Tensor:
        """The Gram matrix `rdm.from_gram` expects for this metric (see rdm.gram)."""
        if metric in ("euclidean", "sqeuclidean"):
            return self.c
        g = self.raw_gram()
        if metric == "correlation":
            s = self.r + self.musum
            g = g - s[:, None] * s[None, :] / self.d
        norm = torch.diagonal(g).sqrt()
        return g / norm[:, None] / norm[None, :]


@dataclass
class LayerwiseResult:
    """RDMs (and optionally column-centred linear Gram matrices) of each captured output, in layer order."""

    names: list[str]
    metric: str
    n_items: int
    passes: int
    rdms: dict[str, torch.Tensor]
    grams: dict[str, torch.Tensor] | None = None
    features: dict[str, int] = field(default_factory=dict)


def _batch(inputs, start: int, stop: int, device: torch.device):
    """Items [start, stop) of a tensor/array, or of each of a tuple of them, on `device`."""
    if isinstance(inputs, (tuple, list)):
        return tuple(torch.as_tensor(x[start:stop]).to(device) for x in inputs)
    return torch.as_tensor(inputs[start:stop]).to(device)


def _n_items(inputs) -> int:
    return len(inputs[0]) if isinstance(inputs, (tuple, list)) else len(inputs)


def _probe_shapes(model: nn.Module, batch, layers: list[str]) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Shape and dtype of every output entry of the layers for one small forward."""
    shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
    with Hooks(model, layers, sink=lambda entry, t: shapes.setdefault(entry, (tuple(t.shape), t.dtype))) as hooks:
        hooks.run(batch)
    return shapes


def _output_sizes(model: nn.Module, batches: list, layers: list[str]) -> dict[str, tuple[int, torch.dtype]]:
    """Features per item and dtype of every batch-first float output entry of the layers.

    Probed with batches of different sizes: an entry is batch-first when its first dimension follows the batch
    size in every probe (an LSTM's h_n of shape [num_layers, N, H] can match one batch size by coincidence).
    """
    probes = []
    for batch in batches:
        n = batch[0].shape[0] if isinstance(batch, tuple) else batch.shape[0]
        probes.append((n, _probe_shapes(model, batch, layers)))
    sizes: dict[str, tuple[int, torch.dtype]] = {}
    skipped = []
    for entry, (shape, dtype) in probes[0][1].items():
        ok = dtype.is_floating_point and all(
            entry in shapes and len(shapes[entry][0]) > 0 and shapes[entry][0][0] == n for n, shapes in probes
        )
        if ok:
            sizes[entry] = (math.prod(shape[1:]), dtype)
        else:
            skipped.append(f"{entry} {shape}")
    if skipped:
        warnings.warn(
            f"layerwise: skipping outputs that are not batch-first float tensors: {', '.join(skipped)}",
            stacklevel=3,
        )
    return sizes


def plan_passes(sizes: dict[str, tuple[int, torch.dtype]], n: int, budget: int) -> list[list[Unit]]:
    """Cut the entries (in order) into passes whose held activations fit in `budget` bytes,
    splitting an entry's columns across passes where the budget runs out."""
    passes: list[list[Unit]] = [[]]
    free = budget
    for entry, (d, dtype) in sizes.items():
        per_col = n * torch.empty((), dtype=dtype).element_size()
        if per_col > budget:
            raise ValueError(
                f"memory_budget: {budget} bytes cannot hold even one feature of {n} items ({per_col} bytes)"
            )
        c0 = 0
        while c0 < d:
            cols = min(d - c0, free // per_col)
            if cols == 0:
                passes.append([])
                free = budget
                continue
            passes[-1].append(Unit(entry, c0, c0 + cols))
            free -= cols * per_col
            c0 += cols
    return [p for p in passes if p]


def _buffer(n: int, cols: int, dtype: torch.dtype, folder: str | None, i: int) -> torch.Tensor:
    """An [n, cols] tensor in RAM, or backed by a memory-mapped .npy file in `folder`."""
    if folder is None:
        return torch.empty(n, cols, dtype=dtype)
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype
    return torch.from_numpy(
        np.lib.format.open_memmap(Path(folder) / f"unit{i}.npy", "w+", np_dtype, (n, cols))
    )


def _fill(model, inputs, n, units, buffers, names, device, batch_size, tick) -> None:
    """One pass over the data: copy each unit's columns of its entry into its buffer, batch by batch; each forward
    call stops once the pass's last entry is out."""
    by_entry: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        by_entry.setdefault(u.entry, []).append(i)
    start = 0

    def sink(entry: str, t: torch.Tensor) -> None:
        for i in by_entry.get(entry, ()):
            u = units[i]
            buffers[i][start : start + t.shape[0]] = t.detach().reshape(t.shape[0], -1)[:, u.c0 : u.c1].cpu()

    with Hooks(model, names, sink=sink) as hooks:
        for start in range(0, n, batch_size):
            hooks.run(_batch(inputs, start, start + batch_size, device), until=by_entry)
            tick()


def layerwise_analysis(
    model: nn.Module,
    inputs,
    layers: Sequence[str] | None = None,
    metric: str = "correlation",
    memory_budget: int = 4 * GiB,
    batch_size: int = 32,
    device: torch.device | str | None = None,
    gram_device: torch.device | str | None = None,
    memmap_dir: str | Path | None = None,
    keep_grams: bool = False,
    progress: Progress | None = None,
) -> LayerwiseResult:
    """RDMs of every layer's output over all N items of `inputs`, in as many passes as the budget needs.

    inputs: a batch-first tensor [N, ...] (or array, np.memmap, or a tuple of them for several positional inputs).
    layers: module paths (None = natural blocks); outputs are named as by `capture` (one rule, `probe.capture.Hooks`):
    tuple outputs as name.0, name.1, …, and later calls of a module called several times per forward as name@1, ….
    memory_budget: bytes of activations held at once. device: where the model runs (default: its parameters').
    gram_device: where Gram matrices are formed (default: CUDA when present). memmap_dir: hold activations in
    memory-mapped files there instead of RAM. keep_grams: also return column-centred linear Grams (for CKA).
    progress: called as progress(step, total, description) after every batch.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    if memory_budget <= 0 or batch_size <= 0:
        raise ValueError("memory_budget and batch_size must be positive")
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else "cpu"
    device = torch.device(device)
    gram_device = torch.device(gram_device or ("cuda" if torch.cuda.is_available() else "cpu"))
    names = resolve_layers(model, layers)
    n = _n_items(inputs)
    if n < 2:
        raise ValueError(f"inputs: need at least 2 items, got {n}")

    probe_sizes = (2, 3) if n >= 3 else (n,)
    sizes = _output_sizes(model, [_batch(inputs, 0, k, device) for k in probe_sizes], names)
    plan = plan_passes(sizes, n, memory_budget)
    sums: dict[str, _Sums] = {}
    rdms, grams = {}, ({} if keep_grams else None)
    total = len(plan) * math.ceil(n / batch_size)
    steps = itertools.count(1)

    for p, units in enumerate(plan):
        description = f"pass {p + 1}/{len(plan)}"

        def tick(description=description):
            step = next(steps)
            if progress is not None:
                progress(step, total, description)

        with tempfile.TemporaryDirectory(dir=memmap_dir) if memmap_dir else nullcontext() as folder:
            buffers = [_buffer(n, u.c1 - u.c0, sizes[u.entry][1], folder, i) for i, u in enumerate(units)]
            _fill(model, inputs, n, units, buffers, names, device, batch_size, tick)
            for i, u in enumerate(units):
                if u.entry not in sums:
                    sums[u.entry] = _Sums.zeros(n, gram_device)
                sums[u.entry].add(buffers[i], gram_device)
                buffers[i] = None  # free this slice before the next one is centred
                if u.c1 == sizes[u.entry][0]:  # the entry's last columns: its statistics are complete
                    s = sums.pop(u.entry)
                    # results in float32, or float64 for float64 models
                    dtype = torch.promote_types(sizes[u.entry][1], torch.float32)
                    rdms[u.entry] = from_gram(s.prepared_gram(metric), metric, s.d).to("cpu", dtype)
                    if keep_grams:
                        grams[u.entry] = s.centered_gram().to("cpu", dtype)
    return LayerwiseResult(
        list(sizes), metric, n, len(plan), rdms, grams, {e: d for e, (d, _) in sizes.items()}
    )


def layerwise_rdms(
    model: nn.Module, inputs, layers=None, metric: str = "correlation", **kw
) -> dict[str, torch.Tensor]:
    """{entry: RDM} for every layer, computed within `memory_budget` (see `layerwise_analysis`)."""
    return layerwise_analysis(model, inputs, layers, metric=metric, **kw).rdms


def layerwise_grams(model: nn.Module, inputs, layers=None, **kw) -> dict[str, torch.Tensor]:
    """{entry: column-centred linear Gram [N, N]} for every layer, within `memory_budget` (see `layerwise_analysis`)."""
    return layerwise_analysis(model, inputs, layers, keep_grams=True, **kw).grams


def layerwise_cka(
    a: LayerwiseResult | dict[str, torch.Tensor],
    b: LayerwiseResult | dict[str, torch.Tensor] | None = None,
    debiased: bool = False,
) -> torch.Tensor:
    """Linear CKA between every layer of `a` and every layer of `b` (default: `a` itself), from their Grams.

    Entry [i, j] compares a's i-th and b's j-th layer; `a`/`b` are results of `layerwise_analysis(..., keep_grams=True)`
    or dicts of Gram matrices."""
    ga = a.grams if isinstance(a, LayerwiseResult) else a
    gb = ga if b is None else (b.grams if isinstance(b, LayerwiseResult) else b)
    if ga is None or gb is None:
        raise ValueError("layerwise_cka needs Gram matrices: call layerwise_analysis(..., keep_grams=True)")
    out = torch.empty(len(ga), len(gb), dtype=torch.float64)
    for i, x in enumerate(ga.values()):
        for j, y in enumerate(gb.values()):
            out[i, j] = cka_gram(x.double(), y.double(), debiased)
    return out
