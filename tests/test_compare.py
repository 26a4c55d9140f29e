"""compare: any model vs its random self; plus the pieces it uses (lenet, fit_classifier, stimuli)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import priorlab
from priorlab.config import UserError
from priorlab.data.stimuli import stimuli
from priorlab.nets import build
from priorlab.probe.capture import capture
from priorlab.probe.rdm import compare as compare_rdms
from priorlab.probe.rdm import rdm

LSTM_FACTORY = """
from torch import nn

class RowReader(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=3, batch_first=True)
        self.input_shape = (1, 8, 8)

    def forward(self, x):
        out, _ = self.lstm(x.flatten(1, 2))   # [N, 1, 8, 8] -> 8 rows of 8 pixels
        return out

def make():
    return RowReader()
"""


def _run(tmp_path, name="c", **config):
    return priorlab.run("compare", out=tmp_path / name, root=tmp_path / "runs", **config)


# ---------------------------------------------------------------------------------------------- the experiment
def test_default_lenet_trained_on_digits(tmp_path):
    run = _run(tmp_path, n_stimuli=40, epochs=4)
    m, a = run.metrics, run.arrays()
    assert run.status == "done" and m["reference_is_trained"] == 1
    assert 0.85 < m["acc_reference"] <= 1  # a fraction
    assert list(a["layers"][:3]) == ["conv1", "relu1", "pool1"]
    assert (run.path / "reference.safetensors").exists()
    # the layer-wise (budgeted) RDMs equal the direct computation: capture + rdm + compare on the random net
    model = priorlab.randomize(build("lenet", None).make(), init="torch-default", seed=0).eval()
    x = stimuli("digits", 40, 8, 1, seed=0).x
    acts = capture(model, x)
    direct = [compare_rdms(rdm(acts[n].double()), rdm(x.double())) for n in a["layers"]]
    np.testing.assert_allclose(a["rdm_vs_input_random"], direct, atol=1e-6)
    assert np.all(np.abs(a["cka"]) <= 1 + 1e-9)


@pytest.mark.parametrize(
    "model,extra",
    [
        ("torchvision:resnet18", {"image_size": 32}),
        ("torchvision:googlenet", {"image_size": 64}),
        ("torchvision:inception_v3", {"image_size": 75}),
        ("lstm", {}),
    ],
)
def test_any_architecture_runs_with_random_weights(tmp_path, model, extra):
    """Issue 3, acceptance 4: googlenet, inception_v3, resnet18 and an LSTM, with no code changes."""
    run = _run(tmp_path, model=model, stimuli="samples", n_stimuli=8, **extra)
    assert run.status == "done", run.status
    assert run.metrics["reference_is_trained"] == 0 and run.metrics["layers"] >= 4
    assert all(math.isfinite(v) for v in run.metrics.values())


def test_module_factory_lstm(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(LSTM_FACTORY)
    run = _run(tmp_path, model=f"module:{path}:make", n_stimuli=12)
    assert run.status == "done"
    assert list(run.arrays()["layers"]) == [
        "lstm.0"
    ]  # h_n, c_n are [layers, N, H]: not per-stimulus, skipped


def test_in_place_relu_does_not_corrupt_hooked_outputs():
    """Inception's BasicConv2d applies relu(inplace=True) to its BatchNorm's output; the hooked copy keeps negatives."""
    model = build("torchvision:inception_v3", 75).make().eval()
    acts = capture(model, torch.randn(2, 3, 75, 75), layers=["Conv2d_1a_3x3.bn", "Conv2d_1a_3x3"])
    assert acts["Conv2d_1a_3x3.bn"].min() < 0
    assert acts["Conv2d_1a_3x3"].min() >= 0


def test_weights_file_is_the_reference(tmp_path):
    net = build("lenet", None).make()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    a = _run(tmp_path, "a", weights=str(tmp_path / "w.pt"), n_stimuli=20)
    assert a.metrics["reference_is_trained"] == 1 and "acc_reference" not in a.metrics
    # the same weights as safetensors give the same numbers
    from safetensors.torch import save_file

    save_file(net.state_dict(), str(tmp_path / "w.safetensors"))
    b = _run(tmp_path, "b", weights=str(tmp_path / "w.safetensors"), n_stimuli=20)
    np.testing.assert_allclose(a.arrays()["rdm_vs_input_reference"], b.arrays()["rdm_vs_input_reference"])


@pytest.mark.parametrize(
    "sets,key",
    [
        (["weights=/no/such/file.pt"], "weights"),
        (["model=alexnet2"], "model"),
        (["model=torchvision:nonet"], "model"),
        (["model=module:/no/file.py:make"], "model"),
        (["stimuli=photos"], "stimuli"),
        (["stimuli=images:/no/such/folder"], "stimuli"),
        (["layers=conv1,nolayer"], "layers"),
        (["model=torchvision:inception_v3", "image_size=32"], "image_size"),
        (["train_epochs=3"], "renamed to 'epochs'"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(cli, sets, key):
    args = ["run", "compare"]
    for s in sets:
        args += ["--set", s]
    res = cli(args)
    assert res.code == 2, res.err
    assert key in res.err and len(res.err.strip().splitlines()) == 1


def test_unreadable_weights_file(cli, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    res = cli(["run", "compare", "--set", f"weights={bad}"])
    assert res.code == 2 and "weights" in res.err
    other = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    res = cli(["run", "compare", "--set", f"weights={other}"])
    assert res.code == 2 and "does not fit" in res.err


# ---------------------------------------------------------------------------------------------- pieces
def test_lenet_names_and_sizes():
    from priorlab.nets import lenet  # the builder, also after priorlab.nets.lenet was imported

    net = lenet()
    assert [n for n, _ in net.named_children()][:4] == ["conv1", "relu1", "pool1", "conv2"]
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert lenet(image_size=28)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_fit_classifier_learns_digits():
    from priorlab.data.digits import digits
    from priorlab.nets.lenet import lenet
    from priorlab.train.classify import accuracy, fit_classifier

    torch.manual_seed(0)
    split = digits(flatten=False)
    net = lenet()
    before = accuracy(net, split.x_test, split.y_test)
    after = fit_classifier(net, split, epochs=3)
    assert after > 0.8 and after > before + 0.5


def test_stimuli_digits_balanced_and_sorted():
    s = stimuli("digits", 30, None, 1)
    assert s.x.shape == (30, 1, 8, 8) and s.labels == sorted(s.labels)
    assert [s.labels.count(str(c)) for c in range(10)] == [3] * 10
    assert abs(s.x.mean().item()) < 1e-5 and abs(s.x.std().item() - 1) < 1e-3


def test_stimuli_samples_no_download():
    s = stimuli("samples", 20, 48, 3, seed=1)
    assert s.x.shape == (20, 3, 48, 48) and len(set(s.labels)) >= 6
    assert torch.isfinite(s.x).all()
    assert torch.equal(s.x, stimuli("samples", 20, 48, 3, seed=1).x)  # seeded crops


def test_stimuli_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cat in ("cats/small", "dogs"):
        (tmp_path / cat).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(
                tmp_path / cat / f"{i}.png"
            )
    (tmp_path / "notes.txt").write_text("not an image")
    s = stimuli(f"images:{tmp_path}", 4, 16, 1)
    assert s.x.shape == (4, 1, 16, 16) and s.labels == ["cats/small", "cats/small", "dogs", "dogs"]
    assert len(stimuli(f"images:{tmp_path}", 7, 16, 3)) == 7  # more than the files: random crops
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"xx")
    with pytest.raises(UserError, match="cannot read image"):
        stimuli(f"images:{tmp_path}", 5, 16, 3)


# ---------------------------------------------------------------------------------------------- full size
@pytest.mark.slow
@pytest.mark.parametrize("model", ["torchvision:googlenet", "torchvision:inception_v3"])
def test_full_size_torchvision(tmp_path, model):
    run = _run(tmp_path, model=model, stimuli="samples", n_stimuli=16)
    assert run.status == "done" and run.metrics["layers"] >= 15
