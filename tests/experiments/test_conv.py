"""Convolution vs cross-correlation, output sizes and shared-kernel gradients, checked against torch/numpy/scipy."""

import itertools

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F

from claimcheck import assert_verdicts_consistent, verdict_of
from figcheck import assert_no_figures, assert_redraws
from priorlab.experiments.conv import (
    Config,
    claims,
    convolve1d,
    convolve2d,
    correlate1d,
    correlate2d,
    impulse_responses,
    letter_example,
    output_size,
    shared_gradients,
    torch_output_size,
    window_starts,
)
from priorlab.stats.claims import evaluate


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


@pytest.mark.parametrize("k", [1, 3, 5])
def test_impulse_response_is_the_kernel_and_its_reverse(k):
    w = np.random.default_rng(k).normal(size=k)
    imp = impulse_responses(w)
    # the peers: numpy's convolution and correlation of the same impulse
    np.testing.assert_allclose(imp["conv"], np.convolve(imp["x"], w, "valid"), atol=1e-15)
    np.testing.assert_allclose(imp["corr"], np.correlate(imp["x"], w, "valid"), atol=1e-15)
    np.testing.assert_array_equal(imp["conv"][1:-1], w)
    np.testing.assert_array_equal(imp["corr"][1:-1], w[::-1])
    assert imp["conv"][0] == imp["conv"][-1] == imp["corr"][0] == imp["corr"][-1] == 0


def test_sliding_windows_match_torch_and_stay_in_the_padded_input():
    for n, k, s, p in itertools.product([3, 8, 11], [1, 3, 4], [1, 2, 3], [0, 1, 2]):
        starts = window_starts(n, k, s, p)
        assert len(starts) == torch_output_size(n, k, s, p), (n, k, s, p)
        assert all(-p <= a and a + k <= n + p for a in starts)
        assert np.all(np.diff(starts) == s)


def test_letter_example_flipped_sobel_is_negated():
    ex = letter_example(0)
    assert ex["x"].sum() > 10
    np.testing.assert_allclose(ex["conv"], -ex["corr"], atol=1e-12)  # Sobel flipped both ways is −Sobel
    np.testing.assert_allclose(ex["conv"], scipy.signal.convolve2d(ex["x"], ex["w"], "valid"), atol=1e-12)
    assert np.abs(ex["corr"]).max() > 1


def test_conv_claims_follow_the_config():
    lecture = {r["metric"]: r for r in evaluate(claims(Config()), {"out_size_stride1": 96, "out_size_stride2": 47})}
    assert lecture["out_size_stride1"]["verdict"] == "reproduces"
    assert lecture["out_size_stride2"]["verdict"] == "differs"
    other = {r["metric"]: r for r in evaluate(claims(Config(n=64, kernel=3)), {"out_size_stride1": 62})}
    assert other["out_size_stride1"]["verdict"] == "not tested at this scale"
    assert "input 100, kernel 5" in other["out_size_stride1"]["note"]


def test_conv_experiment(tmp_path, home):
    import priorlab

    run = priorlab.run("conv", out=tmp_path / "conv")
    assert run.status == "done"
    rows = assert_verdicts_consistent(run.path)
    assert all(r["verdict"] == "reproduces" for r in rows), rows
    # a kernel that flips the convolution wrongly breaks the claim (the claim is judged from the metric)
    broken = dict(run.metrics, err_impulse_conv_vs_w=2.0)
    assert verdict_of(evaluate(claims(Config()), broken), "err_impulse_conv_vs_w") == "differs"
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
    assert m["err_impulse_conv_vs_w"] == m["err_impulse_corr_vs_w_reversed"] == 0
    assert m["err_conv1d_vs_corr1d_flipped"] < 1e-12 and m["window_mismatches"] == 0
    assert {p.name for p in run.figures} == {
        "impulse.png", "conv1d.png", "conv2d.png", "windows.png", "sizes.png", "sharing.png"
    }
    assert assert_redraws(run.path)  # draw() from arrays.npz gives the same figures; summary: the impulse only
    arrays = run.arrays()
    np.testing.assert_array_equal(arrays["conv1d"], convolve1d(arrays["x1"], arrays["w1"]))
    assert int(arrays["letter_label"]) in (0, 1) and arrays["grad_copies"].shape == (36, 5)
    other = priorlab.run("conv", n=64, kernel=3, out=tmp_path / "conv64", figures="none")
    assert_no_figures(other.path)
    rows = assert_verdicts_consistent(other.path)
    assert verdict_of(rows, "out_size_stride1") == "not tested at this scale"  # the lecture's 96 is for n = 100


def test_conv_bad_config(home):
    import priorlab
    from priorlab.config import UserError

    with pytest.raises(UserError, match="strides"):
        priorlab.run("conv", strides=[0, 1])
    with pytest.raises(UserError, match="paddings"):
        priorlab.run("conv", paddings=[-1])
    with pytest.raises(UserError, match="dilations"):
        priorlab.run("conv", dilations=[1, 1])
