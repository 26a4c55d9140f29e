"""MNIST from the four IDX files in a folder the user gives (plain or gzip); nothing is downloaded.

IDX format: two zero bytes, a type code, the number of dimensions n, then n big-endian uint32 sizes and the
data, big-endian. A file that is truncated, too long, or lacks the magic raises :class:`UserError`.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from priorlab.config import UserError
from priorlab.data.digits import Split

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


MAX_BYTES = 2**30  # data an IDX file may declare (MNIST's largest is 47 MB)
MAX_NDIM = 16


def read_idx(path: str | Path, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read one IDX file (gzip detected from its first bytes) into an array of its declared shape.

    A gzip file is decompressed as a stream that stops at the size the header declares (plus one byte, to tell a
    file that is longer than it says): a small file that inflates to gigabytes is refused without inflating it."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        stream = gzip.open(path, "rb") if gz else path.open("rb")
        with stream:
            head = stream.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in DTYPES:
                raise UserError(f"'{path}' is not an IDX file (wrong magic number {head.hex() or 'empty'})")
            ndim = head[3]
            if ndim > MAX_NDIM:
                raise UserError(f"IDX file '{path}' declares {ndim} dimensions (at most {MAX_NDIM})")
            dims = stream.read(4 * ndim)
            header = 4 + 4 * ndim
            if len(dims) < 4 * ndim:
                raise UserError(f"IDX file '{path}' is truncated (header needs {header} bytes, "
                                f"file has {4 + len(dims)})")
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
            dtype = np.dtype(DTYPES[head[2]])
            size = dtype.itemsize
            for n in shape:
                size *= n  # Python integers: 65536^4 does not wrap around to 0
            if size > max_bytes:
                raise UserError(f"IDX file '{path}' declares shape {shape} ({size:,} bytes; at most {max_bytes:,})")
            data = stream.read(size + 1)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise UserError(f"cannot read IDX file '{path}': {exc.__class__.__name__}: {exc}") from None
    if len(data) != size:
        what = "truncated" if len(data) < size else "longer than its header says"
        have = f"{header + len(data)} bytes" if len(data) <= size else "more bytes"
        raise UserError(f"IDX file '{path}' is {what} ({have}, shape {shape} needs {header + size})")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"MNIST folder '{folder}' has no '{stem}' (or '{stem}.gz')")


def mnist(folder: str | Path, standardize: bool = True) -> Split:
    """The MNIST train/test split from ``folder``: images [N, 1, 28, 28] in [0, 1] (standardised with the
    training mean and SD, one scalar, when ``standardize``), labels int64."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"MNIST folder '{folder}' does not exist")
    arrays = {key: read_idx(_find(folder, stem)) for key, stem in FILES.items()}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise UserError(
                f"MNIST {part} files in '{folder}' do not match: images {x.shape}, labels {y.shape}"
            )
    xtr, xte = (torch.from_numpy(arrays[k].astype(np.float32) / 255.0)[:, None] for k in ("x_train", "x_test"))
    if standardize:
        mu, sd = xtr.mean(), xtr.std().clamp_min(1e-3)
        xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    ytr, yte = (torch.from_numpy(arrays[k].astype(np.int64)) for k in ("y_train", "y_test"))
    return Split(xtr.contiguous(), ytr, xte.contiguous(), yte)


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` (uint8/int8/int16/int32/float32/float64) as an IDX file; gzip when the name ends in .gz."""
    path = Path(path)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in DTYPES.items()}
    a = np.asarray(array)
    code = codes.get(a.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot hold dtype {a.dtype}")
    data = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    data += a.astype(np.dtype(DTYPES[code])).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path
