"""The one training loop: equal to the plain loop it replaces, explicit data order, divergence, clip, penalty."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from priorlab.errors import Diverged
from priorlab.train.loop import epoch_batches, fit, make_optimizer, random_batches


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(40, 3, generator=g), torch.randn(40, 1, generator=g)


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def test_full_batch_equals_plain_loop():
    x, y = _data()
    a, b = _net(), _net()
    hist = fit(a, lambda step: torch.mean((a(x) - y) ** 2), 25, lr=0.05)
    opt = torch.optim.Adam(b.parameters(), lr=0.05)
    plain = []
    for _ in range(25):
        loss = torch.mean((b(x) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        plain.append(loss.item())
    np.testing.assert_array_equal(hist.losses, plain)
    assert hist.steps == 25
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_minibatch_order_depends_on_generator_only():
    x, y = _data()
    runs = []
    for _ in range(2):
        torch.manual_seed(123)  # the global RNG must not matter
        torch.rand(7)
        net = _net()
        batches = epoch_batches(len(x), 16, 3, torch.Generator().manual_seed(5))
        runs.append(fit(net, lambda idx, net=net: torch.mean((net(x[idx]) - y[idx]) ** 2), batches).losses)
    np.testing.assert_array_equal(*runs)
    assert len(runs[0]) == 3 * math.ceil(40 / 16)
    other = _net()
    diff = fit(other, lambda idx: torch.mean((other(x[idx]) - y[idx]) ** 2),
               epoch_batches(len(x), 16, 3, torch.Generator().manual_seed(6))).losses
    assert not np.array_equal(runs[0], diff)


def test_batch_helpers():
    g = torch.Generator().manual_seed(0)
    sizes = [len(i) for i in epoch_batches(10, 4, 2, g, min_size=3)]
    assert sizes == [4, 4, 4, 4]  # the 2-item tail of each epoch is dropped
    batches = list(random_batches(5, 64, 3, torch.Generator().manual_seed(0)))
    assert len(batches) == 3 and all(len(b) == 5 and int(b.max()) < 5 for b in batches)


def test_diverged_names_the_step():
    w = nn.Parameter(torch.tensor([1.0]))
    with pytest.raises(Diverged) as info:
        fit([w], lambda step: w.sum() * (float("nan") if step == 3 else 1.0), 10)
    assert info.value.step == 3


def test_penalty_clip_and_callback():
    w = nn.Parameter(torch.tensor([3.0, 4.0]))
    seen = []
    hist = fit([w], lambda s: (w * 0).sum(), 1, optimizer="sgd", lr=1.0, clip=1.0,
               penalty=lambda: (w ** 2).sum() / 2, callback=lambda s, v: seen.append((s, v)))
    assert seen == [(0, 12.5)] and hist.losses[0] == 12.5
    # the gradient w = (3, 4) has norm 5: clipped to norm 1, one SGD step of size 1
    torch.testing.assert_close(w.detach(), torch.tensor([3 - 0.6, 4 - 0.8]))


def test_frozen_model_is_a_clear_error():
    net = _net()
    for p in net.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        fit(net, lambda s: net(torch.zeros(1, 3)).sum(), 1)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown 'lbfgs'"):
        make_optimizer([nn.Parameter(torch.zeros(1))], "lbfgs")
