"""probe.interop: RDMs to and from rsatoolbox, checked against rsatoolbox's own RDMs, comparisons and hdf5 files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from priorlab.probe import compare, from_rsatoolbox, rdm, to_rsatoolbox

rsatoolbox = pytest.importorskip("rsatoolbox")


def _x(n=10, f=7, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(n, f)))


def _theirs(x, method):
    return rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x.numpy()), method=method)


@pytest.mark.parametrize("ours,theirs", [("correlation", "correlation"), ("sqeuclidean", "euclidean")])
def test_to_rsatoolbox_equals_rsatoolbox_own_rdm(ours, theirs):
    x = _x()
    rsa = to_rsatoolbox(rdm(x, ours), measure=ours)
    peer = _theirs(x, theirs)
    np.testing.assert_allclose(rsa.dissimilarities, peer.dissimilarities, atol=1e-10)
    assert rsa.dissimilarity_measure == peer.dissimilarity_measure
    # and rsatoolbox's comparison of the converted RDMs is ours
    y = _x(seed=1)
    got = rsatoolbox.rdm.compare(to_rsatoolbox(rdm(x)), to_rsatoolbox(rdm(y)), method="spearman").item()
    assert got == pytest.approx(compare(rdm(x), rdm(y), "spearman"), abs=1e-10)


def test_from_rsatoolbox_equals_our_rdm():
    x = _x()
    back = from_rsatoolbox(_theirs(x, "correlation"))
    assert back.shape == (10, 10) and back.dtype == torch.float64
    torch.testing.assert_close(back, rdm(x.double()), atol=1e-10, rtol=0)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(3, 12), s=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_round_trip_keeps_every_value(n, s, seed):
    g = torch.Generator().manual_seed(seed)
    mats = torch.stack([rdm(torch.randn(n, 5, generator=g, dtype=torch.float64)) for _ in range(s)])
    back = from_rsatoolbox(to_rsatoolbox(mats))
    torch.testing.assert_close(back, mats[0] if s == 1 else mats, atol=0, rtol=0)


def test_named_rdms_and_labels_travel(tmp_path):
    x, y = _x(), _x(seed=2)
    nested = {"input": None, "reference": {"conv": rdm(x), "fc": rdm(y)}, "random": {"fc": rdm(x + y)},
              "labels": list("aabbccddee")}
    rsa = to_rsatoolbox(nested)
    assert rsa.rdm_descriptors["name"] == ["reference/conv", "reference/fc", "random/fc"]
    assert rsa.pattern_descriptors["label"] == list("aabbccddee")
    path = tmp_path / "rdms.hdf5"
    rsa.save(str(path), file_type="hdf5")
    back = from_rsatoolbox(path, by="name")
    assert list(back) == ["reference/conv", "reference/fc", "random/fc"]
    torch.testing.assert_close(back["random/fc"], rdm(x + y).double(), atol=1e-12, rtol=0)


def test_bad_rdms_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="not symmetric"):
        to_rsatoolbox(torch.rand(4, 4) + torch.eye(4))
    with pytest.raises(ValueError, match="at least 3"):
        to_rsatoolbox(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="every RDM must be"):
        to_rsatoolbox({"a": rdm(_x()), "b": rdm(_x(n=5))})
    with pytest.raises(ValueError, match="labels: 3 labels for 10"):
        to_rsatoolbox(rdm(_x()), labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="no descriptor 'layer'"):
        from_rsatoolbox(to_rsatoolbox(rdm(_x())), by="layer")
    (tmp_path / "r.pkl").write_bytes(b"x")
    with pytest.raises(ValueError, match="hdf5"):
        from_rsatoolbox(tmp_path / "r.pkl")
