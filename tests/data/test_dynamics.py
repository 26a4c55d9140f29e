"""RK4 trajectories against scipy's adaptive integrator, the method's order, and known facts of each system."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from priorlab.data.dynamics import RandomWindows, cosine, lorenz, rk4, trajectory, van_der_pol


def _scipy(system, y0, t_end):
    if system == "lorenz":
        f = lambda t, x: [10 * (x[1] - x[0]), x[0] * (28 - x[2]) - x[1], x[0] * x[1] - 8 / 3 * x[2]]
    else:
        f = lambda t, x: [x[1], (1 - x[0] ** 2) * x[1] - x[0]]
    return solve_ivp(f, (0, t_end), y0, method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]


@pytest.mark.parametrize(
    "system,fn,y0", [("lorenz", lorenz, (1.0, 1.0, 1.0)), ("vanderpol", van_der_pol, (1.0, 0.0))]
)
def test_matches_scipy(system, fn, y0):
    xs = fn(1000, dt=0.001, x0=y0)  # t = 1
    np.testing.assert_allclose(xs[-1].numpy(), _scipy(system, y0, 1.0), rtol=1e-7, atol=1e-7)


def test_fourth_order_convergence():
    # error at t=2 on the Van der Pol oscillator falls by 2^4 when dt halves
    ref = _scipy("vanderpol", (1.0, 0.0), 2.0)
    err = [np.abs(van_der_pol(int(2 / dt), dt=dt)[-1].numpy() - ref).max() for dt in (0.1, 0.05)]
    assert 12 < err[0] / err[1] < 20


def test_rk4_exact_for_linear_decay():
    # dx/dt = -x: one RK4 step multiplies by the degree-4 Taylor polynomial of exp(-dt)
    dt = 0.3
    xs = rk4(lambda x: -x, torch.tensor([1.0], dtype=torch.float64), dt, 3)
    step = 1 - dt + dt**2 / 2 - dt**3 / 6 + dt**4 / 24
    np.testing.assert_allclose(xs[:, 0].numpy(), [step**k for k in range(4)], rtol=1e-14)


def test_van_der_pol_limit_cycle_amplitude():
    # for mu = 1 the limit cycle reaches |x| = 2.0086 (a classical value)
    xs = van_der_pol(6000, dt=0.01, x0=(0.1, 0.0))
    assert abs(xs[3000:, 0].abs().max().item() - 2.0086) < 2e-3


def test_lorenz_stays_on_attractor():
    xs = trajectory("lorenz", 2000, every=2)
    assert xs.shape == (2000, 3)
    assert xs[:, 2].min() > 0 and xs[:, 2].max() < 50 and xs[:, 0].abs().max() < 25
    assert (xs[:, 0] > 0).any() and (xs[:, 0] < 0).any()  # visits both wings


def test_trajectory_subsamples_and_validates():
    dense = van_der_pol(2000 + 9 * 5)
    np.testing.assert_allclose(trajectory("vanderpol", 10, every=5).numpy(), dense[2000::5].numpy())
    with pytest.raises(ValueError, match="unknown system"):
        trajectory("duffing", 10, every=1)


def test_cosine_period():
    c = cosine(100, period=25)
    np.testing.assert_allclose(c[:75].numpy(), c[25:].numpy(), atol=1e-12)
    assert c[0] == 1 and math.isclose(c[12].item(), math.cos(2 * math.pi * 12 / 25))


def test_random_windows_are_consecutive_samples_within_the_series():
    xs = torch.arange(40.0)[:, None].expand(40, 2)  # sample t holds t
    windows = RandomWindows(xs, 7, 5, 30, torch.Generator().manual_seed(0))
    batches = list(windows)
    assert len(windows) == len(batches) == 30
    for seq in batches:
        assert seq.shape == (7, 5, 2)
        start = seq[0, :, 0]
        assert torch.equal(seq[:, :, 1], seq[:, :, 0])
        assert torch.equal(seq[:, :, 0], start + torch.arange(7.0)[:, None])  # consecutive
        assert start.min() >= 0 and start.max() + 6 <= 39 - 1  # starts drawn from 0 .. T - length - 1
    again = list(RandomWindows(xs, 7, 5, 30, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    with pytest.raises(ValueError, match="samples"):
        RandomWindows(xs, 40, 5, 1, torch.Generator())
