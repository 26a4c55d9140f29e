"""priorlab.nets.zoo: models from spec strings, weights from local files (weights_only or safetensors)."""

from __future__ import annotations

import pytest
import torch

from priorlab.errors import UserError
from priorlab.nets import build, load_weights
from priorlab.nets.zoo import RowLSTM, min_image_size

FACTORY = """
from torch import nn

def make():
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 5 * 5, 3))
    net.input_shape = (2, 5, 5)
    return net

def not_a_module():
    return 3
"""


def test_builtin_specs_and_sizes():
    lenet = build("lenet")
    assert (lenet.channels, lenet.image_size) == (1, 8) and lenet.make()(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    lstm = build("lstm", 12)
    model = lstm.make()
    assert isinstance(model, RowLSTM) and model.input_shape == (1, 12, 12)
    assert model(torch.zeros(3, 1, 12, 12)).shape == (3, 10)
    assert build("lenet").make() is not build("lenet").make()  # a fresh model per call


def test_torchvision_sizes_and_limits():
    pytest.importorskip("torchvision")
    assert build("torchvision:resnet18").image_size == 224
    assert build("torchvision:inception_v3").image_size == 299
    assert min_image_size("torchvision:inception_v3") == 75 and min_image_size("lenet") == 0
    with pytest.raises(UserError, match="image_size"):
        build("torchvision:inception_v3", 32)
    with pytest.raises(UserError, match="model: torchvision has no model"):
        build("torchvision:nonet")


def test_module_factory(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(FACTORY)
    built = build(f"module:{path}:make")
    assert (built.channels, built.image_size) == (2, 5)
    assert built.make()(torch.zeros(4, 2, 5, 5)).shape == (4, 3)
    for spec, message in (
        (f"module:{path}:missing", "has no function 'missing'"),
        (f"module:{path}:not_a_module", "not an nn.Module"),
        (f"module:{tmp_path / 'none.py'}:make", "no such file"),
        ("module:nofactory", "expected module:"),
        ("vgg", "invalid model 'vgg'"),
    ):
        with pytest.raises(UserError, match=message):
            build(spec)


def test_load_weights_state_dict_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    source = build("lenet").make()
    torch.save({"state_dict": source.state_dict()}, tmp_path / "w.pt")  # a checkpoint holding a state_dict
    save_file(source.state_dict(), str(tmp_path / "w.safetensors"))
    for name in ("w.pt", "w.safetensors"):
        target = build("lenet").make()
        load_weights(target, str(tmp_path / name))
        assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_load_weights_checkpoint_forms_and_prefixes(tmp_path):
    from safetensors.torch import save_file

    source = build("lenet").make()
    state = source.state_dict()
    optimizer = torch.optim.SGD(source.parameters(), lr=0.1, momentum=0.9)
    prefixed = {f"module.{k}": v for k, v in state.items()}
    variants = {
        "model_state_dict.pt": {"model_state_dict": state, "optimizer_state_dict": optimizer.state_dict(), "epoch": 3},
        "model.pt": {"model": state, "step": 10},
        "net.pt": {"net": state},
        "nested.pt": {"checkpoint": 1, "model": {"state_dict": state}},
        "dataparallel.pt": prefixed,  # nn.DataParallel(model).state_dict()
        "lightning.pt": {"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 1},
        "both.pt": {"state_dict": {f"module.model.{k}": v for k, v in state.items()}},
    }
    for name, obj in variants.items():
        torch.save(obj, tmp_path / name)
    save_file(prefixed, str(tmp_path / "prefixed.safetensors"))
    for name in [*variants, "prefixed.safetensors"]:
        target = build("lenet").make()
        load_weights(target, str(tmp_path / name))
        assert _same(source, target), name


def test_load_weights_refuses_a_whole_pickled_model_with_the_fix(tmp_path, cli):
    torch.save(build("lenet").make(), tmp_path / "whole.pt")
    torch.save({"model": build("lenet").make(), "epoch": 2}, tmp_path / "inside.pt")
    for name in ("whole.pt", "inside.pt"):
        with pytest.raises(UserError, match=r"whole pickled model.*torch\.save\(model\.state_dict\(\), path\)"):
            load_weights(build("lenet").make(), str(tmp_path / name))
    res = cli(["run", "compare", "--set", f"weights={tmp_path / 'whole.pt'}"])
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert "weights:" in res.err and "torch.save(model.state_dict(), path)" in res.err


def test_load_weights_names_what_does_not_fit(tmp_path):
    torch.save({"epoch": 3, "optimizer": {"lr": 0.1}}, tmp_path / "nostate.pt")
    with pytest.raises(UserError, match="none under state_dict, model_state_dict, model, net"):
        load_weights(build("lenet").make(), str(tmp_path / "nostate.pt"))
    state = {k.replace("fc1.", "fc1.parametrizations."): v for k, v in build("lenet").make().state_dict().items()}
    torch.save(state, tmp_path / "regime.pt")
    with pytest.raises(UserError, match="does not fit the model.*parametrizations"):
        load_weights(build("lenet").make(), str(tmp_path / "regime.pt"))


def test_load_weights_refuses_pickled_objects(tmp_path):
    import argparse

    torch.save({"obj": argparse.Namespace(a=1)}, tmp_path / "pickle.pt")  # not allowed by weights_only
    with pytest.raises(UserError, match="weights: cannot read"):
        load_weights(build("lenet").make(), str(tmp_path / "pickle.pt"))
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(UserError, match="does not hold a state_dict"):
        load_weights(build("lenet").make(), str(tmp_path / "list.pt"))
