"""The locality prior: P against hand-computed values, gradients reach W and not P, forms, wiring cost, pruning."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from priorlab.nets import locality as loc

# g(d) for each cost, written out by hand
G = {
    "linear": lambda d: 1 / (1 + d),
    "sqrt": lambda d: 1 / math.sqrt(1 + d),
    "quadratic": lambda d: 1 / (1 + d) ** 2,
    "exp": lambda d: math.exp(-d),
}


@pytest.mark.parametrize("cost", list(G))
def test_line_prior_by_hand(cost):
    # 4 units on a line: d[i, j] = |i - j|
    p = loc.locality_prior(4, 4, layout="line", cost=cost)
    g = G[cost]
    expected = torch.tensor([[g(abs(i - j)) for j in range(4)] for i in range(4)], dtype=torch.float32)
    torch.testing.assert_close(p, expected)


@pytest.mark.parametrize("cost", list(G))
def test_grid_prior_by_hand(cost):
    # a 3x3 grid, row-major; the centre unit (4) is 1 step from the edges' middles and √2 from the corners
    g = G[cost]
    p = loc.locality_prior(9, 9, layout="grid", cost=cost)
    centre = torch.tensor([g(math.sqrt(2)), g(1), g(math.sqrt(2)), g(1), g(0), g(1), g(math.sqrt(2)), g(1),
                           g(math.sqrt(2))], dtype=torch.float32)
    torch.testing.assert_close(p[4], centre)
    corner = torch.tensor([g(0), g(1), g(2), g(1), g(math.sqrt(2)), g(math.sqrt(5)), g(2), g(math.sqrt(5)),
                           g(math.sqrt(8))], dtype=torch.float32)
    torch.testing.assert_close(p[0], corner)
    torch.testing.assert_close(p, p.T)  # same sheet in and out: symmetric


def test_grid_distances_match_scipy_cdist():
    from scipy.spatial.distance import cdist

    rows, cols = torch.meshgrid(torch.arange(5), torch.arange(4), indexing="ij")
    pos = torch.stack([rows.ravel(), cols.ravel()], 1).numpy()
    torch.testing.assert_close(loc.distances((5, 4), (5, 4), "grid"), torch.from_numpy(cdist(pos, pos)))


def test_torus_wraps_and_line_does_not():
    d_torus = loc.distances(9, 9, "torus")
    assert d_torus[0, 2].item() == pytest.approx(1.0)  # (0,0) -> (0,2) wraps round a 3-wide torus
    assert d_torus[0, 8].item() == pytest.approx(math.sqrt(2))
    assert loc.distances(9, 9, "grid")[0, 8].item() == pytest.approx(math.sqrt(8))
    assert loc.distances(5, 5, "line")[0, 4].item() == pytest.approx(4.0)


def test_different_sizes_share_coordinates():
    # 4 inputs stretched over 2 outputs sit at -0.25, 0.25, 0.75, 1.25 (cell centres in output units)
    d = loc.distances(4, 2, "line")
    expected = torch.tensor([[0.25, 0.25, 0.75, 1.25], [1.25, 0.75, 0.25, 0.25]], dtype=torch.float64)
    torch.testing.assert_close(d, expected)
    # a 6x6 input sheet over a 3x3 output: every output unit's nearest inputs are its own 2x2 block
    p = loc.locality_prior((6, 6), (3, 3), "grid")
    block = p[4].reshape(6, 6)
    assert torch.equal(block[2:4, 2:4], torch.full((2, 2), block.max().item()))


def test_strength_and_length_scale():
    base = loc.locality_prior(9, 9, cost="linear")
    torch.testing.assert_close(loc.locality_prior(9, 9, cost="linear", strength=2.0), base**2)
    assert torch.equal(loc.locality_prior(9, 9, strength=0.0), torch.ones(9, 9))
    d = loc.distances(9, 9, "grid")
    torch.testing.assert_close(loc.locality_prior(9, 9, cost="exp", length_scale=2.0), torch.exp(-d / 2).float())


def test_gradients_reach_w_not_p():
    torch.manual_seed(0)
    layer = loc.LocalityLinear(9, 9, cost="linear")
    params = dict(layer.named_parameters())
    assert set(params) == {"bias", "parametrizations.weight.original"}
    assert not layer.prior.requires_grad
    assert "parametrizations.weight.0.prior" in dict(layer.named_buffers())
    x = torch.randn(5, 9)
    layer(x).pow(2).sum().backward()
    w = loc.raw_weight(layer)
    assert w.grad is not None and w.grad.abs().sum() > 0
    assert layer.prior.grad is None
    # the effective weight is W ⊙ P, and the gradient of W is P ⊙ (gradient of the effective weight)
    torch.testing.assert_close(layer.weight, w * layer.prior)
    y = x @ (w * layer.prior).detach().T + layer.bias.detach()
    torch.testing.assert_close(layer(x), y)
    eff = (w * layer.prior).detach().requires_grad_()
    (x @ eff.T + layer.bias.detach()).pow(2).sum().backward()
    torch.testing.assert_close(w.grad, eff.grad * layer.prior)


def test_training_keeps_p_fixed():
    torch.manual_seed(0)
    layer = loc.LocalityLinear(16, 16)
    p0 = layer.prior.clone()
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        layer(torch.randn(8, 16)).sum().backward()
        opt.step()
    assert torch.equal(layer.prior, p0)


def test_output_form_is_a_row_gain():
    torch.manual_seed(0)
    plain = nn.Linear(9, 9)
    layer = loc.apply_locality(nn.Linear(9, 9), form="output")
    with torch.no_grad():
        loc.raw_weight(layer).copy_(plain.weight)
        loc.raw_weight(layer, "bias").copy_(plain.bias)
    gain = loc.locality_prior(9, 9).mean(1)
    x = torch.randn(4, 9)
    torch.testing.assert_close(layer(x), gain * plain(x))


def test_apply_to_linear_and_rnn():
    torch.manual_seed(0)
    lin = loc.apply_locality(nn.Linear(16, 4), (4, 4), (2, 2), cost="sqrt")
    torch.testing.assert_close(lin.parametrizations.weight[0].prior, loc.locality_prior((4, 4), (2, 2), cost="sqrt"))
    rnn = loc.apply_locality(nn.RNN(3, 9, batch_first=True), name="weight_hh_l0")
    out, _ = rnn(torch.randn(2, 5, 3))
    out.sum().backward()
    assert loc.raw_weight(rnn, "weight_hh_l0").grad.abs().sum() > 0
    torch.testing.assert_close(rnn.weight_hh_l0, loc.raw_weight(rnn, "weight_hh_l0") * loc.locality_prior(9, 9))
    with pytest.raises(ValueError, match="prior"):
        loc.apply_locality(nn.Linear(10, 9), 9, 9)


def test_wiring_cost_and_pruning():
    w = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    d = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    assert loc.wiring_cost(w, d, lam=0.5).item() == pytest.approx(0.5 * (2 * 1 + 3 * 2))
    torch.manual_seed(0)
    layer = loc.LocalityLinear(25, 25)
    effective = layer.weight.detach().abs()
    kept = loc.prune_smallest(layer, 0.2)
    assert kept == round(0.2 * 625)
    survivors = layer.weight.detach() != 0
    assert effective[survivors].min() >= effective[~survivors].max()
