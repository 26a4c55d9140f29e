"""Similarity measures against independent references (scipy, scikit-learn, numpy) and their invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

from priorlab.probe.similarity import (
    canonical_correlations,
    cca,
    procrustes,
    pwcca,
    shape_distance,
    similarity,
    svcca,
)


def _pair(seed=0, n=60, p=8, q=6, shared=3):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, shared))
    x = z @ rng.standard_normal((shared, p)) + 0.5 * rng.standard_normal((n, p))
    y = z @ rng.standard_normal((shared, q)) + 0.5 * rng.standard_normal((n, q))
    return x, y


def _centre_unit(a):
    a = a - a.mean(0)
    return a / np.linalg.norm(a)


def test_procrustes_matches_scipy():
    x, y = _pair(p=6, q=6)
    xn, yn = _centre_unit(x), _centre_unit(y)
    r, _ = orthogonal_procrustes(yn, xn)  # argmin_R ||yn R - xn||
    assert procrustes(x, y) == pytest.approx(np.linalg.norm(xn - yn @ r), abs=1e-10)


def _cca_reference(x, y):
    """Canonical correlations from the covariance definition: singular values of Σxx^-1/2 Σxy Σyy^-1/2."""
    x, y = x - x.mean(0), y - y.mean(0)

    def inv_sqrt(c):
        w, v = np.linalg.eigh(c)
        return v @ np.diag(w**-0.5) @ v.T

    m = inv_sqrt(x.T @ x) @ (x.T @ y) @ inv_sqrt(y.T @ y)
    return np.linalg.svd(m, compute_uv=False)


def test_cca_matches_covariance_reference():
    x, y = _pair()
    rho = canonical_correlations(x, y).numpy()
    np.testing.assert_allclose(rho, _cca_reference(x, y)[: len(rho)], atol=1e-10)
    assert cca(x, y) == pytest.approx(_cca_reference(x, y).mean(), abs=1e-10)


def test_first_canonical_correlation_matches_sklearn():
    from sklearn.cross_decomposition import CCA

    x, y = _pair(seed=3)
    u, v = CCA(n_components=1, max_iter=5000, tol=1e-12).fit(x, y).transform(x, y)
    top = abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1])
    assert canonical_correlations(x, y)[0].item() == pytest.approx(top, abs=1e-4)


def test_shape_alpha_one_is_procrustes_and_alpha_zero_is_cca_like():
    x, y = _pair(p=5, q=5)
    d = procrustes(x, y)
    assert shape_distance(x, y, alpha=1.0) == pytest.approx(math.acos(1 - d**2 / 2), abs=1e-10)
    # full whitening: the nuclear norm of the whitened cross product is the sum of canonical correlations
    expected = math.acos(canonical_correlations(x, y).sum().item() / 5)
    assert shape_distance(x, y, alpha=0.0, eps=0) == pytest.approx(expected, abs=1e-6)


def test_svcca_keeps_variance_directions_and_pwcca_weights():
    x, y = _pair(p=10, q=10)
    assert svcca(x, y, keep=1.0) == pytest.approx(cca(x, y), abs=1e-10)
    assert 0 < pwcca(x, y) <= 1
    # pwcca weights the directions that carry x: it is above the plain mean when the shared part dominates x
    assert pwcca(x, y) > cca(x, y)


def test_identical_and_errors():
    x, _ = _pair()
    assert procrustes(x, x) == pytest.approx(0, abs=1e-6)
    assert cca(x, x) == pytest.approx(1, abs=1e-10)
    assert shape_distance(x, x, alpha=0.3) == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match="same items"):
        similarity(x, x[:10], "cca")
    with pytest.raises(ValueError, match="at least 3 items"):
        similarity(x[:2], x[:2], "procrustes")
    with pytest.raises(ValueError, match="unknown 'foo'"):
        similarity(x, x, "foo")
    with pytest.raises(ValueError, match="NaN"):
        similarity(np.full((5, 2), np.nan), np.ones((5, 2)), "cca")
    with pytest.raises(ValueError, match="constant"):
        similarity(np.ones((5, 2)), x[:5], "procrustes")
    with pytest.raises(ValueError, match="alpha"):
        shape_distance(x, x, alpha=2)


def test_similarity_dispatch_cka():
    from priorlab.probe.cka import cka

    x, y = _pair()
    assert similarity(x, y, "cka") == pytest.approx(cka(x, y))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0), measure=st.sampled_from(
    ["procrustes", "cca", "svcca", "pwcca", "shape", "cka"]))
def test_invariant_to_rotation_and_isotropic_scaling(seed, scale, measure):
    x, y = _pair(seed=seed, p=6, q=6)
    q = ortho_group.rvs(6, random_state=seed) if measure != "pwcca" else np.eye(6)  # pwcca: the unit basis matters
    a = similarity(x, y, measure)
    b = similarity(scale * x @ q, y, measure)
    assert b == pytest.approx(a, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_cca_invariant_to_invertible_maps(seed):
    x, y = _pair(seed=seed, p=6, q=6)
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((6, 6)) + 3 * np.eye(6)
    assert cca(x @ m, y) == pytest.approx(cca(x, y), abs=1e-8)
    assert shape_distance(x @ m, y, alpha=0.0) == pytest.approx(shape_distance(x, y, alpha=0.0), abs=1e-5)


def test_pwcca_depends_on_the_unit_basis():
    x, y = _pair(p=6, q=6)
    q = ortho_group.rvs(6, random_state=0)
    assert abs(pwcca(x @ q, y) - pwcca(x, y)) > 1e-3


def test_runs_on_torch_tensors_and_keeps_device():
    x, y = _pair()
    assert similarity(torch.tensor(x), torch.tensor(y), "procrustes") == pytest.approx(procrustes(x, y))
