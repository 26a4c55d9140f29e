"""The Python API (priorlab.compare / run / load_run): objects in, the compare experiment's numbers out, runs in the store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from torch import nn

import priorlab
from priorlab.errors import UserError


class SmallCNN(nn.Module):  # defined here, in no file the CLI could import
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.relu = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        return self.fc(self.flat(self.relu(self.conv(x))))


def _data(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    labels = [str(i * 3 // n) for i in range(n)]  # sorted already: the experiment keeps this order
    return x, labels


def _spearman_of_rdms(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman r between the correlation-distance RDMs of two [N, F] arrays (numpy + scipy, upper triangle)."""
    iu = np.triu_indices(len(a), 1)
    ra, rb = 1 - np.corrcoef(a), 1 - np.corrcoef(b)
    return scipy.stats.spearmanr(ra[iu], rb[iu]).statistic


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    torch.manual_seed(3)
    model = SmallCNN()
    x, labels = _data()
    res = priorlab.compare(model, x, labels=labels, measures=["procrustes"], device="cpu")
    return model, x, labels, res


def test_compare_takes_an_inline_model_and_a_tensor(result):
    model, x, labels, res = result
    t = res.table
    assert isinstance(t, pd.DataFrame)
    assert list(t.columns)[:8] == ["layer", "network", "measure", "value", "ci_low", "ci_high", "p", "p_corrected"]
    assert not t.duplicated(["layer", "network", "measure"]).any()  # one row per layer × network × measure
    layers = res.layers
    assert layers == list(dict.fromkeys(t["layer"]))
    assert "flat" not in layers  # a Flatten equal to the layer before is an alias
    combos = t.groupby(["network", "measure"]).size()
    assert (combos == len(layers)).all()  # every (network, measure) on every layer
    assert {"cka", "procrustes"} <= set(t["measure"]) and any(m.startswith("rdm_vs_") for m in t["measure"])
    assert {"reference", "random"} <= set(t["network"])
    assert np.isfinite(t["value"]).all()


def test_the_reference_is_the_model_object_with_its_weights(result):
    """The reference row of the last layer equals scipy's Spearman r of the model's own fc output RDM with the
    input RDM: the object's weights were used (not re-drawn), on the stimuli in the order given."""
    model, x, labels, res = result
    with torch.no_grad():
        fc = model.eval()(x).double().numpy()
    want = _spearman_of_rdms(fc, x.reshape(len(x), -1).double().numpy())
    t = res.table
    score = t[t.measure.str.startswith("rdm_vs_")]  # with the input RDM (the default target), Spearman
    got = score[(score.layer == "fc") & (score.network == "reference")]["value"].item()
    assert got == pytest.approx(want, abs=1e-9)
    assert res.metrics["reference_is_trained"] == 1.0
    assert res.rdms["labels"] == labels
    assert res.rdms["input"].shape == (12, 12)
    assert set(res.rdms["reference"]) <= set(res.layers) and res.rdms["reference"]
    rdm_fc = res.rdms["reference"].get("fc")
    if rdm_fc is not None:
        np.testing.assert_allclose(rdm_fc, 1 - np.corrcoef(fc), atol=1e-6)


def test_save_makes_a_run_that_priorlab_runs_lists(result, cli, home, tmp_path):
    model, x, labels, res = result
    saved = res.save()
    assert saved.path.parent.parent == home.resolve() and saved.status == "done"
    assert res.save() is saved  # saving twice is the same run
    listed = cli(["runs", "--format", "json"])
    assert listed.code == 0
    ids = [r["id"] for r in json.loads(listed.out)]
    assert saved.id in ids
    shown = json.loads(cli(["show", saved.id, "--format", "json"]).out)
    assert shown["metrics"]["layers"] == len(res.layers)
    # the object's weights travel with the run, loadable into the plain class
    fresh = SmallCNN()
    priorlab.nets.load_weights(fresh, str(saved.path / "reference.safetensors"))
    assert torch.equal(fresh.fc.weight, model.fc.weight)
    # load_run by id, by unique prefix and by path
    assert priorlab.load_run(saved.id).path == saved.path
    assert priorlab.load_run(saved.id[:-2]).id == saved.id
    assert priorlab.load_run(str(saved.path)).id == saved.id
    with pytest.raises(UserError, match="no run 'nope'"):
        priorlab.load_run("nope")


def test_plot_draws_every_measure(result):
    fig = result[3].plot()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert set(titles) == set(result[3].table["measure"])


def test_a_dataloader_gives_the_same_numbers_as_the_tensor(result):
    model, x, labels, res = result
    ds = torch.utils.data.TensorDataset(x, torch.tensor([int(s) for s in labels]))
    res2 = priorlab.compare(model, torch.utils.data.DataLoader(ds, batch_size=5), measures=["procrustes"],
                            device="cpu")
    pd.testing.assert_frame_equal(res2.table, res.table)
    assert res2.rdms["labels"] == labels


def test_run_accepts_objects_and_lets_them_go(home):
    from priorlab.data import sequences
    from priorlab.nets import zoo

    x, labels = _data(10)
    run = priorlab.run("compare", model=SmallCNN(), stimuli=x, labels=labels, device="cpu")
    assert run.status == "done" and run.metrics["layers"] == 3
    assert run.config["n_stimuli"] == 10 and run.config["model"].startswith("memory:SmallCNN")
    assert not zoo._MODELS and not sequences._ARRAYS  # nothing held after the call


def test_a_recurrent_model_on_a_sequence_file(tmp_path):
    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 6, num_layers=2, batch_first=True)
            self.out = nn.Linear(6, 2)

        def forward(self, x):
            h, _ = self.gru(x)
            return self.out(h[:, -1])

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "s.npz", x=rng.normal(size=(9, 5, 3)).astype(np.float32), labels=np.arange(9) % 3)
    res = priorlab.compare(Seq(), tmp_path / "s.npz", timesteps="all", device="cpu")
    assert "gru.h_n.0" in res.layers and "gru.0@t0" in res.layers and "gru.0@t4" in res.layers
    assert res.rdms["input"].shape == (9, 9)


def test_bad_input_is_a_user_error(tmp_path):
    x, labels = _data()
    with pytest.raises(UserError, match="stimuli: .* is not a folder of images"):
        priorlab.compare(SmallCNN(), tmp_path / "nothing.txt")
    with pytest.raises(UserError, match="labels: give labels with a tensor"):
        priorlab.compare(SmallCNN(), "digits", labels=[1, 2, 3])
    with pytest.raises(UserError, match="stimuli: .*expected an array"):
        priorlab.compare(SmallCNN(), torch.zeros(5))
    with pytest.raises(UserError, match="labels"):
        priorlab.compare(SmallCNN(), x, labels=labels[:-1])


def test_a_memory_spec_from_the_command_line_is_refused(cli):
    res = cli(["run", "compare", "--set", "model=memory:SmallCNN-0"])
    assert res.code == 2 and "names no model object" in res.err
