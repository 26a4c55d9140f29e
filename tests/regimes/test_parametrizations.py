"""Gradients through w = H(u): autograd against the chain rule written out, and gradcheck in float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.functional import jacobian
from torch.func import functional_call

from priorlab.regimes import apply


@pytest.fixture(autouse=True)
def float64():
    """These tests run in float64 throughout (restored afterwards)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _data(seed=0, n=5, d=4, k=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, k, generator=g)


def _grad_wrt_weight(layer: nn.Linear, x, y):
    """∂C/∂w with the weight the layer uses taken as a leaf (no H involved)."""
    w = layer.weight.detach().requires_grad_(True)
    cost = F.mse_loss(F.linear(x, w, layer.bias), y)
    (gw,) = torch.autograd.grad(cost, w)
    return gw


def test_shared_gradient_is_sum_over_tied_entries():
    torch.manual_seed(0)
    x, y = _data()
    layer = nn.Linear(4, 3)
    index = torch.randint(0, 5, (3, 4))
    index[0, :] = torch.arange(4)
    index[1, 0] = 4  # every id 0..4 used
    apply(layer, "shared", map={"weight": index})
    u = layer.parametrizations.weight.original
    F.mse_loss(layer(x), y).backward()
    gw = _grad_wrt_weight(layer, x, y)
    expected = torch.zeros(5).index_add_(0, index.flatten(), gw.flatten())
    assert torch.allclose(u.grad, expected, atol=1e-12)


def _chain_rule_check(layer: nn.Linear, x, y, lr=0.1):
    """u ← u − η (∂H/∂u)ᵀ (∂C/∂w)ᵀ with the Jacobian of H computed separately, against autograd's step."""
    p = layer.parametrizations.weight
    u = p.original
    H = p[0]
    J = jacobian(lambda v: H(v), u.detach()).reshape(layer.weight.numel(), u.numel())
    gw = _grad_wrt_weight(layer, x, y)
    by_hand = u.detach() - lr * (J.T @ gw.flatten()).view_as(u)
    layer.zero_grad()
    F.mse_loss(layer(x), y).backward()
    torch.optim.SGD([u], lr=lr).step()
    assert torch.allclose(u.detach(), by_hand, atol=1e-12)


def test_hyper_chain_rule_matches_autograd():
    torch.manual_seed(0)
    x, y = _data()
    layer = apply(nn.Linear(4, 3), "hyper", embed_dim=3, chunk=5, hidden=6)
    _chain_rule_check(layer, x, y)


def test_shared_chain_rule_matches_autograd():
    torch.manual_seed(1)
    x, y = _data(1)
    layer = apply(nn.Linear(4, 3), "shared", fraction=0.4)
    _chain_rule_check(layer, x, y)


def test_gradcheck_through_whole_models():
    """gradcheck of C(u) for the embeddings and every generator parameter (hyper) and the tied values (shared)."""
    torch.manual_seed(0)
    x, y = _data(n=3)
    for regime, options in (
        ("hyper", {"embed_dim": 2, "chunk": 7, "hidden": 4}),
        ("shared", {"fraction": 0.5}),
    ):
        model = apply(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3)), regime, **options)
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        params = tuple(dict(model.named_parameters())[n].detach().clone().requires_grad_(True) for n in names)

        def cost(*ps, model=model, names=names):
            return F.mse_loss(functional_call(model, dict(zip(names, ps)), (x,)), y)

        assert torch.autograd.gradcheck(cost, params, eps=1e-6, atol=1e-6)


def test_gradcheck_input_conditioned_hyper():
    torch.manual_seed(0)
    model = apply(
        nn.Sequential(nn.Linear(3, 2)), "hyper", target="0", from_input=True, embed_dim=2, chunk=4, hidden=3
    )
    layer = model[0]
    with torch.no_grad():
        layer.encoder.weight.normal_()  # away from its zero start, so the input path matters
    x = torch.randn(4, 3, requires_grad=True)
    names = [n for n, p in layer.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in layer.parameters())

    def out(x, *ps):
        return functional_call(layer, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(out, (x, *params), eps=1e-6, atol=1e-6)
    # and the weights do depend on the input: two samples see different matrices
    y1 = layer(x[:1])
    w_other = layer.scale * layer.generator(layer.embeddings + layer.encoder(x[1:2])).flatten()[:6].view(2, 3)
    assert not torch.allclose(y1, x[:1] @ w_other.T + layer.bias)


def test_mask_straight_through_gradient():
    """Edge-popup: ∂C/∂s = ∂C/∂w ⊙ w0 ⊙ sign(s) (the top-k step passes the gradient unchanged)."""
    torch.manual_seed(0)
    x, y = _data()
    layer = apply(nn.Linear(4, 3), "mask", fraction=0.5)
    p = layer.parametrizations.weight
    F.mse_loss(layer(x), y).backward()
    gw = _grad_wrt_weight(layer, x, y)
    s = p[0].scores
    assert torch.allclose(s.grad, gw * p.original.detach() * s.detach().sign(), atol=1e-12)


def test_permute_straight_through_gradient():
    torch.manual_seed(0)
    x, y = _data()
    layer = apply(nn.Linear(4, 3), "permute")
    F.mse_loss(layer(x), y).backward()
    assert torch.allclose(
        layer.parametrizations.weight.original.grad, _grad_wrt_weight(layer, x, y), atol=1e-12
    )


def test_sinkhorn_permute_straight_through_gradient():
    """∂C/∂L is the gradient through the soft weight P(L) v, with ∂C/∂w taken at the hard weight."""
    torch.manual_seed(0)
    x, y = _data()
    layer = apply(nn.Linear(4, 3), "permute", method="sinkhorn")
    p = layer.parametrizations.weight
    F.mse_loss(layer(x), y).backward()
    gw = _grad_wrt_weight(layer, x, y)
    logits = p[0].logits
    soft_w = p[0].soft() @ p.original.detach().flatten()
    (expected,) = torch.autograd.grad(soft_w, logits, gw.flatten())
    assert torch.allclose(logits.grad, expected, atol=1e-12)


def test_straight_through_functions_vmap_equal_to_one_by_one():
    """Mask's top-k and Permute's rank placement batch under torch.func.vmap (an ensemble's members), forward and
    straight-through gradient equal to each member alone."""
    from torch.func import grad, vmap

    from priorlab.regimes.parametrizations import Mask, Permute

    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, 4, 3, generator=g, dtype=torch.float64)  # 5 members of a 4x3 weight
    scores = torch.randn(5, 4, 3, generator=g, dtype=torch.float64)
    mask = Mask(w[0], fraction=0.4)
    batched = vmap(lambda s: _topk(s, mask.k))(scores)
    alone = torch.stack([_topk(s, mask.k) for s in scores])
    assert torch.equal(batched, alone) and (alone.flatten(1).sum(1) == mask.k).all()
    loss = lambda s: (w[0] * _topk(s, mask.k) * s).sum()
    assert torch.equal(vmap(grad(loss))(scores), torch.stack([grad(loss)(s) for s in scores]))

    perm = Permute(w[0])
    place = lambda latent: perm(latent)
    out = vmap(place)(scores)
    assert torch.equal(out, torch.stack([place(s) for s in scores]))
    assert all(torch.equal(o.flatten().sort().values, perm.sorted_values) for o in out)  # exact permutations
    lossp = lambda latent: (perm(latent) * latent).sum()
    assert torch.equal(vmap(grad(lossp))(scores), torch.stack([grad(lossp)(s) for s in scores]))


def _topk(scores, k):
    from priorlab.regimes.parametrizations import _TopKMask

    return _TopKMask.apply(scores.abs(), k)
