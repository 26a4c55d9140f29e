"""probe.distortion: Guest & Love's smoothness protocol layer by layer, against their Fig. 2A and numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from priorlab import randomize
from priorlab.probe.distortion import distortion_curves, noise_levels, row_pearson


def test_noise_levels_follow_the_study():
    levels = noise_levels(20)
    assert levels[0] == 1e-4 and levels[19] == pytest.approx(0.95) and np.allclose(np.diff(levels[1:]), 0.05)
    with pytest.raises(ValueError, match="n_levels"):
        noise_levels(1)


def test_row_pearson_equals_numpy():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 3, 4, generator=g), torch.randn(6, 3, 4, generator=g)
    expected = [np.corrcoef(a[i].flatten(), b[i].flatten())[0, 1] for i in range(6)]
    np.testing.assert_allclose(row_pearson(a, b), expected, atol=1e-12)
    assert torch.isnan(row_pearson(torch.ones(1, 5), torch.randn(1, 5)))[0]


def guest_love(depth: int) -> nn.Module:
    """Their models 3 (depth 0: one N(0,1) matrix) and 4–11 (depth ≥ 1: matrix then tanh, repeated), no biases."""
    if depth == 0:
        return nn.Sequential(nn.Linear(100, 100, bias=False))
    return nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(100, 100, bias=False), nn.Tanh())])


def mean_curves(depth: int, repeats: int = 6) -> dict[str, np.ndarray]:
    """Curves averaged over fresh prototypes and unit-variance weights (as the study averages over runs)."""
    out = []
    for r in range(repeats):
        model = randomize(guest_love(depth), init="normal", seed=r)
        x = torch.randn(40, 100, generator=torch.Generator().manual_seed(100 + r))
        out.append(distortion_curves(model, x, seed=r))
    return {k: np.mean([o[k] for o in out], axis=0) for k in out[0]}


def test_one_linear_map_follows_the_closed_form():
    """A linear map of N(0,1) inputs keeps Pearson r ≈ 1/sqrt(1 + σ²): 0.725 at level 19 (Fig. 2A, model 1/3)."""
    r = mean_curves(0)["0"]
    np.testing.assert_allclose(r, 1 / np.sqrt(1 + noise_levels(20) ** 2), atol=0.02)


def test_deep_tanh_layers_lose_smoothness_as_in_the_study():
    """Fig. 2A at k = 19: ≈ 0.57 after one tanh layer (model 4), ≈ 0.04 after eight (model 11); r falls with the
    noise level at every layer, and faster the deeper the layer."""
    curves = mean_curves(8)
    tanh_outputs = [curves[str(2 * i + 1)] for i in range(8)]
    assert tanh_outputs[0][19] == pytest.approx(0.57, abs=0.05)
    assert tanh_outputs[-1][19] == pytest.approx(0.04, abs=0.04)
    assert all(c[0] > 0.99 and c[0] > c[5] > c[10] > c[19] for c in tanh_outputs)  # falls with distortion
    assert np.all(np.diff([c[19] for c in tanh_outputs]) < 0)  # lower at every further layer


def test_names_keep_only_chosen_entries_and_the_noise_is_seeded():
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    x = torch.randn(9, 5)
    a = distortion_curves(model, x, noise_levels(4), names=["0", "2"], seed=3)
    b = distortion_curves(model, x, noise_levels(4), seed=3)
    assert list(a) == ["0", "2"] and list(b) == ["0", "1", "2"]
    np.testing.assert_array_equal(a["2"], b["2"])
