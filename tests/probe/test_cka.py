"""CKA against Kornblith et al.'s reference values and code, its invariances, and minibatch CKA (issue 3, item 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from priorlab.probe import MinibatchCKA, cka, minibatch_cka


def kornblith_xy():
    np.random.seed(1337)
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    return x, y


def test_kornblith_reference_values():
    x, y = kornblith_xy()
    assert cka(x, y) == pytest.approx(0.55761, abs=1e-5)
    assert cka(x, y, debiased=True) == pytest.approx(0.51346, abs=1e-5)
    assert cka(torch.from_numpy(x).float(), torch.from_numpy(y).float()) == pytest.approx(0.55761, abs=1e-5)


# --- Kornblith et al.'s reference implementation (google-research/representation_similarity, Apache-2.0), as a peer
def ref_gram_linear(x):
    return x.dot(x.T)


def ref_gram_rbf(x, threshold=1.0):
    dot_products = x.dot(x.T)
    sq_norms = np.diag(dot_products)
    sq_distances = -2 * dot_products + sq_norms[:, None] + sq_norms[None, :]
    sq_median_distance = np.median(sq_distances)
    return np.exp(-sq_distances / (2 * threshold**2 * sq_median_distance))


def ref_center_gram(gram, unbiased=False):
    gram = gram.copy()
    if unbiased:
        n = gram.shape[0]
        np.fill_diagonal(gram, 0)
        means = np.sum(gram, 0, dtype=np.float64) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = np.mean(gram, 0, dtype=np.float64)
        means -= np.mean(means) / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def ref_cka(gram_x, gram_y, debiased=False):
    gram_x = ref_center_gram(gram_x, unbiased=debiased)
    gram_y = ref_center_gram(gram_y, unbiased=debiased)
    scaled_hsic = gram_x.ravel().dot(gram_y.ravel())
    return scaled_hsic / (np.linalg.norm(gram_x) * np.linalg.norm(gram_y))


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.0])
def test_rbf_matches_reference_code(debiased, threshold):
    x, y = kornblith_xy()
    expected = ref_cka(ref_gram_rbf(x, threshold), ref_gram_rbf(y, threshold), debiased)
    assert cka(x, y, kernel="rbf", debiased=debiased, threshold=threshold) == pytest.approx(
        expected, abs=1e-10
    )


@pytest.mark.parametrize("n,dx,dy", [(50, 200, 30), (300, 8, 5)])
def test_linear_feature_and_gram_paths_match_reference(n, dx, dy):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, dx))
    y = np.tanh(x[:, :dy] * 2) + rng.normal(size=(n, dy))
    for debiased in (False, True):
        expected = ref_cka(ref_gram_linear(x), ref_gram_linear(y), debiased)
        assert cka(x, y, debiased=debiased) == pytest.approx(expected, abs=1e-10)


matrices = st.integers(0, 2**31 - 1).map(lambda s: np.random.default_rng(s))


@settings(max_examples=25, deadline=None)
@given(
    rng=matrices,
    scale=st.floats(0.01, 100.0),
    kernel=st.sampled_from(["linear", "rbf"]),
    debiased=st.booleans(),
)
def test_invariant_to_orthogonal_transforms_and_isotropic_scaling(rng, scale, kernel, debiased):
    x = rng.normal(size=(40, 12))
    y = np.tanh(x @ rng.normal(size=(12, 9))) + 0.3 * rng.normal(size=(40, 9))
    q = ortho_group.rvs(9, random_state=int(rng.integers(2**31)))
    base = cka(x, y, kernel=kernel, debiased=debiased)
    assert cka(x, scale * y @ q, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-9)
    assert cka(x * scale, y, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-9)


def test_not_invariant_to_general_linear_maps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6))
    y = x + 0.5 * rng.normal(size=(60, 6))
    stretch = np.diag([10.0, 1, 1, 1, 1, 0.1])
    assert abs(cka(x, y @ stretch) - cka(x, y)) > 0.05


def test_minibatch_of_one_batch_is_the_debiased_cka():
    x, y = kornblith_xy()
    assert minibatch_cka([(x, y)]) == pytest.approx(cka(x, y, debiased=True), abs=1e-12)


def test_minibatch_converges_to_full_debiased_cka():
    gen = torch.Generator().manual_seed(0)
    n = 3000
    x = torch.randn(n, 30, generator=gen, dtype=torch.float64)
    y = torch.tanh(x[:, :20] @ torch.randn(20, 25, generator=gen, dtype=torch.float64)) + torch.randn(
        n, 25, generator=gen, dtype=torch.float64
    )
    full = cka(x, y, debiased=True)
    errors = []
    for batch in (16, 64, 500):
        acc = MinibatchCKA()
        for a in range(0, n, batch):
            acc.update(x[a : a + batch], y[a : a + batch])
        errors.append(abs(acc.value() - full))
    assert errors[-1] < 0.01
    assert errors[-1] < errors[0]


def test_minibatch_rejects_batches_smaller_than_four():
    with pytest.raises(ValueError, match="at least 4"):
        minibatch_cka([(torch.randn(3, 5), torch.randn(3, 5))])


def test_input_validation():
    with pytest.raises(ValueError, match="same number of items"):
        cka(torch.randn(5, 3), torch.randn(6, 3))
    with pytest.raises(ValueError, match="kernel must be one of"):
        cka(torch.randn(5, 3), torch.randn(5, 3), kernel="poly")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_equals_cpu():
    x, y = (torch.from_numpy(a) for a in kornblith_xy())
    for kernel in ("linear", "rbf"):
        for debiased in (False, True):
            assert cka(x.cuda(), y.cuda(), kernel, debiased) == pytest.approx(
                cka(x, y, kernel, debiased), abs=1e-9
            )
