"""data.stimuli: load_stimuli (stratified by category, seeded, augment), target RDM files."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from priorlab.data import load_stimuli
from priorlab.data.stimuli import category_rdm, load_rdms, stratified
from priorlab.errors import UserError


@pytest.fixture
def folder(tmp_path):
    """Three categories with 6, 3 and 1 files."""
    rng = np.random.default_rng(0)
    for cat, k in (("a", 6), ("b", 3), ("c", 1)):
        (tmp_path / cat).mkdir()
        for i in range(k):
            Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(tmp_path / cat / f"{i}.png")
    return tmp_path


def test_load_stimuli_is_public_and_documented():
    import priorlab.data

    assert "load_stimuli" in priorlab.data.__all__ and "stratified" in load_stimuli.__doc__
    assert priorlab.data.load_stimuli is load_stimuli


def test_stratified_draws_spread_over_categories():
    cats = ["a"] * 6 + ["b"] * 3 + ["c"]
    rng = np.random.default_rng(0)
    assert Counter(cats[i] for i in stratified(cats, 3, rng)) == {"a": 1, "b": 1, "c": 1}
    assert Counter(cats[i] for i in stratified(cats, 7, rng)) == {"a": 3, "b": 3, "c": 1}  # c has only one
    assert len(set(stratified(cats, 10, rng))) == 10


def test_folder_draw_is_stratified_seeded_and_sorted(folder):
    s = load_stimuli(f"images:{folder}", 6, 8, 1, seed=1)
    assert Counter(s.labels) == {"a": 3, "b": 2, "c": 1} and s.labels == sorted(s.labels) and s.n_original == 6
    assert torch.equal(s.x, load_stimuli(f"images:{folder}", 6, 8, 1, seed=1).x)
    others = [load_stimuli(f"images:{folder}", 6, 8, 1, seed=k).x for k in range(2, 6)]
    assert any(not torch.equal(s.x, o) for o in others)  # the seed chooses the files


def test_more_stimuli_than_files_needs_augment(folder):
    with pytest.raises(UserError, match=r"n_stimuli=14 is more than the 10 image files .*augment=true"):
        load_stimuli(f"images:{folder}", 14, 8, 1)
    s = load_stimuli(f"images:{folder}", 14, 8, 1, augment=True)
    assert len(s) == 14 and s.n_original == 10 and "10 originals, 4 random crops" in s.description
    assert Counter(s.labels) == {"a": 6 + 2, "b": 3 + 1, "c": 1 + 1}  # extra crops round-robin over categories


def test_category_rdm():
    d = category_rdm(["x", "x", "y"])
    np.testing.assert_array_equal(d, [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    with pytest.raises(UserError, match="at least 2 categories"):
        category_rdm(["x", "x"])


def test_target_rdm_files(tmp_path):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    stack = np.random.default_rng(0).random((3, 6, 6))
    stack = (stack + stack.transpose(0, 2, 1)) / 2 * (1 - np.eye(6))
    np.save(tmp_path / "r.npy", stack)
    np.testing.assert_allclose(load_rdms(f"rdms:{tmp_path / 'r.npy'}", 6), stack)
    rsatoolbox.rdm.RDMs(stack).save(str(tmp_path / "r.hdf5"), "hdf5")  # written by rsatoolbox itself
    np.testing.assert_allclose(load_rdms(f"rdms:{tmp_path / 'r.hdf5'}", 6), stack)
    with pytest.raises(UserError, match="RDMs of 6 stimuli, but n_stimuli is 5"):
        load_rdms(f"rdms:{tmp_path / 'r.npy'}", 5)
    with pytest.raises(UserError, match="no such file"):
        load_rdms(f"rdms:{tmp_path / 'none.npy'}", 6)
    (tmp_path / "bad.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(UserError, match="cannot read bad.hdf5"):
        load_rdms(f"rdms:{tmp_path / 'bad.hdf5'}", 6)
