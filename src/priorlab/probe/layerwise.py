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

Layers follow the one naming rule of `priorlab.probe.capture` (repeated calls ``name@k``, recurrent outputs per time
step ``lstm.0@t5`` with `timesteps`, states ``lstm.h_n.0``). Outputs that equal an earlier output (or the input) item
by item on the first min(N, 8) items — a Flatten, nn.Identity, Dropout in eval mode — are aliases: they are not
computed again, and ``res.aliases`` says which entry each one equals. Other similarity measures
(`priorlab.probe.similarity`: cka, procrustes, cca, svcca, shape) come from the same Gram matrices:
``measures=[...]`` gives ``res.similarity[measure]``, the [L, L] matrix between every pair of layers, and
:func:`layerwise_similarity` / :func:`paired_similarity` compare the layers of two results.

A pass keeps the forward's own output tensors (no copy), except an output the rest of the forward changes in place
(found on the probe batch, e.g. a BatchNorm before ReLU(inplace=True)), a view into a larger tensor, or one on
another device: those are copied. Column slices and memory-mapped passes copy into one [N, c] buffer.
``res.passes_reason`` (also logged at INFO) says why the analysis took the passes it did.

Per column chunk X_k (all N items × some features) we centre the columns (exact: every item is present) in the
activations' dtype, into one reused workspace, and accumulate in float64: C += X̃_k X̃_kᵀ (the product in float32 for
float32 models: within 1e-5 of the float64 path, ``gram_dtype=torch.float64``), the row sums r += X̃_k 1 and
X̃_k (μ_k − m_k) with m_k the chunk's mean of μ_k, |μ_k|², Σμ_k, D_k. These sums give the column-centred Gram C
(for CKA and Euclidean distances), the raw Gram (for cosine), and the row-centred Gram (for correlation) term by
term, without the cancellation of a raw float32 Gram.
"""

from __future__ import annotations

import itertools
import logging
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

from priorlab.probe.capture import Hooks, alias_map, fingerprint, resolve_layers
from priorlab.probe.cka import cka_gram
from priorlab.probe.rdm import METRICS, from_gram, self_gram
from priorlab.probe.similarity import (
    GRAM_MEASURES,
    NOT_FROM_SPECTRA,
    canonical_directions,
    from_spectra,
    gram_spectrum,
    pwcca_weighted,
)

GiB = 2**30
log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
ALIAS_PROBE = 8  # items on which aliases are detected


@dataclass
class Unit:
    """Columns [c0, c1) of one captured output (entry), held during one pass."""

    entry: str
    c0: int
    c1: int


class _Workspace:
    """One reusable flat buffer per (device, dtype) for the centred column chunks: allocated (and its pages touched)
    once per analysis, not once per chunk."""

    def __init__(self):
        self._flat: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def get(self, rows: int, cols: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (torch.device(device), dtype)
        flat = self._flat.get(key)
        if flat is None or flat.numel() < rows * cols:
            flat = self._flat[key] = torch.empty(rows * cols, dtype=dtype, device=device)
        return flat[: rows * cols].view(rows, cols)


Pieces = list[tuple[int, torch.Tensor]]  # (first row, rows × columns of one unit)


@dataclass
class _Sums:
    """Additive statistics of one entry's column-centred slices (float64 sums of products in `product` dtype).

    Per chunk X (all N items × some columns, mean μ per column, centred: X̃ = X − 1μᵀ, m = mean of μ):
    c += X̃ X̃ᵀ, r += X̃ 1, v += X̃ (μ − m), mr += m · X̃ 1, |μ|², Σμ, D. Then X̃μ = v + mr, and the correlation's
    row-centred Gram never subtracts two large float32 numbers (see `prepared_gram`)."""

    c: torch.Tensor
    r: torch.Tensor
    v: torch.Tensor
    mr: torch.Tensor
    mu2: float = 0.0
    musum: float = 0.0
    d: int = 0
    h: torch.Tensor | None = None  # item-space directions [N, r] to project the centred columns on
    p: torch.Tensor | None = None  # Σ over columns j of |hᵀ x̃_j|

    @classmethod
    def zeros(cls, n: int, device: torch.device) -> _Sums:
        return cls(
            *(torch.zeros(shape, dtype=torch.float64, device=device) for shape in ((n, n), (n,), (n,), (n,)))
        )

    def add(
        self, pieces: Pieces, device: torch.device, product: torch.dtype | None = None, block_bytes: int = 2**26,
        work: _Workspace | None = None,
    ) -> None:
        """Add one unit's columns, given as row blocks (first row, [rows, c]) covering all N items, in column chunks
        of at most `block_bytes`: each chunk is centred into a reused workspace and its products formed on `device`
        in `product` dtype (default: the activations').

        Same dtype (the fast path): the column means come from the blocks' sums (accumulated in float64) and the
        centring writes straight into the workspace. Another dtype (float64 products of float32 activations):
        the chunk is converted first and centred in that dtype."""
        n, d = self.c.shape[0], pieces[0][1].shape[1]
        src, hold = pieces[0][1].dtype, pieces[0][1].device
        dtype = product or src
        work = work or _Workspace()
        mean = None
        if dtype == src:
            mean = (sum(x.sum(0).to(torch.float64) for _, x in pieces) / n).to(dtype)
        cols = max(1, block_bytes // (n * torch.empty((), dtype=dtype).element_size()))
        for c0 in range(0, d, cols):
            c1 = min(d, c0 + cols)
            w = work.get(n, c1 - c0, hold, dtype)
            for r0, x in pieces:
                if mean is None:
                    w[r0 : r0 + x.shape[0]].copy_(x[:, c0:c1])
                else:
                    torch.sub(x[:, c0:c1], mean[c0:c1], out=w[r0 : r0 + x.shape[0]])
            chunk = w.to(device)
            if mean is None:
                mu = chunk.mean(0)
                chunk -= mu
            else:
                mu = mean[c0:c1].to(device)
            self._accumulate(chunk, mu)

    def _accumulate(self, chunk: torch.Tensor, mu: torch.Tensor) -> None:
        m = mu.mean()
        r = chunk.sum(1).to(torch.float64)
        self.r += r
        self.v += (chunk @ (mu - m)).to(torch.float64)
        self.mr += m.to(torch.float64) * r
        mu64 = mu.to(torch.float64)
        self.mu2 += float(mu64 @ mu64)
        self.musum += float(mu64.sum())
        self.c += self_gram(chunk).to(torch.float64)
        self.d += chunk.shape[1]
        if self.h is not None:
            self.p = (self.h.T @ chunk.to(torch.float64)).abs().sum(1) + (0 if self.p is None else self.p)

    def centered_gram(self) -> torch.Tensor:
        """H C H (H = I − 11ᵀ/N): exactly column-centred, also where rounding left the chunks' means a few ulps off."""
        c = self.c - self.c.mean(0, keepdim=True)
        return c - c.mean(1, keepdim=True)

    def raw_gram(self) -> torch.Tensor:
        u = self.v + self.mr  # X̃ μ
        return self.c + u[:, None] + u[None, :] + self.mu2

    def prepared_gram(self, metric: str) -> torch.Tensor:
        """The Gram matrix `rdm.from_gram` expects for this metric (see rdm.gram)."""
        if metric in ("euclidean", "sqeuclidean"):
            return self.c  # distances do not change when every item moves by the same vector
        if metric == "correlation":  # rows centred over their D features: (X − r̄1ᵀ)(X − r̄1ᵀ)ᵀ, term by term
            mbar = self.musum / self.d
            w = self.v + (self.mr - mbar * self.r)  # X̃ (μ − mean μ 1)
            g = self.c - self.r[:, None] * self.r[None, :] / self.d + w[:, None] + w[None, :]
            g = g + (self.mu2 - self.musum * mbar)
        else:
            g = self.raw_gram()
        norm = torch.diagonal(g).sqrt()
        return g / norm[:, None] / norm[None, :]


@dataclass
class LayerwiseResult:
    """RDMs (and optionally column-centred linear Gram matrices) of each captured output, in layer order.

    passes: how many passes over the data it took; passes_reason: why, in one line (also logged at INFO by
    ``priorlab.probe.layerwise``). aliases: {skipped entry: the entry (or 'input') it equals}. similarity: {measure: [L, L]} when `measures` were
    asked for. gram_eps: per entry, the relative precision of its Gram matrix's products (float32's or float64's)."""

    names: list[str]
    metric: str
    n_items: int
    passes: int
    rdms: dict[str, torch.Tensor]
    grams: dict[str, torch.Tensor] | None = None
    features: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    similarity: dict[str, torch.Tensor] = field(default_factory=dict)
    gram_eps: dict[str, float] = field(default_factory=dict)
    projections: dict[str, torch.Tensor] = field(default_factory=dict)
    passes_reason: str = ""


def _device(d) -> torch.device:
    """A device with its index: "cuda" is the current CUDA device, so it compares equal to a tensor's device."""
    d = torch.device(d)
    if d.type == "cuda" and d.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return d


def _batch(inputs, start: int, stop: int, device: torch.device):
    """Items [start, stop) of a tensor/array, or of each of a tuple of them, on `device`."""
    if isinstance(inputs, (tuple, list)):
        return tuple(torch.as_tensor(x[start:stop]).to(device) for x in inputs)
    return torch.as_tensor(inputs[start:stop]).to(device)


def _n_items(inputs) -> int:
    return len(inputs[0]) if isinstance(inputs, (tuple, list)) else len(inputs)


@dataclass
class _Probe:
    """What one small forward shows of every output entry: shape, dtype, (optionally) a value fingerprint, and
    which entries the rest of the forward changed in place after they were given out (a ReLU(inplace=True) after
    a hooked BatchNorm): those must be copied when held."""

    n: int
    shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = field(default_factory=dict)
    keys: dict[str, tuple] = field(default_factory=dict)
    mutated: set[str] = field(default_factory=set)


def _probe(model: nn.Module, batch, layers: list[str], timesteps, fingerprints: bool) -> _Probe:
    probe = _Probe(batch[0].shape[0] if isinstance(batch, tuple) else batch.shape[0])
    given: dict[str, tuple[torch.Tensor, tuple]] = {}

    def sink(entry: str, t: torch.Tensor) -> None:
        probe.shapes.setdefault(entry, (tuple(t.shape), t.dtype))
        if fingerprints and entry not in given:
            key = fingerprint(t)
            probe.keys[entry] = key
            given[entry] = (t.detach(), key)

    with Hooks(model, layers, sink=sink, timesteps=timesteps) as hooks:
        hooks.run(batch)
    probe.mutated = {entry for entry, (t, key) in given.items() if fingerprint(t) != key}
    return probe


def _survey(model, inputs, n, layers, device, timesteps, skip_aliases):
    """Features per item and dtype of every batch-first float output entry of the layers, less the aliases;
    {alias: entry it equals}; and the entries changed in place later in the forward.

    Probed with batches of 2 and min(N, 8) items: an entry is batch-first when its first dimension follows the batch
    size in both (an LSTM's h_n of shape [num_layers, N, H] can match one batch size by coincidence); aliases are
    found on the larger probe."""
    small = _probe(model, _batch(inputs, 0, 2, device), layers, timesteps, False)
    large_batch = _batch(inputs, 0, min(n, ALIAS_PROBE), device)
    large = _probe(model, large_batch, layers, timesteps, True)
    sizes: dict[str, tuple[int, torch.dtype]] = {}
    skipped = []
    for entry, (shape, dtype) in large.shapes.items():
        ok = dtype.is_floating_point and all(
            entry in p.shapes and len(p.shapes[entry][0]) > 0 and p.shapes[entry][0][0] == p.n for p in (small, large)
        )
        if ok:
            sizes[entry] = (math.prod(shape[1:]), dtype)
        else:
            skipped.append(f"{entry} (shape {list(shape)} for {large.n} items)")
    if skipped:
        warnings.warn(
            "layerwise: skipping outputs that are not one row per item (first dimension = the number of items) "
            f"or not floating point: {', '.join(skipped)}",
            stacklevel=3,
        )
    aliases = {}
    if skip_aliases:
        first = fingerprint(large_batch) if isinstance(large_batch, torch.Tensor) else None
        aliases = alias_map(((e, large.keys[e]) for e in sizes), first)
        for entry in aliases:
            del sizes[entry]
    return sizes, aliases, large.mutated


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


def passes_reason(sizes: dict[str, tuple[int, torch.dtype]], n: int, budget: int, plan: list[list[Unit]]) -> str:
    """Why the analysis takes as many passes over the data as it does, in one line."""
    need = sum(n * d * torch.empty((), dtype=dt).element_size() for d, dt in sizes.values())
    held = f"{len(sizes)} outputs × {n} items: {need / GiB:.3g} GiB of activations"
    if len(plan) == 1:
        return f"1 pass: {held} fit in the memory budget ({budget / GiB:.3g} GiB)"
    split = sorted({u.entry for units in plan for u in units if (u.c0, u.c1) != (0, sizes[u.entry][0])})
    tail = f"; split across passes by columns: {', '.join(split)}" if split else ""
    return f"{len(plan)} passes: {held}, more than the memory budget ({budget / GiB:.3g} GiB) holds at once{tail}"


def _buffer(n: int, cols: int, dtype: torch.dtype, folder: str | None, i: int) -> torch.Tensor:
    """An [n, cols] tensor in RAM, or backed by a memory-mapped .npy file in `folder`."""
    if folder is None:
        return torch.empty(n, cols, dtype=dtype)
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype
    return torch.from_numpy(
        np.lib.format.open_memmap(Path(folder) / f"unit{i}.npy", "w+", np_dtype, (n, cols))
    )


def _owns(v: torch.Tensor) -> bool:
    """v is all of its storage (not a view into a larger tensor, which holding it would keep alive)."""
    return v.is_contiguous() and v.storage_offset() == 0 and v.untyped_storage().nbytes() == v.numel() * v.element_size()


def _fill(model, inputs, n, units, sizes, names, device, hold, batch_size, tick, timesteps, folder, copy):
    """One pass over the data: each unit's columns of its entry for all N items, batch by batch; each forward call
    stops once the pass's last entry is out. Returns per unit its row blocks (first row, [rows, columns]).

    A unit that is a whole entry keeps the forward's own output tensors (no copy) unless the entry is in `copy`
    (changed in place later in the forward), the output is a view into something larger, or it lives on another
    device than `hold`; a column slice, or any unit with a memory-map folder, is copied into one [N, c] buffer.
    Returns (pieces, entries whose kept outputs were changed after the hook: the pass must be made again)."""
    by_entry: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        by_entry.setdefault(u.entry, []).append(i)
    whole = [folder is None and (u.c0, u.c1) == (0, sizes[u.entry][0]) for u in units]
    pieces: list[Pieces] = [
        [] if whole[i] else [(0, _buffer(n, u.c1 - u.c0, sizes[u.entry][1], folder, i))] for i, u in enumerate(units)
    ]
    kept: list[tuple[str, torch.Tensor, int]] = []
    start = 0

    def sink(entry: str, t: torch.Tensor) -> None:
        v = t.detach().reshape(t.shape[0], -1)
        for i in by_entry.get(entry, ()):
            u = units[i]
            if not whole[i]:
                pieces[i][0][1][start : start + t.shape[0]] = v[:, u.c0 : u.c1]
                continue
            if entry in copy or v.device != hold or not _owns(v):
                pieces[i].append((start, v.to(hold, copy=True)))
            else:
                pieces[i].append((start, v))
                kept.append((entry, v, v._version))

    with Hooks(model, names, sink=sink, timesteps=timesteps) as hooks:
        for start in range(0, n, batch_size):
            hooks.run(_batch(inputs, start, start + batch_size, device), until=by_entry)
            tick()
    return pieces, {entry for entry, v, version in kept if v._version != version}


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
    timesteps: str | int | Sequence[int] | None = None,
    measures: Sequence[str] | None = None,
    skip_aliases: bool = True,
    gram_dtype: torch.dtype | None = None,
    projections: dict[str, torch.Tensor] | None = None,
) -> LayerwiseResult:
    """RDMs of every layer's output over all N items of `inputs`, in as many passes as the budget needs.

    inputs: a batch-first tensor [N, ...] (or array, np.memmap, or a tuple of them for several positional inputs).
    layers: module paths (None = natural blocks); outputs are named as by `capture` (one rule, `probe.capture.Hooks`):
    tuple outputs as name.0, name.1, …, later calls of a module called several times per forward as name@1, …,
    recurrent modules' time steps as name.0@t5 and final states per layer as name.h_n.0, name.c_n.0.
    memory_budget: bytes of activations held at once. device: where the model runs (default: its parameters').
    gram_device: where Gram matrices are formed (default: CUDA when present). memmap_dir: hold activations in
    memory-mapped files there instead of RAM. keep_grams: also return column-centred linear Grams (for CKA).
    progress: called as progress(step, total, description) after every batch.
    timesteps: recurrent layers' sequence output whole (None), or per time step: "last", "all", a list of indices.
    measures: names of `priorlab.probe.similarity` (cka, procrustes, cca, svcca, shape) for ``res.similarity``, the
    [L, L] matrix between every pair of layers, from the Gram matrices (pwcca needs the units: it is refused here;
    :func:`paired_pwcca` compares two networks' layers).
    skip_aliases: leave out outputs equal to an earlier one (listed in ``res.aliases``).
    gram_dtype: dtype of the Gram products (default: the model's; float64 when a measure other than cka is asked
    for, which needs small directions resolved).
    projections: {entry: item-space directions h [N, r]}: also gives ``res.projections[entry]``, Σ_j |hᵀ x̃_j| over
    the entry's centred columns x̃_j (PWCCA's weights, see :func:`paired_pwcca`).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    if memory_budget <= 0 or batch_size <= 0:
        raise ValueError("memory_budget and batch_size must be positive")
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else "cpu"
    device = _device(device)
    gram_device = _device(gram_device or ("cuda" if torch.cuda.is_available() else "cpu"))
    measures = _check_measures(measures)
    if gram_dtype is None and any(m != "cka" for m in measures):
        gram_dtype = torch.float64
    names = resolve_layers(model, layers)
    n = _n_items(inputs)
    if n < 3:
        raise ValueError(f"inputs: an RDM needs at least 3 items, got {n}")

    sizes, aliases, copy = _survey(model, inputs, n, names, device, timesteps, skip_aliases)
    plan = plan_passes(sizes, n, memory_budget)
    reason = passes_reason(sizes, n, memory_budget, plan)
    log.info("layerwise: %s", reason)
    hold = device if device == gram_device else torch.device("cpu")  # where a pass's activations are held
    work = _Workspace()
    sums: dict[str, _Sums] = {}
    rdms, grams, projected = {}, ({} if keep_grams or measures else None), {}
    total = len(plan) * math.ceil(n / batch_size)
    steps = itertools.count(1)

    for p, units in enumerate(plan):
        description = f"pass {p + 1}/{len(plan)}"

        def tick(description=description):
            step = next(steps)
            if progress is not None:
                progress(step, total, description)

        with tempfile.TemporaryDirectory(dir=memmap_dir) if memmap_dir else nullcontext() as folder:
            args = (model, inputs, n, units, sizes, names, device, hold, batch_size)
            pieces, changed = _fill(*args, tick, timesteps, folder, copy)
            while changed:  # kept outputs were changed after their hook (not seen on the probe): copy them, again
                copy |= changed
                pieces, changed = _fill(*args, lambda: None, timesteps, folder, copy)
            for i, u in enumerate(units):
                if u.entry not in sums:
                    sums[u.entry] = _Sums.zeros(n, gram_device)
                    if projections and u.entry in projections:
                        sums[u.entry].h = projections[u.entry].to(gram_device, torch.float64)
                sums[u.entry].add(pieces[i], gram_device, gram_dtype, work=work)
                pieces[i] = None  # free this unit's activations before the next one is centred
                if u.c1 == sizes[u.entry][0]:  # the entry's last columns: its statistics are complete
                    s = sums.pop(u.entry)
                    # results in float32, or float64 for float64 models
                    dtype = torch.promote_types(sizes[u.entry][1], torch.float32)
                    rdms[u.entry] = from_gram(s.prepared_gram(metric), metric, s.d).to("cpu", dtype)
                    if grams is not None:  # as precise as its products
                        grams[u.entry] = s.centered_gram().to("cpu", torch.promote_types(dtype, gram_dtype or dtype))
                    if s.p is not None:
                        projected[u.entry] = s.p.cpu()
    res = LayerwiseResult(
        list(sizes), metric, n, len(plan), rdms, grams, {e: d for e, (d, _) in sizes.items()}, aliases,
        gram_eps={e: torch.finfo(gram_dtype or d).eps for e, (_, d) in sizes.items()}, projections=projected,
        passes_reason=reason,
    )
    res.similarity = {m: layerwise_similarity(res, None, m, device=gram_device) for m in measures}
    if not keep_grams:
        res.grams = None
    return res


def layerwise_rdms(
    model: nn.Module, inputs, layers=None, metric: str = "correlation", **kw
) -> dict[str, torch.Tensor]:
    """{entry: RDM} for every layer, computed within `memory_budget` (see `layerwise_analysis`)."""
    return layerwise_analysis(model, inputs, layers, metric=metric, **kw).rdms


def layerwise_grams(model: nn.Module, inputs, layers=None, **kw) -> dict[str, torch.Tensor]:
    """{entry: column-centred linear Gram [N, N]} for every layer, within `memory_budget` (see `layerwise_analysis`)."""
    return layerwise_analysis(model, inputs, layers, keep_grams=True, **kw).grams


def _check_measures(measures: Sequence[str] | None) -> list[str]:
    measures = [measures] if isinstance(measures, str) else list(measures or [])
    for m in measures:
        if m in NOT_FROM_SPECTRA and m != "cka":
            raise ValueError(NOT_FROM_SPECTRA[m])
        if m not in GRAM_MEASURES:
            raise ValueError(f"measures: unknown '{m}' (allowed: {', '.join(GRAM_MEASURES)})")
    return measures


def _grams(res: LayerwiseResult | dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """A result's (or a dict's) Gram matrices and their precision."""
    if isinstance(res, LayerwiseResult):
        if res.grams is None:
            raise ValueError("layer-wise similarity needs Gram matrices: call layerwise_analysis(..., keep_grams=True)")
        return res.grams, res.gram_eps
    return res, {}


class _Layers:
    """The layers of one result, with their spectra computed once (on `device`) when a measure needs them."""

    def __init__(self, res, device):
        self.grams, self.eps = _grams(res)
        self.device = device
        self._spectra = {}

    def gram(self, name: str) -> torch.Tensor:
        return self.grams[name].double()

    def spectrum(self, name: str):
        if name not in self._spectra:
            eps = self.eps.get(name, torch.finfo(self.grams[name].dtype).eps)
            self._spectra[name] = gram_spectrum(self.gram(name).to(self.device), eps)
        return self._spectra[name]

    def measure(self, other: _Layers, a: str, b: str, measure: str, options: dict) -> float:
        if measure == "cka":
            return cka_gram(self.gram(a).to(self.device), other.gram(b).to(self.device), options.get("debiased", False))
        return from_spectra(self.spectrum(a), other.spectrum(b), measure, **options)


def _layers_pair(a, b, measure: str, device) -> tuple[_Layers, _Layers]:
    _check_measures([measure])
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    la = _Layers(a, device)
    return la, (la if b is None else _Layers(b, device))


def layerwise_similarity(a, b=None, measure: str = "cka", device=None, **options) -> torch.Tensor:
    """The measure between every layer of `a` and every layer of `b` (default: `a` itself), from their Grams.

    Entry [i, j] compares a's i-th and b's j-th layer; `a`/`b` are results of `layerwise_analysis(...,
    keep_grams=True)` or dicts of column-centred Gram matrices. measure: cka (option ``debiased``), procrustes, cca,
    svcca (``keep``), shape (``alpha``, ``eps``) — the definitions of `priorlab.probe.similarity`, computed on
    `device` (default: CUDA when present)."""
    la, lb = _layers_pair(a, b, measure, device)
    out = torch.empty(len(la.grams), len(lb.grams), dtype=torch.float64)
    for i, x in enumerate(la.grams):
        for j, y in enumerate(lb.grams):
            out[i, j] = la.measure(lb, x, y, measure, options)
    return out


def paired_similarity(a, b, measure: str = "cka", device=None, **options) -> dict[str, float]:
    """{layer: the measure between a's and b's layer of that name}, for the layers both have (in a's order): two
    networks of one architecture compared layer by layer."""
    la, lb = _layers_pair(a, b, measure, device)
    return {name: la.measure(lb, name, name, measure, options) for name in la.grams if name in lb.grams}


def paired_pwcca(model: nn.Module, inputs, a: LayerwiseResult, b: LayerwiseResult, device=None, **analysis):
    """{layer: PWCCA(a's layer, b's layer)} for the layers both have, `a` being `model`'s analysis of `inputs`.

    PWCCA weights the canonical directions by how much of a's units they carry, so beyond the two results' Grams it
    needs a's activations: one more pass over `model` (``analysis``: the keyword arguments `a` was made with —
    layers, timesteps, memory_budget, batch_size, …)."""
    la, lb = _layers_pair(a, b, "cca", device)
    directions, rhos = {}, {}
    for name in la.grams:
        if name in lb.grams:
            directions[name], rhos[name] = canonical_directions(la.spectrum(name), lb.spectrum(name))
    analysis.setdefault("gram_device", la.device)
    res = layerwise_analysis(model, inputs, projections=directions, **analysis)
    return {name: pwcca_weighted(res.projections[name], rho) for name, rho in rhos.items()}


def layerwise_cka(a, b=None, debiased: bool = False) -> torch.Tensor:
    """Linear CKA between every layer of `a` and every layer of `b`: ``layerwise_similarity(a, b, "cka")``."""
    return layerwise_similarity(a, b, "cka", debiased=debiased)
