"""randomize(): every parameter and buffer of any nn.Module, deterministic, the caller's RNG untouched."""

from __future__ import annotations

import math
import warnings

import pytest
import scipy.stats
import torch
from torch import nn

import priorlab
from priorlab.randomization import INITS


class Zoo(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6, padding_idx=0)
        self.conv = nn.Conv1d(6, 8, 3)
        self.bn = nn.BatchNorm1d(8)
        self.gn = nn.GroupNorm(2, 8)
        self.lstm = nn.LSTM(8, 5, num_layers=2)
        self.gru = nn.GRU(5, 5)
        self.rnn = nn.RNN(5, 5, bias=False)
        self.ln = nn.LayerNorm(5)
        self.fc = nn.Linear(5, 3)
        self.attn = nn.MultiheadAttention(6, 2)  # unknown type: its own (_)reset_parameters


def perturb(model: nn.Module) -> nn.Module:
    """Pretend the model was trained: every parameter and running statistic moved away from any init."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(3.0)
        for b in model.buffers():
            if b.is_floating_point():
                b.fill_(5.0)
            else:
                b.fill_(7)
    return model


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("init", INITS)
def test_every_parameter_and_buffer_is_reinitialised(init):
    model = perturb(Zoo())
    priorlab.randomize(model, init=init, seed=1)
    for name, p in model.named_parameters():
        assert not torch.any(p == 3.0), f"{name} was not re-initialised"
    assert torch.all(model.bn.running_mean == 0) and torch.all(model.bn.running_var == 1)
    assert int(model.bn.num_batches_tracked) == 0
    assert torch.all(model.emb.weight[0] == 0)  # padding row


def test_norm_layers_get_identity_affine():
    model = perturb(Zoo())
    priorlab.randomize(model, init="normal", seed=0)
    for m in (model.bn, model.gn, model.ln):
        assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_deterministic_and_the_global_rng_is_untouched():
    model = perturb(Zoo())
    before = torch.random.get_rng_state()
    a = state(priorlab.randomize(model, init="xavier", seed=7))
    assert torch.equal(before, torch.random.get_rng_state())
    b = state(priorlab.randomize(perturb(Zoo()), init="xavier", seed=7))
    c = state(priorlab.randomize(perturb(Zoo()), init="xavier", seed=8))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc.weight"], c["fc.weight"])
    assert not torch.equal(a["attn.in_proj_weight"], c["attn.in_proj_weight"])  # seeded reset_parameters too


def big_linear(init, gain=None):
    return priorlab.randomize(nn.Linear(400, 300), init=init, seed=0, gain=gain).weight.detach().double()


@pytest.mark.parametrize(
    "init,gain,std",
    [
        ("normal", None, 1.0),
        ("normal", 0.1, 0.1),
        ("fan-in", None, 1 / 20),
        ("fan-in", 2.0, 2 / 20),
        ("kaiming", None, math.sqrt(2) / 20),
        ("xavier", None, math.sqrt(2 / 700)),
    ],
)
def test_weight_scales(init, gain, std):
    w = big_linear(init, gain)
    assert w.std().item() == pytest.approx(std, rel=0.02)
    assert abs(w.mean().item()) < 3 * std / math.sqrt(w.numel()) * 2


def test_orthogonal_rows_are_orthonormal_times_gain():
    w = big_linear("orthogonal", 1.5)
    assert torch.allclose(w @ w.T, 2.25 * torch.eye(300, dtype=torch.float64), atol=1e-5)


def test_torch_default_matches_torch_reset_parameters():
    # a peer check: the same distribution as PyTorch's own reset_parameters (two-sample Kolmogorov–Smirnov)
    ours = priorlab.randomize(nn.Conv2d(16, 32, 3), seed=3)
    theirs = nn.Conv2d(16, 32, 3)
    for name in ("weight", "bias"):
        a, b = getattr(ours, name).detach().flatten(), getattr(theirs, name).detach().flatten()
        assert scipy.stats.ks_2samp(a.numpy(), b.numpy()).pvalue > 1e-3
        assert a.abs().max() <= 1 / math.sqrt(16 * 9)
    lstm = priorlab.randomize(nn.LSTM(4, 25), seed=0)
    assert lstm.weight_hh_l0.abs().max() <= 1 / 5 and lstm.weight_hh_l0.abs().max() > 0.19


def test_bias_std_draws_biases_for_named_inits():
    fc = priorlab.randomize(nn.Linear(10, 5000), init="fan-in", bias_std=0.3)
    assert fc.bias.std().item() == pytest.approx(0.3, rel=0.05)
    assert torch.all(priorlab.randomize(nn.Linear(10, 50), init="fan-in").bias == 0)


def test_report_says_what_was_done_per_layer():
    _, report = priorlab.randomize(Zoo(), init="fan-in", seed=0, report=True)
    assert set(report) >= {"emb", "conv", "bn", "gn", "lstm", "gru", "rnn", "ln", "fc", "attn"}
    assert "running stats reset" in report["bn"]
    assert "reset_parameters" in report["attn"]
    assert report["fc"].startswith("Linear: weight N(0,")


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.full((3,), 3.0))
        self.fc = nn.Linear(3, 3)


class CustomWithReset(Custom):
    def reset_parameters(self):
        nn.init.normal_(self.scale)


def test_unknown_modules_use_reset_parameters_or_are_named_in_a_warning():
    with pytest.warns(UserWarning, match=r"block \(Custom: scale\)"):
        model = priorlab.randomize(nn.Sequential(nn.Linear(3, 3), nn.ModuleDict({"block": Custom()})))
    assert torch.all(model[1]["block"].scale == 3.0)
    model = CustomWithReset()
    before = torch.random.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        priorlab.randomize(model, seed=2)
    assert torch.equal(before, torch.random.get_rng_state())
    assert not torch.any(model.scale == 3.0)


def test_parametrized_weights_are_reinitialised_through_their_original():
    from torch.nn.utils import parametrize

    class Double(nn.Module):
        def forward(self, w):
            return 2 * w

    fc = nn.Linear(200, 100)
    parametrize.register_parametrization(fc, "weight", Double())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        priorlab.randomize(fc, init="normal", gain=0.5, seed=0)
    assert fc.parametrizations.weight.original.std().item() == pytest.approx(0.5, rel=0.03)


def test_bad_init_names_the_choices():
    with pytest.raises(ValueError, match="init must be one of torch-default"):
        priorlab.randomize(nn.Linear(2, 2), init="he")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_values_on_cuda():
    cpu = state(priorlab.randomize(Zoo(), init="kaiming", seed=4))
    gpu = state(priorlab.randomize(Zoo().cuda(), init="kaiming", seed=4))
    for k in cpu:
        if k.startswith("attn"):
            continue  # reset_parameters draws from the device's own RNG
        assert torch.allclose(cpu[k], gpu[k].cpu()), k


class LinearWithScale(nn.Linear):
    def __init__(self):
        super().__init__(3, 3)
        self.scale = nn.Parameter(torch.full((3,), 3.0))


def test_extra_parameters_of_a_known_type_are_not_silently_skipped():
    with pytest.warns(UserWarning, match=r"LinearWithScale"):
        priorlab.randomize(LinearWithScale())
