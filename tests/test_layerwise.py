"""Layer-wise RDMs within a memory budget equal the all-in-memory computation (issue 3, library)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from priorlab.probe import capture, cka, layerwise_analysis, layerwise_cka, rdm
from priorlab.probe.layerwise import plan_passes

METRICS = ["correlation", "cosine", "euclidean", "sqeuclidean"]


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3),
            nn.BatchNorm2d(6),
            nn.ReLU(inplace=True),  # in-place op after a hooked layer
            nn.Conv2d(6, 4, 3),
            nn.ReLU(),
        )
        self.flat = nn.Flatten()
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        # a mean offset: the correlation RDM must not lose precision to it
        return self.fc(self.flat(self.features(x) + 1.0))


def model_and_inputs(dtype):
    torch.manual_seed(0)
    model = SmallNet().to(dtype).eval()
    with torch.no_grad():
        model.features[1].running_mean.fill_(0.3)
    return model, torch.randn(37, 3, 12, 12, dtype=dtype)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("memmap", [False, True])
def test_several_passes_equal_all_in_memory(metric, memmap, tmp_path):
    model, x = model_and_inputs(torch.float64)
    expected = {k: rdm(v, metric) for k, v in capture(model, x, flatten=True).items()}
    budget = 37 * 8 * 150  # 150 float64 features of 37 items: layers are split across passes
    res = layerwise_analysis(
        model, x, metric=metric, memory_budget=budget, batch_size=5, memmap_dir=tmp_path if memmap else None
    )
    assert res.passes >= 10
    assert res.names == list(expected)
    for name, want in expected.items():
        assert torch.allclose(res.rdms[name].double(), want, atol=1e-6), name


def test_float32_model_matches_too():
    model, x = model_and_inputs(torch.float32)
    expected = {k: rdm(v.double(), "correlation") for k, v in capture(model, x, flatten=True).items()}
    res = layerwise_analysis(model, x, memory_budget=37 * 4 * 100, batch_size=8)
    assert res.passes > 1
    for name, want in expected.items():
        assert (res.rdms[name].double() - want).abs().max() < 1e-5, name


def test_grams_give_the_same_cka_as_the_activations():
    model, x = model_and_inputs(torch.float64)
    acts = capture(model, x, flatten=True)
    res = layerwise_analysis(model, x, memory_budget=37 * 8 * 200, keep_grams=True)
    matrix = layerwise_cka(res)
    names = list(acts)
    for i in (0, 2, 5):
        for j in (1, 3, 6):
            assert matrix[i, j].item() == pytest.approx(cka(acts[names[i]], acts[names[j]]), abs=1e-9)
    debiased = layerwise_cka(res, res, debiased=True)
    assert debiased[0, 3].item() == pytest.approx(
        cka(acts[names[0]], acts[names[3]], debiased=True), abs=1e-9
    )


def test_progress_callback_counts_every_batch():
    model, x = model_and_inputs(torch.float32)
    calls = []
    res = layerwise_analysis(
        model,
        x,
        memory_budget=37 * 4 * 300,
        batch_size=10,
        progress=lambda step, total, what: calls.append((step, total)),
    )
    assert len(calls) == res.passes * 4
    assert calls[-1] == (res.passes * 4, res.passes * 4)


def test_plan_fits_the_budget_and_covers_every_column_once():
    sizes = {
        "a": (1000, torch.float32),
        "b": (10, torch.float32),
        "c": (2500, torch.float64),
        "d": (7, torch.float32),
    }
    n, budget = 20, 20 * 4 * 300
    plan = plan_passes(sizes, n, budget)
    covered = {k: [] for k in sizes}
    for units in plan:
        used = sum(n * (u.c1 - u.c0) * torch.empty((), dtype=sizes[u.entry][1]).element_size() for u in units)
        assert used <= budget
        for u in units:
            covered[u.entry].append((u.c0, u.c1))
    for entry, (d, _) in sizes.items():
        spans = sorted(covered[entry])
        assert spans[0][0] == 0 and spans[-1][1] == d
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_outputs_that_are_not_batch_first_are_skipped_with_a_warning():
    lstm = nn.Sequential(nn.LSTM(3, 4, batch_first=True))
    x = torch.randn(6, 5, 3)
    with pytest.warns(UserWarning, match=r"0\.1\.0"):
        res = layerwise_analysis(lstm, x)
    assert res.names == ["0.0"]
    assert torch.allclose(res.rdms["0.0"], rdm(capture(lstm, x)["0.0"]), atol=1e-6)


def test_budget_too_small_for_one_feature_is_an_error():
    model, x = model_and_inputs(torch.float32)
    with pytest.raises(ValueError, match="memory_budget"):
        layerwise_analysis(model, x, memory_budget=10)


def test_two_layer_lstm_state_is_not_mistaken_for_batch_first():
    """h_n and c_n of a 2-layer LSTM are [2, N, H]: with 2 items they look batch-first; with 3 they do not."""

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True)

        def forward(self, x):
            return self.lstm(x)

    torch.manual_seed(0)
    x = torch.randn(7, 5, 4)
    with pytest.warns(UserWarning, match="lstm.1.0"):
        res = layerwise_analysis(Seq().eval(), x, layers=["lstm"], metric="correlation")
    assert res.names == ["lstm.0"]


class SharedReLU(nn.Module):
    """One nn.ReLU called twice per forward: capture and layerwise both name the calls `relu` and `relu@1`."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 9)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(9, 5)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.relu(x))))


@pytest.mark.parametrize("budget", [None, 23 * 8 * 4])  # all in one pass; a few features per pass
def test_reused_module_gives_one_entry_per_call(budget):
    torch.manual_seed(0)
    model = SharedReLU().double().eval()
    x = torch.randn(23, 6, dtype=torch.float64)
    acts = capture(model, x)
    assert list(acts) == ["relu", "fc1", "relu@1", "fc2"]  # in the order of the forward pass
    kw = {} if budget is None else {"memory_budget": budget}
    res = layerwise_analysis(model, x, metric="euclidean", batch_size=7, **kw)  # defined for all-zero ReLU rows
    assert res.names == list(acts) and res.features == {"relu": 6, "fc1": 9, "relu@1": 9, "fc2": 5}
    assert (res.passes > 1) == (budget is not None)
    for name, a in acts.items():
        assert torch.allclose(res.rdms[name].double(), rdm(a, "euclidean"), atol=1e-9), name
    with torch.no_grad():
        assert torch.equal(acts["relu"], torch.relu(x))
        assert torch.equal(acts["relu@1"], torch.relu(model.fc1(torch.relu(x))))
    # the shared module alone: both calls; the pass's 4 batches stop after the second call (only the 2 probes of
    # output shapes run fc2)
    calls = []
    model.fc2.register_forward_hook(lambda *args: calls.append(1))
    only = layerwise_analysis(model, x, layers=["relu"], metric="euclidean", batch_size=7)
    assert only.names == ["relu", "relu@1"] and len(calls) == 2
    assert torch.allclose(only.rdms["relu@1"].double(), rdm(acts["relu@1"], "euclidean"), atol=1e-9)
