"""Stimuli from files: sequences [N, T, F] for recurrent networks, and tables [N, F] for any network on vectors.

    x, labels = load_sequences("trials.npz")     # x [N, T, F] float32; labels: list of N strings, or None
    x, labels = load_table("features.csv")       # x [N, F]; a column named `label` gives the labels
    x, labels, description = file_stimuli("sequences:trials.npz", n=100, seed=0)   # a stimulus spec

- ``load_sequences``: ``.npy`` holding an [N, T, F] array (no labels), or ``.npz`` with the array under ``x`` and
  optional ``labels`` (N values: numbers or strings).
- ``load_table``: ``.npy`` holding an [N, F] array, or ``.csv``: one row per item, numeric columns, an optional
  header row (the first row is a header when any of its cells is not a number) and an optional column named
  ``label`` (case-insensitive), whose values are the labels.

Arrays are read with ``np.load(allow_pickle=False)``: nothing in a file is executed. Every problem (missing file,
wrong suffix or number of dimensions, no ``x``, text among the numbers, ragged rows, NaN or inf, labels of the wrong
length) is a one-line UserError naming `stimuli` and the file. The loaders keep the file's order;
:func:`file_stimuli` (the specs ``sequences:<file>`` and ``table:<file>``) takes a seeded subset of `n` items when
the file holds more, and sorts them by label (stably), as image stimuli are sorted by category.
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
import torch

from priorlab.errors import UserError

__all__ = ["FILE_KINDS", "file_stimuli", "forget_arrays", "load_sequences", "load_table", "register_arrays"]

FILE_KINDS = ("sequences:", "table:", "memory:")  # memory: arrays handed to the Python API (register_arrays)
_ARRAYS: dict[str, tuple[torch.Tensor, list[str] | None]] = {}
_COUNT = itertools.count()


def _fail(path, what: str) -> UserError:
    return UserError(f"stimuli: '{path}' {what}")


def _file(path, suffixes: tuple[str, ...], kind: str) -> Path:
    file = Path(path).expanduser()
    if file.suffix.lower() not in suffixes:
        raise _fail(path, f"is not a {kind} file ({' or '.join(suffixes)})")
    if not file.is_file():
        raise UserError(f"stimuli: no such file '{path}'")
    return file


def _load(file: Path, path):
    try:
        return np.load(file, allow_pickle=False)
    except ValueError as exc:
        if "Object arrays" in str(exc):
            raise _fail(path, "holds Python objects, which are not read (save plain numeric arrays)") from None
        raise _fail(path, "is not a readable .npy/.npz array file (reading it would need pickle, not allowed)") from None
    except (OSError, EOFError) as exc:
        raise _fail(path, f"is not a readable .npy/.npz file ({exc.__class__.__name__})") from None


def _as_tensor(array, ndim: int, shape: str, path, name: str = "the array") -> torch.Tensor:
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise _fail(path, f"{name} holds {array.dtype} values, not numbers")
    if array.ndim != ndim:
        raise _fail(path, f"{name} has shape {list(array.shape)}; expected {shape}")
    if array.shape[0] == 0:
        raise _fail(path, f"{name} holds no items")
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).all(1))[0])
        raise _fail(path, f"{name} holds NaN or inf (item {bad})")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _labels(values, n: int, path) -> list[str]:
    values = np.asarray(values)
    if values.ndim != 1 or len(values) != n:
        raise _fail(path, f"'labels' has shape {list(values.shape)}; expected one label per item ({n})")
    return [str(v) for v in values.tolist()]


def load_sequences(path) -> tuple[torch.Tensor, list[str] | None]:
    """Sequences [N, T, F] (float32) and their labels (None without) from a .npy or .npz file."""
    file = _file(path, (".npy", ".npz"), "sequences")
    data = _load(file, path)
    if isinstance(data, np.ndarray):
        return _as_tensor(data, 3, "[N, T, F] (items, time steps, features)", path), None
    with data:
        if "x" not in data.files:
            raise _fail(path, f"has no array 'x' (arrays: {', '.join(data.files) or 'none'})")
        x = _as_tensor(_member(data, "x", path), 3, "[N, T, F] (items, time steps, features)", path, "'x'")
        labels = _labels(_member(data, "labels", path), len(x), path) if "labels" in data.files else None
    return x, labels


def _member(data, key: str, path) -> np.ndarray:
    """One array of an .npz file (object arrays are refused: they would need pickle)."""
    try:
        return data[key]
    except ValueError:
        raise _fail(path, f"'{key}' holds Python objects, which are not read (save plain numeric or string arrays)")\
            from None


def load_table(path) -> tuple[torch.Tensor, list[str] | None]:
    """A table [N, F] (float32) and its labels (None without) from a .npy or .csv file."""
    file = _file(path, (".npy", ".csv"), "table")
    if file.suffix.lower() == ".npy":
        data = _load(file, path)
        return _as_tensor(data, 2, "[N, F] (items, features)", path), None
    return _read_csv(file, path)


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _read_csv(file: Path, path) -> tuple[torch.Tensor, list[str] | None]:
    try:
        with open(file, newline="", encoding="utf-8-sig") as f:
            rows = [(i, [c.strip() for c in row]) for i, row in enumerate(csv.reader(f), start=1) if any(row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(path, f"is not a readable CSV file ({exc.__class__.__name__})") from None
    if not rows:
        raise _fail(path, "is empty")
    header = None
    if any(_number(c) is None for c in rows[0][1]):
        header, rows = [c.lower() for c in rows[0][1]], rows[1:]
    if not rows:
        raise _fail(path, "has a header but no rows")
    width = len(header) if header is not None else len(rows[0][1])
    label_col = header.index("label") if header is not None and "label" in header else None
    values, labels = [], []
    for line, row in rows:
        if len(row) != width:
            raise _fail(path, f"line {line} has {len(row)} columns; the {'header' if header else 'first row'} has "
                        f"{width} (ragged CSV)")
        numbers = []
        for col, cell in enumerate(row):
            if col == label_col:
                labels.append(cell)
                continue
            v = _number(cell)
            if v is None:
                name = f"'{header[col]}'" if header is not None else str(col + 1)
                raise _fail(path, f"line {line}, column {name}: '{cell}' is not a number")
            if not math.isfinite(v):
                raise _fail(path, f"line {line} holds NaN or inf")
            numbers.append(v)
        values.append(numbers)
    if not values[0]:
        raise _fail(path, "has no numeric columns")
    x = torch.tensor(values, dtype=torch.float32)
    return x, (labels if label_col is not None else None)


def register_arrays(x, labels=None) -> str:
    """Hold stimuli given as an array (any shape [N, ...]: images, sequences, rows) and their labels under a
    `memory:<key>` spec that :func:`file_stimuli` reads like a file; :func:`forget_arrays` lets them go."""
    what = "memory:"
    x = torch.as_tensor(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x))
    if x.dim() < 2:
        raise UserError(f"stimuli: expected an array [N, ...] of items, got shape {list(x.shape)}")
    x = _as_tensor(x.numpy(), x.dim(), "[N, ...]", what)
    if labels is not None:
        labels = _labels(labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels, len(x), what)
    key = f"memory:{next(_COUNT)}"
    _ARRAYS[key] = (x, labels)
    return key


def forget_arrays(spec: str) -> None:
    _ARRAYS.pop(spec, None)


def file_stimuli(spec: str, n: int, seed: int = 0) -> tuple[torch.Tensor, list[str] | None, str]:
    """(x, labels, description) for ``sequences:<file>`` or ``table:<file>``: at most `n` items (a seeded subset in
    file order when there are more), sorted by label; fewer than 3 items is a UserError (an RDM needs 3)."""
    kind, _, path = spec.partition(":")
    if f"{kind}:" not in FILE_KINDS or not path:
        raise UserError(f"stimuli: expected sequences:<file.npy|.npz> or table:<file.npy|.csv>, got '{spec}'")
    if kind == "memory":
        if spec not in _ARRAYS:
            raise UserError(f"stimuli: '{spec}' names no array of this process (memory: specs come from the Python API)")
        x, labels = _ARRAYS[spec]
        path = "the array given"
    else:
        x, labels = (load_sequences if kind == "sequences" else load_table)(path)
    total = len(x)
    if total < 3:
        raise _fail(path, f"holds {total} items; an RDM needs at least 3")
    idx = np.arange(total)
    if total > n:
        idx = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
    if labels is not None:
        idx = idx[np.argsort(np.array(labels)[idx], kind="stable")]
        labels = [labels[i] for i in idx]
    shape = " × ".join(map(str, x.shape[1:]))
    what = {"sequences": "sequences", "table": "rows"}.get(kind, "items")
    description = f"{len(idx)} of the {total} {what} in {path} ({shape} per item{', labelled' if labels else ''})"
    return x[torch.from_numpy(idx)], labels, description
