"""priorlab.regimes: every regime on an MLP, a small CNN, an LSTM and torchvision's resnet18; summary against hand
counts; frozen tensors unchanged by training; mask keeps its fraction; permute keeps each weight's multiset."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from priorlab.regimes import REGIMES, apply, fit_readout, ridge_readout, summary, tensors


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )


class LSTMNet(nn.Module):
    def __init__(self, cell=nn.LSTM):
        super().__init__()
        self.rnn = cell(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


def resnet(num_classes=3):
    torchvision = pytest.importorskip("torchvision")
    return torchvision.models.resnet18(weights=None, num_classes=num_classes)


MODELS = {
    "mlp": (mlp, (6, 4)),
    "cnn": (cnn, (6, 1, 8, 8)),
    "lstm": (LSTMNet, (6, 7, 3)),
    "gru": (lambda: LSTMNet(nn.GRU), (6, 7, 3)),
    "resnet18": (resnet, (2, 3, 32, 32)),
}

# hand counts: (total, bias_only, bias_only with norms, readout, weights)
# mlp: 4*8+8 + 8*3+3; cnn: conv 1*4*9+4, bn 2*4, fc 144*3+3; lstm: 4*5*(3+5) + 2*4*5, head 5*2+2
HAND = {
    "mlp": (67, 8 + 3, 8 + 3, 27, 32 + 24),
    "cnn": (40 + 8 + 435, 4 + 3, 4 + 3 + 8, 435, 36 + 432),
    "lstm": (160 + 40 + 12, 40 + 2, 40 + 2, 12, 160 + 10),
    "gru": (120 + 30 + 12, 30 + 2, 30 + 2, 12, 120 + 10),  # 3 gates instead of 4
}


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm", "gru"])
def test_summary_hand_counts(name):
    make, _ = MODELS[name]
    total, bias, bias_norm, readout, weights = HAND[name]
    assert summary(apply(make(), "full")).trainable == total
    assert summary(apply(make(), "frozen")).trainable == 0
    assert summary(apply(make(), "bias_only")).trainable == bias
    assert summary(apply(make(), "bias_only", learn_norm=True)).trainable == bias_norm
    assert summary(apply(make(), "readout")).trainable == readout
    masked = summary(apply(make(), "mask"))
    assert (masked.trainable, masked.total) == (weights, total + weights)  # one score per weight entry
    permuted = summary(apply(make(), "permute"))
    assert (permuted.trainable, permuted.total) == (weights, total)


def test_summary_rows_per_layer():
    rows = summary(apply(mlp(), "bias_only"))
    assert [(r["layer"], r["trainable"], r["total"]) for r in rows] == [("0", 8, 40), ("2", 3, 27)]
    assert rows.rows()[-1] == {"layer": "total", "trainable": 11, "total": 67}


def test_resnet18_counts_match_torchvision():
    # torchvision documents 11,689,512 parameters for resnet18 (1000 classes)
    m = resnet(1000)
    assert summary(apply(m, "full")).total == 11_689_512
    # BatchNorm channels: stem 64, layer1 4*64, layer2 4*128+128, layer3 4*256+256, layer4 4*512+512
    bn = 64 + 256 + 640 + 1280 + 2560
    assert summary(apply(resnet(1000), "bias_only")).trainable == 1000
    assert summary(apply(resnet(1000), "bias_only", learn_norm=True)).trainable == 1000 + 2 * bn
    assert summary(apply(resnet(1000), "readout")).trainable == 512 * 1000 + 1000


def _train(model, shape, steps=3):
    torch.manual_seed(1)
    x = torch.randn(*shape)
    # all parameters handed to the optimizer, with weight decay: frozen ones must still not move
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(steps):
        opt.zero_grad()
        out = model(x)
        if any(p.requires_grad for p in model.parameters()):
            (out**2).mean().backward()
            opt.step()
    return model


@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("name", list(MODELS))
def test_every_regime_trains_and_frozen_tensors_stay(name, regime):
    make, shape = MODELS[name]
    torch.manual_seed(0)
    model = apply(make(), regime)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    weights = {(path, n): getattr(m, n).detach().clone() for path, m, n in tensors(model, "weight")}
    _train(model, shape, steps=1 if name == "resnet18" else 3)
    for n, p in model.named_parameters():
        if n in trainable:
            continue
        assert torch.equal(p, before[n]), f"{regime}: frozen {n} changed"
    if trainable:  # learning did change something
        assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if n in trainable)
    if regime == "permute":  # every weight tensor is still a permutation of its initial values
        for (path, n), w0 in weights.items():
            w = getattr(model.get_submodule(path), n).detach()
            assert torch.equal(w.flatten().sort().values, w0.flatten().sort().values), f"{path}.{n}"


def test_regimes_compose_with_randomize():
    randomize = pytest.importorskip("priorlab.randomization").randomize
    model = apply(randomize(mlp(), init="fan-in", seed=3), "bias_only")
    assert summary(model).trainable == 11
    model = apply(mlp(), "mask")
    scores = model[0].parametrizations.weight[0].scores.detach().clone()
    randomize(model, seed=2)  # a regime model is still an nn.Module: its scores are re-drawn too
    assert not torch.equal(model[0].parametrizations.weight[0].scores, scores)
    assert model(torch.randn(2, 4)).shape == (2, 3)


@settings(max_examples=25, deadline=None)
@given(fraction=st.floats(0.01, 1.0), out=st.integers(1, 9), inp=st.integers(1, 9))
def test_mask_keeps_exact_fraction(fraction, out, inp):
    layer = apply(nn.Sequential(nn.Linear(inp, out)), "mask", fraction=fraction)[0]
    p = layer.parametrizations.weight[0]
    expected = max(1, round(fraction * out * inp))
    assert int(p.mask().sum()) == expected
    w0 = layer.parametrizations.weight.original
    assert torch.equal(layer.weight, w0 * p.mask())


def test_mask_fraction_after_training():
    model = _train(apply(cnn(), "mask", fraction=0.3), MODELS["cnn"][1], steps=5)
    for m in (model[0], model[4]):
        p = m.parametrizations.weight[0]
        assert int(p.mask().sum()) == round(0.3 * m.weight.numel())
        assert int((m.weight != 0).sum()) <= p.k


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_permute_keeps_each_multiset_over_training(name):
    make, shape = MODELS[name]
    torch.manual_seed(0)
    model = make()
    before = {(p, n): getattr(m, n).detach().clone() for p, m, n in tensors(model, "weight")}
    apply(model, "permute")
    _train(model, shape, steps=5)
    moved = False
    for (path, n), w0 in before.items():
        w = getattr(model.get_submodule(path) if path else model, n).detach()
        assert torch.equal(w.flatten().sort().values, w0.flatten().sort().values), f"{path}.{n}"
        moved |= not torch.equal(w, w0)
    assert moved  # training did permute something


def test_permute_starts_at_identity_and_multiset_under_big_steps():
    torch.manual_seed(0)
    layer = nn.Linear(6, 5)
    w0 = layer.weight.detach().clone()
    apply(layer, "permute")
    assert torch.equal(layer.weight, w0)
    with torch.no_grad():
        layer.parametrizations.weight.original.add_(torch.randn(5, 6) * 10)
    assert not torch.equal(layer.weight, w0)
    assert torch.equal(layer.weight.flatten().sort().values, w0.flatten().sort().values)


def test_shared_user_map_ties_entries():
    layer = nn.Linear(3, 2)
    index = torch.tensor([[0, 1, 0], [1, 2, 2]])
    apply(layer, "shared", map={"weight": index})
    w = layer.weight
    assert w[0, 0] == w[0, 2] and w[0, 1] == w[1, 0] and w[1, 1] == w[1, 2]
    assert summary(layer).trainable == 3 + 2


def test_readout_finds_last_linear_and_layer_option():
    model = apply(mlp(), "readout")
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["2.weight", "2.bias"]
    model = apply(mlp(), "readout", layer="0")
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["0.weight", "0.bias"]


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="unknown regime 'bogus'"):
        apply(mlp(), "bogus")
    with pytest.raises(TypeError, match="no option 'fractoin'"):
        apply(mlp(), "mask", fractoin=0.2)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        apply(mlp(), "readout", layer="nope")
    with pytest.raises(ValueError, match="no nn.Linear"):
        apply(nn.Sequential(nn.Conv2d(1, 1, 3)), "readout")
    with pytest.raises(ValueError, match="already has parametrizations"):
        apply(apply(mlp(), "mask"), "permute")
    with pytest.raises(ValueError, match="fraction"):
        apply(mlp(), "mask", fraction=0.0)
    with pytest.raises(ValueError, match="shape"):
        apply(nn.Linear(3, 2), "shared", map={"weight": torch.zeros(3, 3, dtype=torch.long)})


def test_ridge_matches_sklearn():
    sk = pytest.importorskip("sklearn.linear_model")
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.randn(50, 7, generator=g, dtype=torch.float64),
        torch.randn(50, 2, generator=g, dtype=torch.float64),
    )
    for lam in (0.0, 1e-6, 0.5, 10.0):
        fit = ridge_readout(x, y, lam)
        ref = sk.Ridge(alpha=lam, solver="svd").fit(x.numpy(), y.numpy())
        assert torch.allclose(fit.weight, torch.from_numpy(ref.coef_), atol=1e-9)
        assert torch.allclose(fit.bias, torch.from_numpy(ref.intercept_), atol=1e-9)


def test_ridge_more_features_than_samples_interpolates():
    g = torch.Generator().manual_seed(1)
    x, y = (
        torch.randn(10, 40, generator=g, dtype=torch.float64),
        torch.randn(10, generator=g, dtype=torch.float64),
    )
    fit = ridge_readout(x, y, 0.0)
    assert torch.allclose(x @ fit.weight.T + fit.bias, y[:, None], atol=1e-8)


def test_fit_readout_writes_the_solution():
    torch.manual_seed(0)
    model = apply(mlp().double(), "readout")
    x = torch.randn(100, 4, dtype=torch.float64)
    y = torch.randn(100, 3, dtype=torch.float64)
    fit_readout(model, x, y, lam=0.0)
    feats = torch.relu(model[0](x))
    ref = ridge_readout(feats, y, 0.0)
    assert torch.allclose(model[2].weight, ref.weight) and torch.allclose(
        model(x), feats @ ref.weight.T + ref.bias
    )


def test_sinkhorn_permute_is_exact_and_learns():
    torch.manual_seed(0)
    model = mlp()
    w0 = [model[0].weight.detach().clone(), model[2].weight.detach().clone()]
    apply(model, "permute", method="sinkhorn")
    assert torch.equal(model[0].weight, w0[0])  # identity assignment at start
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["0.parametrizations.weight.0.logits", "2.parametrizations.weight.0.logits"]
    opt = torch.optim.Adam(model.parameters(), lr=0.5)
    x = torch.randn(32, 4)
    for _ in range(20):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    for layer, w in zip((model[0], model[2]), w0):
        assert torch.equal(layer.weight.flatten().sort().values, w.flatten().sort().values)
    assert any(not torch.equal(layer.weight, w) for layer, w in zip((model[0], model[2]), w0))


def test_sinkhorn_hard_assignment_follows_logits():
    layer = nn.Linear(3, 2)
    v = layer.weight.detach().flatten().clone()
    apply(layer, "permute", method="sinkhorn")
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        layer.parametrizations.weight[0].logits.copy_(torch.eye(6)[perm])
    assert torch.equal(layer.weight.flatten(), v[perm])


def test_sinkhorn_refuses_big_tensors():
    with pytest.raises(ValueError, match="use method='rank'"):
        apply(nn.Linear(64, 32), "permute", method="sinkhorn")
    with pytest.raises(ValueError, match="unknown permute method 'swap'"):
        apply(mlp(), "permute", method="swap")
