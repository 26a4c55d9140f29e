"""Layer-wise RDMs within a memory budget equal the all-in-memory computation (issue 3, library)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from priorlab.probe import capture, cka, layerwise_analysis, layerwise_cka, rdm
from priorlab.probe.layerwise import _Sums, plan_passes
from priorlab.probe.rdm import from_gram

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


class ItemMean(nn.Module):
    """An output that is not one row per item: the mean over the items."""

    def forward(self, x):
        return x.mean(0)


def test_outputs_that_are_not_batch_first_are_skipped_with_a_warning():
    model = nn.Sequential(nn.Linear(3, 4), ItemMean())
    x = torch.randn(6, 3)
    with pytest.warns(UserWarning, match=r"1 \(shape \[4\] for 6 items\)"):
        res = layerwise_analysis(model, x)
    assert res.names == ["0"]
    assert torch.allclose(res.rdms["0"], rdm(capture(model, x)["0"]), atol=1e-6)


def test_budget_too_small_for_one_feature_is_an_error():
    model, x = model_and_inputs(torch.float32)
    with pytest.raises(ValueError, match="memory_budget"):
        layerwise_analysis(model, x, memory_budget=10)


class Seq(nn.Module):
    def __init__(self, cell=nn.LSTM):
        super().__init__()
        self.rnn = cell(4, 6, num_layers=2, batch_first=True)

    def forward(self, x):
        return self.rnn(x)


def test_recurrent_states_are_split_by_layer_and_never_flattened_across_items():
    """h_n and c_n of a 2-layer LSTM are [2, N, H]: one [N, H] entry per layer, not one [2, N·H] row."""
    torch.manual_seed(0)
    model, x = Seq().double().eval(), torch.randn(7, 5, 4, dtype=torch.float64)
    res = layerwise_analysis(model, x, layers=["rnn"], metric="euclidean")
    assert res.names == ["rnn.0", "rnn.h_n.0", "rnn.h_n.1", "rnn.c_n.0", "rnn.c_n.1"]
    with torch.no_grad():
        out, (h, c) = model.rnn(x)
    assert res.features == {"rnn.0": 5 * 6, "rnn.h_n.0": 6, "rnn.h_n.1": 6, "rnn.c_n.0": 6, "rnn.c_n.1": 6}
    assert torch.allclose(res.rdms["rnn.h_n.0"], rdm(h[0], "euclidean"), atol=1e-9)
    assert torch.allclose(res.rdms["rnn.c_n.1"], rdm(c[1], "euclidean"), atol=1e-9)
    assert torch.allclose(res.rdms["rnn.0"], rdm(out, "euclidean"), atol=1e-9)


@pytest.mark.parametrize("cell", [nn.GRU, nn.LSTM])
def test_per_time_step_rdms_and_the_last_state_as_an_alias(cell):
    torch.manual_seed(0)
    model, x = Seq(cell).double().eval(), torch.randn(9, 5, 4, dtype=torch.float64)
    with torch.no_grad():
        out, state = model.rnn(x)
    h = state[0] if cell is nn.LSTM else state
    res = layerwise_analysis(model, x, timesteps="all", batch_size=4)
    steps = [f"rnn.0@t{t}" for t in range(5)]
    states = ["rnn.h_n.0"] + (["rnn.c_n.0", "rnn.c_n.1"] if cell is nn.LSTM else [])
    assert res.names == steps + states
    assert res.aliases == {"rnn.h_n.1": "rnn.0@t4"}  # the top layer's final state is the last step's output
    for t in range(5):
        assert torch.allclose(res.rdms[f"rnn.0@t{t}"], rdm(out[:, t]), atol=1e-9)
    assert torch.allclose(res.rdms["rnn.h_n.0"], rdm(h[0]), atol=1e-9)
    picked = layerwise_analysis(model, x, timesteps=[0, -2], skip_aliases=False)
    assert picked.names[:2] == ["rnn.0@t0", "rnn.0@t3"] and "rnn.h_n.1" in picked.names
    with pytest.raises(ValueError, match="timesteps: step 7"):
        layerwise_analysis(model, x, timesteps=[7])


def test_aliases_are_skipped_and_listed():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Identity(), nn.Linear(6, 5), nn.Flatten(), nn.Dropout(0.5), nn.ReLU(), nn.Flatten(), nn.Linear(5, 3)
    ).eval()
    x = torch.randn(12, 6)
    res = layerwise_analysis(model, x)
    assert res.names == ["1", "4", "6"]
    assert res.aliases == {"0": "input", "2": "1", "3": "1", "5": "4"}
    kept = layerwise_analysis(model, x, skip_aliases=False)
    assert kept.names == [str(i) for i in range(7)] and kept.aliases == {}


def test_one_layer_per_transformer_encoder_block():
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(4, 16)
            block = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(block, 3, norm=nn.LayerNorm(16), enable_nested_tensor=False)
            self.head = nn.Linear(16, 2)

        def forward(self, x):
            return self.head(self.encoder(self.embed(x))[:, 0])

    torch.manual_seed(0)
    model, x = Encoder().double().eval(), torch.randn(10, 5, 4, dtype=torch.float64)
    res = layerwise_analysis(model, x)
    blocks = ["encoder.layers.0", "encoder.layers.1", "encoder.layers.2"]
    assert res.names == ["embed", *blocks, "encoder.norm", "head"]
    acts = capture(model, x)
    for name in res.names:
        assert torch.allclose(res.rdms[name], rdm(acts[name]), atol=1e-9), name


def test_measures_from_grams_equal_the_measures_on_activations():
    from priorlab.probe import layerwise_similarity, paired_pwcca, paired_similarity, similarity

    model, x = model_and_inputs(torch.float32)
    acts = capture(model, x, flatten=True)
    names = list(acts)
    res = layerwise_analysis(model, x, measures=["procrustes", "cca", "svcca", "shape"], memory_budget=37 * 4 * 200)
    assert res.grams is None and set(res.similarity) == {"procrustes", "cca", "svcca", "shape"}
    for measure, matrix in res.similarity.items():
        assert matrix.shape == (len(names), len(names))
        for i, j in ((0, 2), (2, 5), (6, 3)):
            want = similarity(acts[names[i]].double(), acts[names[j]].double(), measure)
            assert matrix[i, j].item() == pytest.approx(want, abs=1e-6), (measure, i, j)
    # two networks layer by layer
    other = SmallNet().eval()
    a = layerwise_analysis(model, x, keep_grams=True, gram_dtype=torch.float64)
    b = layerwise_analysis(other, x, keep_grams=True, gram_dtype=torch.float64)
    theirs = capture(other, x, flatten=True)
    shape = paired_similarity(a, b, "shape", alpha=0.5)
    assert list(shape) == names
    for name in names[:3]:
        want = similarity(acts[name].double(), theirs[name].double(), "shape", alpha=0.5)
        assert shape[name] == pytest.approx(want, abs=1e-6)
    assert torch.allclose(layerwise_similarity(a, b, "cka"), layerwise_cka(a, b))
    # pwcca weighs the units: one more pass over the first network, in several passes of a small budget
    pw = paired_pwcca(model, x, a, b, memory_budget=37 * 4 * 50, batch_size=8)
    for name in names:
        assert pw[name] == pytest.approx(similarity(acts[name].double(), theirs[name].double(), "pwcca"), abs=1e-6)
    with pytest.raises(ValueError, match="pwcca"):
        layerwise_analysis(model, x, measures=["pwcca"])
    with pytest.raises(ValueError, match="unknown 'foo'"):
        layerwise_analysis(model, x, measures=["foo"])


def test_fewer_than_three_items_is_an_error():
    model, x = model_and_inputs(torch.float32)
    with pytest.raises(ValueError, match="at least 3 items, got 2"):
        layerwise_analysis(model, x[:2])


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


class Wide(nn.Module):
    """Wide layers (16 384 features per item) with large mean offsets: float32 products must keep their precision."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.shift = nn.Identity()
        self.act = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(16 * 16 * 16, 300)

    def forward(self, x):
        h = self.conv(x)
        h = self.shift(h + 40.0)  # an offset 40× the spread across items
        h = self.pool(self.act(h - 39.5))
        return self.fc(h.flatten(1))


def _wide(n=40):
    torch.manual_seed(3)
    return Wide().eval(), torch.randn(n, 3, 32, 32)


@pytest.mark.parametrize("metric", METRICS)
def test_float32_products_match_the_float64_path(metric):
    """The default float32 Gram products (on column-centred data) against the float64 path: RDMs within 1e-5 (of
    their largest entry for the unnormalised Euclidean ones), column-centred Grams within 1e-5 of their largest
    entry; and the float64 path against the float64 Grams of the same (float32) activations."""
    model, x = _wide()
    fast = layerwise_analysis(model, x, metric=metric, keep_grams=True, batch_size=16)
    slow = layerwise_analysis(model, x, metric=metric, keep_grams=True, batch_size=16, gram_dtype=torch.float64)
    acts = {name: a.double() for name, a in capture(model, x, flatten=True).items()}
    assert fast.names == slow.names == ["conv", "shift", "act", "pool", "fc"]
    for name in fast.names:
        assert fast.gram_eps[name] == torch.finfo(torch.float32).eps
        want = rdm(acts[name], metric)
        scale = max(1.0, want.abs().max().item())
        assert (slow.rdms[name].double() - want).abs().max().item() <= 1e-6 * scale, name  # stored as float32
        err = (fast.rdms[name].double() - slow.rdms[name].double()).abs().max().item()
        assert err <= 1e-5 * scale, (name, err)
        c = acts[name] - acts[name].mean(0)
        gram = c @ c.T
        scale = gram.abs().max().item()
        assert (slow.grams[name] - gram).abs().max().item() <= 1e-12 * scale, name
        assert (fast.grams[name].double() - gram).abs().max().item() <= 1e-5 * scale, name


@pytest.mark.parametrize("metric", METRICS)
def test_sums_over_many_column_chunks_and_row_blocks(metric):
    """Column chunks (here of 64 columns) and row blocks add up to the Gram of the whole float64 matrix."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(30, 1000, generator=g) * torch.rand(1000, generator=g) * 3 + torch.randn(1000, generator=g) * 20
    sums = _Sums.zeros(30, torch.device("cpu"))
    sums.add([(0, x[:12]), (12, x[12:25]), (25, x[25:])], torch.device("cpu"), block_bytes=30 * 4 * 64)
    assert sums.d == 1000
    got = from_gram(sums.prepared_gram(metric), metric, 1000)
    assert (got.double() - rdm(x.double(), metric)).abs().max().item() <= 1e-5
    c = x.double() - x.double().mean(0)
    assert (sums.centered_gram() - c @ c.T).abs().max().item() <= 1e-5 * (c @ c.T).abs().max().item()


def _forward_calls(model):
    calls = []
    model.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    return calls


def test_one_pass_when_the_budget_holds_every_layer(caplog):
    model, x = model_and_inputs(torch.float32)
    calls = _forward_calls(model)
    with caplog.at_level("INFO", logger="priorlab.probe.layerwise"):
        res = layerwise_analysis(model, x, batch_size=10)
    # two small probes (2 and 8 items), then each of the 37 items exactly once
    assert calls[:2] == [2, 8] and sorted(calls[2:]) == [7, 10, 10, 10]
    assert res.passes == 1 and res.passes_reason.startswith(f"1 pass: {len(res.names)} outputs × 37 items")
    assert "fit in the memory budget (4 GiB)" in res.passes_reason
    assert res.passes_reason in caplog.text


def test_passes_and_why_when_the_budget_is_small():
    model, x = model_and_inputs(torch.float32)
    calls = _forward_calls(model)
    budget = 37 * 4 * 300  # 300 float32 features of 37 items; conv (6·10·10 = 600) is split by columns
    res = layerwise_analysis(model, x, batch_size=10, memory_budget=budget)
    sizes = {name: (res.features[name], torch.float32) for name in res.names}
    assert res.passes == len(plan_passes(sizes, 37, budget)) > 1
    assert sum(calls[2:]) == 37 * res.passes  # every pass sees every item once
    assert res.passes_reason.startswith(f"{res.passes} passes: {len(res.names)} outputs × 37 items")
    assert "more than the memory budget" in res.passes_reason and "split across passes by columns: " in res.passes_reason
    one = layerwise_analysis(model, x, batch_size=10)
    for name in res.names:
        assert (res.rdms[name] - one.rdms[name]).abs().max() < 1e-5, name


class Reused(nn.Module):
    """Returns the same tensor every call, overwritten in place: holding the outputs of earlier batches by reference
    would see only the last batch's values."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 8)
        self.out = None

    def forward(self, x):
        y = self.lin(x)
        if self.out is None or self.out.shape != y.shape:
            self.out = torch.empty_like(y)
        return self.out.copy_(y)


def test_outputs_changed_after_their_hook_are_copied():
    torch.manual_seed(0)
    model = nn.Sequential(Reused(), nn.Tanh(), nn.Linear(8, 5), nn.ReLU(inplace=True)).eval()
    x = torch.randn(24, 6)
    res = layerwise_analysis(model, x, batch_size=8, metric="euclidean")
    acts = capture(model, x, batch_size=8)
    for name in ["0", "1", "2", "3"]:
        assert torch.allclose(res.rdms[name], rdm(acts[name], "euclidean"), atol=1e-5), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_model_and_grams_match_the_cpu():
    model, x = _wide()
    cpu = layerwise_analysis(model, x, gram_device="cpu", keep_grams=True)
    gpu = layerwise_analysis(model.cuda(), x.cuda(), keep_grams=True)
    for name in cpu.names:
        assert (gpu.rdms[name] - cpu.rdms[name]).abs().max().item() <= 1e-5, name
        scale = cpu.grams[name].abs().max().item()
        assert (gpu.grams[name] - cpu.grams[name]).abs().max().item() <= 1e-5 * scale, name
