"""Convolution vs cross-correlation, output sizes and shared-kernel gradients, checked against torch/numpy/scipy."""

import itertools

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F

from priorlab.experiments.conv import (
    convolve1d,
    convolve2d,
    correlate1d,
    correlate2d,
    output_size,
    shared_gradients,
    torch_output_size,
)


@pytest.mark.parametrize("n,k", [(10, 1), (17, 3), (30, 5), (8, 8)])
def test_convolution_is_cross_correlation_with_flipped_kernel_1d(n, k):
    rng = np.random.default_rng(n * k)
    x, w = rng.normal(size=n), rng.normal(size=k)
    xt, wt = torch.tensor(x)[None, None], torch.tensor(w)[None, None]
    np.testing.assert_allclose(correlate1d(x, w), F.conv1d(xt, wt)[0, 0].numpy(), atol=1e-12)
    np.testing.assert_allclose(convolve1d(x, w), F.conv1d(xt, wt.flip(-1))[0, 0].numpy(), atol=1e-12)
    np.testing.assert_allclose(convolve1d(x, w), np.convolve(x, w, "valid"), atol=1e-12)
    np.testing.assert_allclose(correlate1d(x, w), np.correlate(x, w, "valid"), atol=1e-12)


def test_convolution_differs_from_correlation_for_asymmetric_kernels_only():
    x = np.arange(10.0) ** 2
    assert not np.allclose(
        convolve1d(x, np.array([1.0, 0.0, -1.0])), correlate1d(x, np.array([1.0, 0.0, -1.0]))
    )
    np.testing.assert_allclose(
        convolve1d(x, np.array([1.0, 2.0, 1.0])), correlate1d(x, np.array([1.0, 2.0, 1.0]))
    )


@pytest.mark.parametrize("shape,kshape", [((6, 7), (3, 3)), ((9, 5), (2, 4)), ((4, 4), (1, 1))])
def test_convolution_is_cross_correlation_with_flipped_kernel_2d(shape, kshape):
    rng = np.random.default_rng(sum(shape))
    x, w = rng.normal(size=shape), rng.normal(size=kshape)
    xt, wt = torch.tensor(x)[None, None], torch.tensor(w)[None, None]
    np.testing.assert_allclose(correlate2d(x, w), F.conv2d(xt, wt)[0, 0].numpy(), atol=1e-12)
    np.testing.assert_allclose(convolve2d(x, w), F.conv2d(xt, wt.flip(-1, -2))[0, 0].numpy(), atol=1e-12)
    np.testing.assert_allclose(convolve2d(x, w), scipy.signal.convolve2d(x, w, "valid"), atol=1e-12)
    np.testing.assert_allclose(correlate2d(x, w), scipy.signal.correlate2d(x, w, "valid"), atol=1e-12)


def test_output_sizes_of_the_lecture():
    assert output_size(100, 5, stride=1) == 96
    assert output_size(100, 5, stride=2) == 48
    assert torch_output_size(100, 5, stride=1) == 96 and torch_output_size(100, 5, stride=2) == 48


def test_output_size_formula_matches_torch_on_a_grid():
    grid = itertools.product([1, 2, 7, 32, 100], [1, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2, 3])
    for n, k, s, p, d in grid:
        assert output_size(n, k, s, p, d) == torch_output_size(n, k, s, p, d), (n, k, s, p, d)


def test_shared_kernel_gradient_is_sum_over_positions():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(25, generator=gen, dtype=torch.float64)
    u = torch.randn(4, generator=gen, dtype=torch.float64)
    up = torch.randn(22, generator=gen, dtype=torch.float64)
    grad_u, grad_copies = shared_gradients(x, u, up)
    assert grad_copies.shape == (22, 4)
    torch.testing.assert_close(grad_u, grad_copies.sum(0))
    # each copy's gradient is its window of the input times the upstream gradient
    torch.testing.assert_close(grad_copies, up[:, None] * x.unfold(0, 4, 1))


def test_conv_experiment(tmp_path, home):
    import priorlab

    run = priorlab.run("conv", out=tmp_path / "conv")
    assert run.status == "done"
    m = run.metrics
    assert m["out_size_stride1"] == 96 and m["out_size_stride2"] == 48 and m["size_mismatches"] == 0
    for key in (
        "err_conv1d_vs_torch_flipped",
        "err_corr1d_vs_torch",
        "err_conv2d_vs_torch_flipped",
        "err_corr2d_vs_torch",
        "err_shared_grad_vs_sum",
    ):
        assert m[key] < 1e-10, key
    assert m["diff_conv1d_vs_corr1d"] > 0.1
    assert {p.name for p in run.figures} == {"conv1d.png", "conv2d.png", "sizes.png", "sharing.png"}


def test_conv_bad_config(home):
    import priorlab
    from priorlab.config import UserError

    with pytest.raises(UserError, match="strides"):
        priorlab.run("conv", strides=[0, 1])
    with pytest.raises(UserError, match="paddings"):
        priorlab.run("conv", paddings=[-1])
    with pytest.raises(UserError, match="dilations"):
        priorlab.run("conv", dilations=[1, 1])
