"""regimes.remove bakes parametrizations into plain weights (the plain architecture loads them, outputs equal);
the locality regime on Linear and Conv2d (P scales channel-to-channel connections); frozen says nothing to train."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from priorlab.errors import UserError
from priorlab.nets import load_weights
from priorlab.nets.locality import locality_prior, raw_weight, square_sheet
from priorlab.regimes import apply, remove, summary


def mlp():
    return nn.Sequential(nn.Linear(4, 9), nn.ReLU(), nn.Linear(9, 3))


def cnn():
    return nn.Sequential(nn.Conv2d(2, 6, 3), nn.ReLU(), nn.Conv2d(6, 4, 3, padding=1), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 3))


class RNNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


MODELS = {"mlp": (mlp, (5, 4)), "cnn": (cnn, (5, 2, 8, 8)), "gru": (RNNNet, (5, 6, 3))}
CASES = [
    ("mask", {}), ("permute", {}), ("permute", {"method": "sinkhorn"}), ("shared", {"fraction": 0.3}),
    ("hyper", {}), ("locality", {}), ("locality", {"form": "output", "cost": "exp"}),
]


def _train_raw(model, x, steps=3):
    """A few Adam steps so that the stored tensors move away from their registration values."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()


@pytest.mark.parametrize("regime,options", CASES, ids=[f"{r}{o or ''}" for r, o in CASES])
@pytest.mark.parametrize("name", list(MODELS))
def test_remove_round_trips_into_the_plain_architecture(name, regime, options, tmp_path):
    make, shape = MODELS[name]
    if regime == "locality" and name == "gru":
        options = {**options, "layers": ["head"]}
    torch.manual_seed(0)
    x = torch.randn(*shape)
    model = apply(make(), regime, **options)
    _train_raw(model, x)
    model.eval()
    with torch.no_grad():
        before = model(x)
    assert any(".parametrizations." in k for k in model.state_dict())
    remove(model)
    plain_keys = set(make().state_dict())
    assert set(model.state_dict()) == plain_keys  # no parametrizations.*, no scores, no priors
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=0, atol=1e-6)
    # the plain architecture loads the baked weights (as a file, through the public loader) and computes the same
    path = tmp_path / "baked.safetensors"
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))
    plain = make().eval()
    load_weights(plain, str(path))
    with torch.no_grad():
        torch.testing.assert_close(plain(x), before, rtol=0, atol=1e-6)


def test_unbaked_weights_are_refused_with_the_remove_hint(tmp_path):
    model = apply(mlp(), "mask")
    path = tmp_path / "w.safetensors"
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))
    with pytest.raises(UserError, match="bake them first with priorlab.regimes.remove"):
        load_weights(mlp(), str(path))


def test_input_dependent_hyper_layers_cannot_be_baked():
    model = apply(mlp(), "hyper", target="2", from_input=True)
    with pytest.raises(ValueError, match="weights depend on each input"):
        remove(model)


def test_remove_leaves_a_plain_model_untouched():
    torch.manual_seed(0)
    model = mlp()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    remove(model)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


# ---------------------------------------------------------------------------------------------- locality regime
def test_locality_scales_each_channel_pair_of_a_conv():
    torch.manual_seed(0)
    model = apply(cnn(), "locality", cost="linear", layout="grid")
    conv = model[0]  # 2 -> 6 channels: sheets 1×2 and 2×3
    p = locality_prior(square_sheet(2), square_sheet(6), "grid", "linear")
    assert p.shape == (6, 2)
    w = raw_weight(conv)
    torch.testing.assert_close(conv.weight, w * p[:, :, None, None])
    # same prior at every kernel offset, and nearer channel pairs keep more
    ratio = conv.weight / w
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio))
    assert ratio[0, 0, 0, 0] > ratio[5, 0, 0, 0]
    lin = model[4]
    torch.testing.assert_close(lin.weight, raw_weight(lin) * locality_prior(square_sheet(144), square_sheet(3)))


def test_locality_trains_the_raw_weights_only():
    from priorlab.train.loop import fit

    torch.manual_seed(0)
    model = apply(mlp(), "locality", layout="line", cost="quadratic")
    priors = {n: b.clone() for n, b in model.named_buffers()}
    assert summary(model).trainable == summary(mlp()).total  # every raw tensor learns, P is no parameter
    x, y = torch.randn(16, 4), torch.randn(16, 3)
    w0 = raw_weight(model[0]).detach().clone()
    fit(model, lambda _: ((model(x) - y) ** 2).mean(), 5, lr=1e-2)
    assert not torch.equal(raw_weight(model[0]), w0)
    assert all(torch.equal(b, priors[n]) for n, b in model.named_buffers())
    torch.testing.assert_close(model[0].weight, raw_weight(model[0]) * locality_prior(4, 9, "line", "quadratic"))


def test_locality_errors_name_the_problem():
    with pytest.raises(ValueError, match="layout must be one of"):
        apply(mlp(), "locality", layout="hex")
    with pytest.raises(ValueError, match="no nn.Linear or nn.Conv2d"):
        apply(nn.Sequential(nn.ReLU()), "locality")
    with pytest.raises(ValueError, match="grouped convolution"):
        apply(nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)), "locality")
    with pytest.raises(TypeError, match="no option 'radius'"):
        apply(mlp(), "locality", radius=2)


def test_frozen_trains_nothing_and_says_so():
    from priorlab.train.loop import fit

    model = apply(mlp(), "frozen")
    assert summary(model).trainable == 0
    with pytest.raises(ValueError, match="nothing to train"):
        fit(model, lambda _: model(torch.randn(2, 4)).sum(), 1)
