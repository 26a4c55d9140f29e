"""capture(): hooks that clone, tuple outputs, natural blocks (issue 3, acceptance item 4, capture part)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from priorlab.probe import capture, find_aliases, natural_blocks


class ConvBNInplaceReLU(nn.Module):
    """As torchvision's BasicConv2d (GoogLeNet, Inception-v3): F.relu(bn(conv(x)), inplace=True)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return torch.relu_(self.bn(self.conv(x)))


def test_hooked_batchnorm_before_inplace_relu_keeps_negative_values():
    torch.manual_seed(0)
    model = nn.Sequential(
        ConvBNInplaceReLU(), nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), nn.ReLU(inplace=True)
    ).eval()
    x = torch.randn(4, 3, 10, 10)
    acts = capture(model, x, ["0.bn", "2", "0"])
    assert acts["0.bn"].min() < 0 and acts["2"].min() < 0
    assert acts["0"].min() >= 0
    with torch.no_grad():
        assert torch.equal(acts["0.bn"], model[0].bn(model[0].conv(x)))


def test_torchvision_inception_block_keeps_negative_values():
    googlenet = pytest.importorskip("torchvision.models.googlenet")
    model = nn.Sequential(
        googlenet.BasicConv2d(3, 8, kernel_size=3), googlenet.BasicConv2d(8, 8, kernel_size=3)
    )
    acts = capture(model.eval(), torch.randn(2, 3, 16, 16), ["0.bn", "0", "1.bn"])
    assert acts["0.bn"].min() < 0 <= acts["0"].min()
    assert acts["1.bn"].min() < 0


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 7, batch_first=True)
        self.head = nn.Linear(7, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def test_lstm_outputs_are_named_sequence_and_states():
    torch.manual_seed(0)
    model = Recurrent()
    x = torch.randn(3, 4, 5)
    acts = capture(model, x)
    with torch.no_grad():
        out, (h, c) = model.lstm(x)
    assert list(acts) == ["lstm.0", "lstm.h_n.0", "lstm.c_n.0", "head"]
    assert torch.equal(acts["lstm.0"], out) and torch.equal(acts["lstm.h_n.0"], h[0])
    assert torch.equal(acts["lstm.c_n.0"], c[0])
    flat = capture(model, x, flatten=True)  # states are [N, H] per layer: flattening keeps one row per item
    assert flat["lstm.h_n.0"].shape == (3, 7) and flat["lstm.0"].shape == (3, 4 * 7)


def test_time_steps_of_sequence_first_and_bidirectional_modules():
    torch.manual_seed(0)
    gru = nn.GRU(5, 3, num_layers=2, bidirectional=True)  # [T, N, F] in, h_n [2 layers · 2 directions, N, H]
    x = torch.randn(6, 4, 5)
    with torch.no_grad():
        out, h = gru(x)
    acts = capture(gru, x, timesteps=[0, -1])
    assert list(acts) == ["0@t0", "0@t5", "h_n.0", "h_n.1", "h_n.2", "h_n.3"]  # the model itself is module ''
    assert torch.equal(acts["0@t5"], out[5]) and acts["0@t0"].shape == (4, 6)
    assert all(torch.equal(acts[f"h_n.{k}"], h[k]) for k in range(4))
    assert list(capture(gru, x, timesteps="last"))[:1] == ["0@t5"]
    assert len(capture(gru, x, timesteps="all")) == 6 + 4
    assert torch.equal(capture(gru, x)["0"], out.transpose(0, 1))  # the whole sequence, batch-first
    assert list(capture(gru, x, timesteps="0,-1")) == list(acts) and list(capture(gru, x, timesteps=2))[0] == "0@t2"
    for bad, message in ((["a"], "step indices"), ("first", "expected 'last'"), ([9], "step 9 is outside"),
                         ([1, 1], "distinct"), ([0.5], "step indices"), ([], "step indices")):
        with pytest.raises(ValueError, match=message):
            capture(gru, x, timesteps=bad)


def test_find_aliases_names_what_each_copy_equals():
    model = nn.Sequential(nn.Identity(), nn.Conv2d(1, 2, 3), nn.Flatten(), nn.ReLU(), nn.Dropout(0.2)).eval()
    x = torch.randn(4, 1, 6, 6)
    acts = capture(model, x)
    assert find_aliases(acts, x) == {"0": "input", "2": "1", "4": "3"}
    assert find_aliases(acts) == {"2": "1", "4": "3"}
    assert find_aliases({"a": torch.tensor([[0.0, 1.0]]), "b": torch.tensor([[-0.0, 1.0]])}) == {"b": "a"}
    assert find_aliases({"a": torch.zeros(2, 3), "b": torch.zeros(2, 3, dtype=torch.float64)}) == {}


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 4)
        self.body = nn.Sequential(Block(), nn.Sequential(nn.ReLU(), nn.Linear(4, 4)))
        self.heads = nn.ModuleDict({"x": nn.Linear(4, 4), "y": nn.ModuleList([nn.Tanh(), nn.Linear(4, 4)])})

    def forward(self, x):
        x = self.body(self.stem(x))
        x = self.heads["x"](x)
        for m in self.heads["y"]:
            x = m(x)
        return x


def test_natural_blocks_recurse_into_containers_only():
    model = Net()
    # containers are opened, other modules (Block) are kept whole: names are module paths as in print(model)
    assert natural_blocks(model) == [
        "stem",
        "body.0",
        "body.1.0",
        "body.1.1",
        "heads.x",
        "heads.y.0",
        "heads.y.1",
    ]
    names = dict(model.named_modules())
    assert all(name in names for name in natural_blocks(model))
    acts = capture(model, torch.randn(2, 4))
    assert list(acts) == natural_blocks(model)


class StackOfBlocks(nn.Module):
    """A custom encoder: one ModuleList of repeated blocks, plus a norm."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block() for _ in range(3)])
        self.norm = nn.LayerNorm(4)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class Branches(nn.Module):
    """Parallel branches (as in GoogLeNet's Inception): two Sequentials of repeated blocks, not a stack."""

    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
        self.b = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))

    def forward(self, x):
        return self.a(x) + self.b(x)


def test_natural_blocks_open_transformers_and_stacks_of_blocks():
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    model = nn.Module()
    model.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    model.custom = StackOfBlocks()
    model.branches = Branches()
    assert natural_blocks(model) == [
        "encoder.layers.0", "encoder.layers.1", "custom.blocks.0", "custom.blocks.1", "custom.blocks.2",
        "custom.norm", "branches",
    ]
    decoder = nn.Transformer(8, 2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=16, batch_first=True)
    assert natural_blocks(decoder) == [
        "encoder.layers.0", "encoder.norm", "decoder.layers.0", "decoder.layers.1", "decoder.norm"
    ]


def test_flatten_and_batching():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3)).eval()
    x = torch.randn(10, 1, 8, 8)
    whole = capture(model, x, flatten=True)
    assert whole["0"].shape == (10, 72)
    batched = capture(model, x, flatten=True, batch_size=3)
    assert all(torch.allclose(whole[k], batched[k], atol=1e-6) for k in whole)


def test_shared_module_calls_are_kept_apart():
    relu = nn.ReLU()

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = relu

        def forward(self, x):
            return self.relu(self.relu(x) - 1)

    acts = capture(Twice(), torch.tensor([[2.0, -1.0]]))
    assert torch.equal(acts["relu"], torch.tensor([[2.0, 0.0]]))
    assert torch.equal(acts["relu@1"], torch.tensor([[1.0, 0.0]]))


def test_unknown_layer_is_named_and_hooks_are_removed():
    model = Net()
    with pytest.raises(ValueError, match="'body.9'"):
        capture(model, torch.randn(2, 4), ["stem", "body.9"])
    capture(model, torch.randn(2, 4), ["stem"])
    assert all(not m._forward_hooks for m in model.modules())
