"""The ensemble engine equals training each member alone (float64), for fit1d and bias-only models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from priorlab.context import RunContext
from priorlab.errors import Diverged
from priorlab.experiments import fit1d
from priorlab.nets.onehidden import OneHidden
from priorlab.train.ensemble import Ensemble, from_modules, stack_padded


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _mse(fwd):
    return lambda p, x, y: torch.mean((fwd(p, x) - y) ** 2)


def _alone(model: nn.Module, x, y, lr: float, steps: int, opt="adam") -> float:
    params = [p for p in model.parameters() if p.requires_grad]
    o = torch.optim.Adam(params, lr=lr) if opt == "adam" else torch.optim.SGD(params, lr=lr)
    for _ in range(steps):
        o.zero_grad()
        torch.mean((model(x) - y) ** 2).backward()
        o.step()
    with torch.no_grad():
        return torch.mean((model(x) - y) ** 2).item()


def _one_hidden(hidden: int, seed: int, activation: str) -> OneHidden:
    torch.manual_seed(seed)
    return OneHidden(hidden, activation)


@pytest.mark.parametrize("activation,opt", [("sigmoid", "adam"), ("cos", "adam"), ("relu", "sgd")])
def test_fit1d_members_equal_training_alone(float64, activation, opt):
    """Different seeds, widths (padded + masked) and learning rates in one ensemble."""
    members = [(3, 0, 0.01), (10, 1, 0.03), (7, 2, 0.002), (10, 3, 0.01), (1, 4, 0.05)]
    x = torch.linspace(-3, 3, 50)
    y = torch.sin(2 * x)
    fwd, params, frozen, masks = from_modules([_one_hidden(h, s, activation) for h, s, _ in members])
    assert masks is not None  # widths differ: padded
    ens = Ensemble(_mse(fwd), params, frozen=frozen, masks=masks, lr=[lr for *_, lr in members], optimizer=opt)
    res = ens.train(150, x, y)
    final = ens.losses(x, y)
    for k, (h, s, lr) in enumerate(members):
        model = _one_hidden(h, s, activation)
        expect = _alone(model, x, y, lr, 150, opt)
        assert final[k].item() == pytest.approx(expect, abs=1e-5, rel=1e-5)
        got = ens.member(k)
        assert got["hidden.weight"].shape == (h, 1)
        for name, p in model.named_parameters():
            torch.testing.assert_close(got[name], p.detach(), atol=1e-6, rtol=1e-6)
    assert (res.diverged_at == -1).all()
    # padded entries never move
    for n, m in masks.items():
        assert (ens.params[n][m == 0] == 0).all()


def test_fit1d_train_many_equals_train_one(float64, tmp_path):
    """The experiment's own batched path (used by sweeps) against its own single-model path."""
    ctx = RunContext(folder=tmp_path, seed=0, device=torch.device("cpu"), quiet=True)
    cfgs = [fit1d.Config(seed=s, activation="cos", hidden=h, steps=120, frames=4) for h, s in [(3, 0), (10, 1)]]
    datas = [fit1d.make_data(c, c.seed) for c in cfgs]
    grid = torch.linspace(cfgs[0].x_min, cfgs[0].x_max, 40)
    fits = fit1d.train_many(cfgs, datas, grid, torch.device("cpu"))
    for cfg, data, fit in zip(cfgs, datas, fits):
        one = fit1d.train_one(cfg, data, "cos", cfg.hidden, cfg.seed, grid, ctx)
        for k in one.metrics:
            assert fit.metrics[k] == pytest.approx(one.metrics[k], abs=1e-5, rel=1e-5)
        torch.testing.assert_close(torch.as_tensor(fit.snapshots), torch.as_tensor(one.snapshots), atol=1e-5, rtol=0)


class BiasOnly(nn.Module):
    """One hidden ReLU layer with frozen random weights; only the biases learn (W1 ~ N(0, 1/d), W2 ~ N(0, 1/N))."""

    def __init__(self, d: int, width: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(torch.randn(width, d, generator=g) / d**0.5, requires_grad=False)
        self.w2 = nn.Parameter(torch.randn(1, width, generator=g) / width**0.5, requires_grad=False)
        self.b1 = nn.Parameter(torch.zeros(width))
        self.b2 = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return (torch.relu(x @ self.w1.T + self.b1) @ self.w2.T + self.b2)[:, 0]


def test_biasonly_members_equal_training_alone(float64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    y = torch.sin(x[:, 0]) * torch.cos(x[:, 1])
    members = [(16, 0), (64, 1), (32, 2)]
    fwd, params, frozen, masks = from_modules([BiasOnly(2, w, s) for w, s in members])
    assert set(params) == {"b1", "b2"} and set(frozen) == {"w1", "w2"}
    ens = Ensemble(_mse(fwd), params, frozen=frozen, masks=masks, lr=0.02)
    ens.train(200, x, y)
    final = ens.losses(x, y)
    for k, (w, s) in enumerate(members):
        model = BiasOnly(2, w, s)
        expect = _alone(model, x, y, 0.02, 200)
        assert final[k].item() == pytest.approx(expect, abs=1e-5, rel=1e-5)
        torch.testing.assert_close(ens.member(k)["b1"], model.b1.detach(), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ens.frozen["w1"], stack_padded([{"w": BiasOnly(2, w, s).w1} for w, s in members])[0]["w"])


def test_per_member_data_and_divergence_is_isolated(float64):
    """Each member its own data (batch_dims=0); a member that blows up is reported and harms no other."""
    members = [(5, 0, 0.01), (5, 1, 1e6), (5, 2, 0.01)]
    xs = torch.stack([torch.linspace(-2, 2, 30) * (1 + k) for k in range(3)])
    ys = torch.sin(xs)
    # a huge SGD step: the loss overflows to inf/nan within a few steps
    fwd, params, _, _ = from_modules([_one_hidden(h, s, "relu") for h, s, _ in members])
    ens = Ensemble(_mse(fwd), params, lr=[lr for *_, lr in members], optimizer="sgd", batch_dims=(0, 0))
    res = ens.train(100, xs, ys)
    assert res.diverged_at[1] >= 0 and res.diverged_at[0] == -1 and res.diverged_at[2] == -1
    final = ens.losses(xs, ys)
    for k in (0, 2):
        expect = _alone(_one_hidden(5, members[k][1], "relu"), xs[k], ys[k], 0.01, 100, "sgd")
        assert final[k].item() == pytest.approx(expect, abs=1e-5, rel=1e-5)


def test_fit1d_train_many_reports_divergence():
    cfgs = [fit1d.Config(seed=s, activation="relu", hidden=50, steps=60, frames=2, optimizer="sgd", lr=lr)
            for s, lr in [(0, 0.01), (1, 10.0)]]
    datas = [fit1d.make_data(c, c.seed) for c in cfgs]
    fits = fit1d.train_many(cfgs, datas, torch.linspace(-1, 1, 10), torch.device("cpu"))
    assert isinstance(fits[1], Diverged) and not isinstance(fits[0], Exception)


def test_reset_repeats_the_same_training(float64):
    x = torch.linspace(-1, 1, 20)
    fwd, params, _, _ = from_modules([_one_hidden(4, s, "tanh") for s in range(3)])
    ens = Ensemble(_mse(fwd), params, lr=0.05)
    first = ens.train(30, x, x**2).losses
    ens.reset(params)
    torch.testing.assert_close(ens.train(30, x, x**2).losses, first, rtol=0, atol=0)


def test_bad_arguments():
    p = {"w": torch.zeros(3, 2)}
    with pytest.raises(ValueError, match="lr must be one number or 3 numbers"):
        Ensemble(lambda p, x: p["w"].sum(), p, lr=[0.1, 0.2])
    with pytest.raises(ValueError, match="optimizer"):
        Ensemble(lambda p, x: p["w"].sum(), p, optimizer="lbfgs")
    with pytest.raises(ValueError, match="different tensors"):
        stack_padded([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graph_equals_eager():
    x = torch.linspace(-2, 2, 50, device="cuda")
    mods = [_one_hidden(h, s, "sigmoid").cuda() for h, s in [(3, 0), (10, 1), (6, 2)]]
    fwd, params, _, masks = from_modules(mods)
    eager = Ensemble(_mse(fwd), params, masks=masks, lr=0.01, cuda_graph=False)
    graph = Ensemble(_mse(fwd), params, masks=masks, lr=0.01, cuda_graph=True)
    a, b = eager.train(100, x, torch.sin(x)), graph.train(100, x, torch.sin(x))
    torch.testing.assert_close(a.losses, b.losses, atol=1e-6, rtol=1e-5)
    graph.reset(params)  # the captured graph is replayed again
    torch.testing.assert_close(graph.train(100, x, torch.sin(x)).losses, a.losses, atol=1e-6, rtol=1e-5)
