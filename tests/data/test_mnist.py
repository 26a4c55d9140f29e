"""MNIST IDX loader on small IDX files written here (plain and gzip), and its refusals."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from priorlab.config import UserError
from priorlab.data.mnist import FILES, mnist, read_idx, write_idx


def _idx_bytes(array: np.ndarray) -> bytes:
    """IDX bytes built independently of the loader: magic 0 0 0x08 ndim, big-endian sizes, raw uint8."""
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _write_mnist(folder, n_train=12, n_test=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    for key, stem in FILES.items():
        data = _idx_bytes(arrays[key])
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_reads_the_four_files(tmp_path, gz):
    arrays = _write_mnist(tmp_path, gz=gz)
    split = mnist(tmp_path, standardize=False)
    assert split.x_train.shape == (12, 1, 28, 28) and split.x_test.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(split.x_train[:, 0].numpy(), arrays["x_train"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(split.y_test.numpy(), arrays["y_test"])
    assert str(split.y_train.dtype) == "torch.int64"
    z = mnist(tmp_path)  # standardised with the training mean and SD
    assert abs(z.x_train.mean().item()) < 1e-5 and z.x_train.std().item() == pytest.approx(1.0, rel=1e-4)


def test_read_idx_other_types_roundtrip(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5.5
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.idx", a)), a)
    b = np.array([-3, 70000, 5], dtype=np.int32)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b.idx.gz", b)), b)
    assert (tmp_path / "b.idx.gz").read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize(
    "name, damage, match",
    [("x_train", lambda raw: raw[:-100], "truncated"), ("y_test", lambda raw: b"\x08\x03" + raw[2:], "wrong magic")],
)
def test_damaged_dataset_file_is_refused(tmp_path, name, damage, match):
    _write_mnist(tmp_path)
    path = tmp_path / FILES[name]
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(UserError, match=match):
        mnist(tmp_path)


@pytest.mark.parametrize(
    "raw, match",
    [(b"\x00\x00\x08\x03\x00\x00", "truncated"), (b"\x89PNG\r\n\x1a\n", "not an IDX file")],
)
def test_bad_idx_file_is_refused(tmp_path, raw, match):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(UserError, match=match):
        read_idx(tmp_path / "bad")


def test_truncated_gzip_is_refused(tmp_path):
    data = gzip.compress(_idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    (tmp_path / "t.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cannot read IDX file"):
        read_idx(tmp_path / "t.gz")


def test_missing_and_mismatched_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        mnist(tmp_path / "nowhere")
    _write_mnist(tmp_path)
    (tmp_path / FILES["y_train"]).write_bytes(_idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(UserError, match="do not match"):
        mnist(tmp_path)
    (tmp_path / FILES["x_test"]).unlink()
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte"):
        mnist(tmp_path)
