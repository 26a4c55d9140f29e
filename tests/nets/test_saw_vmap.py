"""The saw activation under torch.func: vmap / grad / jacrev equal plain autograd, and fit1d's batched (ensemble)
path for saw networks equals its one-by-one path (float64)."""

from __future__ import annotations

import pytest
import torch
from torch.func import grad, jacrev, vmap

from priorlab.context import RunContext
from priorlab.experiments import fit1d
from priorlab.nets.onehidden import SawFunction, saw


def _away_from_jumps(z: torch.Tensor, period: float) -> torch.Tensor:
    """Points whose phase is not within 5% of a jump (where the derivative does not exist)."""
    frac = torch.remainder(z, period) / period
    return z[(frac > 0.05) & (frac < 0.95)]


def test_forward_is_the_remainder_and_matches_under_vmap():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 11, generator=g, dtype=torch.float64) * 10
    p = torch.tensor(1.7, dtype=torch.float64)
    torch.testing.assert_close(SawFunction.apply(z, p), torch.remainder(z, p), rtol=0, atol=1e-12)
    torch.testing.assert_close(vmap(lambda r: saw(r, p))(z), saw(z, p), rtol=0, atol=0)


def test_gradcheck_plain_autograd():
    g = torch.Generator().manual_seed(1)
    z = _away_from_jumps(torch.rand(60, generator=g, dtype=torch.float64) * 20 - 10, 1.7).requires_grad_()
    period = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SawFunction.apply, (z, period))
    per_unit = torch.tensor([[1.7, 2.3]], dtype=torch.float64, requires_grad=True)
    zz = torch.tensor([[0.4, 1.1], [2.0, 5.0], [-3.0, -0.2]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SawFunction.apply, (zz, per_unit))


def test_vmap_of_grad_equals_autograd_per_row():
    """d/dz and d/dp of Σ saw(w z + b) for each row, by torch.func (vmap ∘ grad) and by autograd one row at a time."""
    g = torch.Generator().manual_seed(2)
    z = torch.rand(5, 30, generator=g, dtype=torch.float64) * 12 - 6
    w = torch.rand(5, generator=g, dtype=torch.float64) + 0.5
    period = torch.tensor(2.1, dtype=torch.float64)

    def loss(w_k, z_k, p):
        return (SawFunction.apply(w_k * z_k, p) ** 2).sum()

    gw, gp = vmap(grad(loss, argnums=(0, 2)), in_dims=(0, 0, None))(w, z, period)
    for k in range(5):
        wk, pk = w[k].clone().requires_grad_(), period.clone().requires_grad_()
        ew, ep = torch.autograd.grad(loss(wk, z[k], pk), (wk, pk))
        torch.testing.assert_close(gw[k], ew, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(gp[k], ep, rtol=1e-12, atol=1e-12)
    # the known derivative: ds/dp = -floor(z / p)
    assert gp.abs().sum() > 0
    jac = jacrev(SawFunction.apply, argnums=1)(z[0], period)
    torch.testing.assert_close(jac, -torch.floor(z[0] / period), rtol=0, atol=0)


def test_batched_period_reduces_like_autograd():
    """A per-unit period broadcast over items: under vmap over networks its gradient is summed over the items."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(4, 9, 3, generator=g, dtype=torch.float64) * 5
    p = torch.rand(4, 1, 3, generator=g, dtype=torch.float64) + 1.0
    f = grad(lambda zk, pk: SawFunction.apply(zk, pk).sum(), argnums=1)
    got = vmap(f)(z, p)
    pp = p.clone().requires_grad_()
    (expect,) = torch.autograd.grad(SawFunction.apply(z, pp).sum(), pp)
    assert got.shape == p.shape
    torch.testing.assert_close(got, expect, rtol=0, atol=1e-12)


def test_fit1d_saw_train_many_equals_train_one(tmp_path):
    """fit1d's ensemble path for saw networks (seeds and widths padded) against its own single-model path."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # both paths build their networks and data in the default dtype
    try:
        _saw_paths_agree(RunContext(folder=tmp_path, seed=0, device=torch.device("cpu"), quiet=True))
    finally:
        torch.set_default_dtype(before)


def _saw_paths_agree(ctx):
    cfgs = [fit1d.Config(seed=s, activation="saw", hidden=h, steps=150, frames=4) for h, s in [(3, 0), (10, 1), (5, 2)]]
    datas = [fit1d.make_data(c, c.seed) for c in cfgs]
    grid = torch.linspace(cfgs[0].x_min, cfgs[0].x_max, 40)
    fits = fit1d.train_many(cfgs, datas, grid, torch.device("cpu"))
    for cfg, data, fit in zip(cfgs, datas, fits):
        one = fit1d.train_one(cfg, data, "saw", cfg.hidden, cfg.seed, grid, ctx)
        assert set(fit.metrics) == set(one.metrics) and "frequency_moved" in fit.metrics
        for k in one.metrics:
            assert fit.metrics[k] == pytest.approx(one.metrics[k], abs=1e-7, rel=1e-7)
        assert fit.metrics["frequency_moved"] > 1e-4  # the frequencies did learn
        torch.testing.assert_close(torch.as_tensor(fit.losses), torch.as_tensor(one.losses), atol=1e-9, rtol=1e-7)
        torch.testing.assert_close(torch.as_tensor(fit.snapshots), torch.as_tensor(one.snapshots), atol=1e-7, rtol=0)
        for name, p in one.model.state_dict().items():
            torch.testing.assert_close(fit.model.state_dict()[name], p, atol=1e-7, rtol=1e-7)


def test_fit1d_run_many_batches_saw(monkeypatch, tmp_path):
    """run_many no longer falls back to one run per trial for saw: one train_many call, no fit1d.run call."""
    calls = []
    real = fit1d.train_many

    def counted(cfgs, *a, **kw):
        calls.append(len(cfgs))
        return real(cfgs, *a, **kw)

    def refuse(*_a, **_k):
        raise AssertionError("run_many fell back to one-by-one runs for saw")

    monkeypatch.setattr(fit1d, "train_many", counted)
    monkeypatch.setattr(fit1d, "run", refuse)
    monkeypatch.setattr(fit1d, "report_fit", lambda *a, **k: None)

    cfgs = [fit1d.Config(seed=s, activation="saw", hidden=3, steps=5, frames=2) for s in range(3)]
    ctxs = [RunContext(folder=tmp_path / str(c.seed), seed=c.seed, device=torch.device("cpu"), quiet=True) for c in cfgs]
    out = list(fit1d.run_many(cfgs, ctxs))
    assert calls == [3]
    assert len(out) == 3 and all("frequency_moved" in m for m in out)
