"""null_distribution (K random draws of one architecture) and compare_to_null (empirical p, percentile band)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from priorlab import randomize
from priorlab.errors import UserError
from priorlab.probe import capture, compare, rdm
from priorlab.stats import NullDistribution, compare_to_null, null_distribution


def factory() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 5), nn.Tanh())


def stimuli(n: int = 15) -> torch.Tensor:
    return torch.randn(n, 6, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_each_draw_is_a_fresh_randomized_model(mode):
    """Draw k equals randomize(factory(), seed=k) computed by hand, for every natural block."""
    x = stimuli()
    null = null_distribution(factory, x, seeds=[3, 7, 11], init="kaiming", mode=mode)
    assert null.values.shape == (3, 5) and null.layers == ("0", "1", "2", "3", "4") and null.seeds == (3, 7, 11)
    for k, seed in enumerate([3, 7, 11]):
        model = randomize(factory(), init="kaiming", seed=seed).train(mode == "train")
        outputs = capture(model, x)
        expected = [compare(rdm(outputs[name]), rdm(x), "spearman") for name in null.layers]
        np.testing.assert_allclose(null.values[k], expected, atol=1e-6)
    assert len({tuple(row) for row in null.values.round(8)}) == 3  # the draws differ


class Drifting(nn.Module):
    """Adds a buffer to its input and increments the buffer on every forward (state a forward pass changes)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.zeros(()))

    def forward(self, x):
        self.offset += 1
        return x + self.offset


def test_buffers_changed_by_a_forward_pass_are_restored_before_each_draw():
    def drifting():
        return nn.Sequential(nn.Linear(6, 4), Drifting())

    null = null_distribution(drifting, stimuli(), n=3, layers=["1"], measure=lambda out, t: float(out.mean()))
    for k in range(3):
        fresh = randomize(drifting(), seed=k).eval()
        assert null.values[k, 0] == pytest.approx(float(capture(fresh, stimuli())["1"].mean()), abs=1e-6)


def test_named_and_callable_measures_and_a_given_target():
    x = stimuli()
    target = rdm(torch.randn(15, 3, generator=torch.Generator().manual_seed(1)))
    by_name = null_distribution(factory, x, n=2, layers=["3"], measure="pearson", target=target, metric="euclidean")
    by_hand = null_distribution(
        factory, x, n=2, layers=["3"], target=target, measure=lambda out, t: compare(rdm(out, "euclidean"), t, "pearson")
    )
    assert by_name.layers == ("3",) and by_name.measure == "pearson"
    np.testing.assert_allclose(by_name.values, by_hand.values, atol=1e-6)


def test_progress_is_called_after_each_draw():
    calls = []
    null_distribution(factory, stimuli(), n=3, layers="0", progress=lambda k, total, what: calls.append((k, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def exchangeable_trials(pool: np.ndarray, trials: int, k: int, shift: float, seed: int) -> float:
    """Rejection rate at 0.05 (over trials and layers) when the observed values are one draw of `pool` [D, L]
    (plus `shift`) and the null is k other draws."""
    rng = np.random.default_rng(seed)
    rejected = []
    for _ in range(trials):
        pick = rng.choice(pool.shape[0], size=k + 1, replace=False)
        rejected.append(compare_to_null(pool[pick[0]] + shift, pool[pick[1:]]).p <= 0.05)
    return float(np.mean(rejected))


def test_compare_to_null_is_calibrated_on_real_random_draws():
    """An observed value that is itself a random draw is no more extreme than the others: rate ~ 0.05."""
    null = null_distribution(factory, stimuli(20), n=400, layers=["2", "4"])
    assert 0.02 <= exchangeable_trials(null.values, 400, 199, 0.0, seed=0) <= 0.08


def test_compare_to_null_is_calibrated_and_has_power():
    pool = np.random.default_rng(1).normal(size=(2000, 1))
    assert 0.02 <= exchangeable_trials(pool, 400, 199, 0.0, seed=2) <= 0.08
    assert exchangeable_trials(pool, 200, 199, 3.5, seed=3) >= 0.9


def test_compare_to_null_p_band_and_layers():
    values = np.arange(1.0, 100.0)[:, None] * np.array([1.0, -1.0])  # 99 draws, two layers
    null = NullDistribution(values, ("a", "b"), tuple(range(99)), "spearman", "torch-default")
    t = compare_to_null({"b": -50.0, "a": 1000.0}, null)
    assert t.layers == ("a", "b") and t.n_null == 99
    np.testing.assert_allclose(t.p, [2 / 100, 1.0])  # beyond every draw: (1 + 0) / (1 + 99), doubled
    np.testing.assert_allclose(compare_to_null([1000.0, -1000.0], null, "greater").p, [0.01, 1.0])
    np.testing.assert_allclose(compare_to_null([1000.0, -1000.0], null, "less").p, [1.0, 0.01])
    np.testing.assert_allclose(t.band_low, np.percentile(values, 2.5, axis=0))
    np.testing.assert_allclose(t.band_high, np.percentile(values, 97.5, axis=0))
    np.testing.assert_allclose(null.band()[0], t.band_low)
    np.testing.assert_allclose(t.null_mean, [50.0, -50.0])


class Constant(nn.Module):
    def forward(self, x):
        return torch.ones(x.shape[0], 3)


def test_an_undefined_layer_rdm_is_nan_and_compare_to_null_names_it():
    null = null_distribution(lambda: nn.Sequential(nn.Linear(6, 4), Constant()), stimuli(), n=3)
    assert np.isfinite(null.values[:, 0]).all() and np.isnan(null.values[:, 1]).all()
    with pytest.raises(UserError, match="layer.s. 1"):
        compare_to_null([0.0, 0.0], null)
