"""Every case of the hostile-input run (issue 17) that gave a traceback, exhausted the machine or a wrong answer:
each is now exit 2 with one line (nothing written), a bounded refusal, or NaN. Named after the case."""

from __future__ import annotations

import gzip
import json
import math
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from priorlab.errors import UserError
from priorlab.store import Store


def _refused(r, *needles):
    """exit 2, exactly one line on stderr, no traceback, and each needle in it."""
    assert r.code == 2, (r.code, r.out, r.err)
    assert len(r.err.strip().splitlines()) == 1, r.err[:2000]
    assert "Traceback" not in r.err + r.out
    for n in needles:
        assert n in r.err, r.err
    return r.err


def _nothing_written(home: Path):
    assert not home.exists() or not any(home.iterdir()), sorted(p.name for p in home.iterdir())


# --- preset given a list or a mapping -------------------------------------------------------------
def test_preset_given_a_list_via_set(cli, home):
    _refused(cli(["run", "fit1d", "--set", "preset=[a,b]"]), "'preset'")
    _nothing_written(home)


def test_preset_given_a_mapping_via_set(cli, home):
    _refused(cli(["run", "fit1d", "--set", "preset={a: 1}"]), "'preset'")


def test_preset_given_a_list_in_yaml(cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("preset: [blog]\n")
    _refused(cli(["run", "fit1d", "--config", cfg]), "'preset'")


def test_preset_as_a_sweep_grid_of_lists(cli, home):
    _refused(cli(["sweep", "fit1d", "--grid", "preset=[blog],[x]", "--quiet"]), "'preset'")
    assert Store(home).sweeps() == []


# --- expressions: length and depth caps -----------------------------------------------------------
@pytest.mark.parametrize("expr", ["+".join(["x"] * 1000), "-" * 100_000 + "x", "x+" * 500_000 + "x",
                                  "(" * 5000 + "x" + ")" * 5000], ids=["1000_chained_terms", "100000_unary_minus",
                                                                     "1mb_expression", "5000_parentheses"])
def test_expression_caps(cli, home, expr):
    err = _refused(cli(["run", "fit1d", "--set", f"target={expr}"]), "'target'")
    assert len(err) < 400  # the value is truncated in the message
    _nothing_written(home)


def test_expression_within_the_caps_still_works():
    import torch

    from priorlab.data.functions import parse_expression

    f = parse_expression("+".join(["sin(x)"] * 50))
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    assert torch.allclose(f(x), 50 * torch.sin(x))


# --- a damaged index breaks no command with a traceback -------------------------------------------
def _damage(home: Path, how: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    idx = home / "index.sqlite"
    if how == "garbage_bytes":
        idx.write_bytes(b"this is not a database" * 100)
    elif how == "directory":
        idx.mkdir()
    elif how == "foreign_schema":
        con = sqlite3.connect(idx)
        con.execute("CREATE TABLE runs (name TEXT, value REAL)")
        con.execute("CREATE TABLE sweeps (x TEXT)")
        con.commit()
        con.close()
    elif how == "bad_config_json_row":
        store = Store(home)
        store.begin("r1", "fit1d", home / "fit1d" / ".partial-r1", {}, 0)
        con = sqlite3.connect(idx)
        con.execute("UPDATE runs SET config='{not json' WHERE id='r1'")
        con.commit()
        con.close()


@pytest.mark.parametrize("how", ["garbage_bytes", "directory", "foreign_schema", "bad_config_json_row"])
@pytest.mark.parametrize("cmd", [["runs"], ["show", "r1"], ["report"], ["sweeps"], ["sweep", "--resume", "sw-1"],
                                 ["run", "fit1d", "--set", "steps=1", "--quiet"]], ids=lambda c: c[0])
def test_damaged_index(cli, home, how, cmd):
    if how == "bad_config_json_row" and cmd[0] not in ("runs", "show", "report"):
        pytest.skip("this command does not read a run's config")
    _damage(home, how)
    err = _refused(cli(cmd), "index unreadable", "priorlab doctor")
    assert str(home / "index.sqlite") in err
    assert not list(home.glob("*/.partial-*"))


def test_report_when_the_runs_root_is_a_file(cli, home):
    home.parent.mkdir(parents=True, exist_ok=True)
    home.write_text("not a folder")
    for cmd in (["report"], ["runs"], ["sweeps"], ["show", "x"]):
        _refused(cli(cmd), "not a folder")


def _fake_run(home: Path, run_id: str = "20260101-000000-abcdef", status: str = "done") -> Path:
    """A finished run folder and its index row, written through the store (no training)."""
    store = Store(home)
    folder = home / "fit1d" / run_id
    store.begin(run_id, "fit1d", home / "fit1d" / f".partial-{run_id}", {"seed": 0}, 0)
    folder.mkdir(parents=True)
    (folder / "env.json").write_text(json.dumps({"run_id": run_id, "experiment": "fit1d", "status": status}))
    (folder / "config.yaml").write_text("seed: 0\n")
    (folder / "metrics.json").write_text(json.dumps({"mse": 0.5}))
    store.finish(run_id, status, folder, {"mse": 0.5})
    return folder


@pytest.mark.parametrize("broken", ["env.json", "config.yaml"])
def test_show_dir_with_a_broken_file(cli, home, broken):
    folder = _fake_run(home)
    (folder / broken).write_text("{[: not json or yaml" if broken == "env.json" else "a: [unclosed\n")
    _refused(cli(["show", folder]), "not a run folder")
    _refused(cli(["show", "20260101-000000-abcdef"]), "not a run folder")


def test_show_id_of_a_deleted_folder(cli, home):
    import shutil

    folder = _fake_run(home)
    assert cli(["show", "20260101"]).code == 0
    shutil.rmtree(folder)
    _refused(cli(["show", "20260101"]), "missing", "priorlab doctor")


# --- --out that the machine refuses ----------------------------------------------------------------
def test_out_with_a_300_character_name(cli, home, tmp_path):
    _refused(cli(["run", "fit1d", "--set", "steps=1", "--quiet", "--out", tmp_path / ("a" * 300)]),
             "file name too long")
    _nothing_written(home)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"] or not any(tmp_path.iterdir()) or \
        all(p.name == "runs" for p in tmp_path.iterdir())


# --- exhaustion --------------------------------------------------------------------------------------
def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines)


def test_yaml_anchor_bomb_under_an_int_key(cli, home, tmp_path):
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(_bomb(9) + "\nhidden: *a8\n")
    t0 = time.process_time()
    err = _refused(cli(["run", "fit1d", "--config", cfg]), "too large")
    assert time.process_time() - t0 < 30  # bounded (the unbounded version took 83 s, then MemoryError)
    assert len(err) < 400
    _nothing_written(home)


def test_yaml_anchor_bomb_via_set_8_levels(cli, home):
    flow = "[" + ",".join(["1"] * 10) + "]"
    for _ in range(7):
        flow = "[" + ",".join([flow] * 2) + "]"
    bomb = "&a [1,1,1,1,1,1,1,1,1,1]"
    text = bomb
    for i in range(8):  # each level repeats the previous anchor 10 times
        text = f"[&l{i} {text}, " + ", ".join([f"*l{i}"] * 9) + "]"
    err = _refused(cli(["run", "fit1d", "--set", f"hidden={text}"]))
    assert len(err) < 1200  # was a 254 MB line


def test_error_messages_truncate_values_to_200_characters(cli, home):
    err = _refused(cli(["run", "fit1d", "--set", "activation=" + "z" * 100_000]), "'activation'")
    assert len(err) < 600


def test_sweep_seeds_0_to_99999999999(cli, home):
    t0 = time.process_time()
    _refused(cli(["sweep", "fit1d", "--seeds", "0-99999999999", "--quiet"]), "--seeds", "--max-trials")
    assert time.process_time() - t0 < 10
    _nothing_written(home)


def test_sweep_of_a_million_trials_is_refused_before_planning(cli, home):
    grid = ",".join(str(i) for i in range(1, 1001))
    t0 = time.process_time()
    _refused(cli(["sweep", "fit1d", "--grid", f"hidden={grid}", "--grid", f"n_samples={grid}", "--quiet"]),
             "100,000 trials", "--max-trials")
    assert time.process_time() - t0 < 10
    _nothing_written(home)


def test_max_trials_caps_and_raises(cli, home):
    from priorlab.sweep.plan import check_size

    _refused(cli(["sweep", "fit1d", "--grid", "hidden=1,2,3", "--seeds", "0-1", "--max-trials", "5", "--quiet"]),
             "more than 5 trials")
    _refused(cli(["sweep", "fit1d", "--seeds", "0-9", "--max-trials", "5", "--quiet"]), "more than 5 seeds")
    assert check_size({"hidden": [1, 2, 3]}, [0, 1], max_trials=6) == 6
    with pytest.raises(UserError):
        check_size({"a": list(range(1000)), "b": list(range(1000))}, None)  # 10^6 > 100,000
    _refused(cli(["sweep", "fit1d", "--seeds", "0-1", "--max-trials", "0", "--quiet"]), "--max-trials")


def test_mnist_gz_bomb_is_not_inflated(tmp_path):
    from priorlab.data.mnist import read_idx

    # header: a 10 x 10 uint8 array; the stream then holds 200 MB of zeros (a 200 kB .gz)
    header = bytes([0, 0, 0x08, 2]) + np.asarray([10, 10], dtype=">u4").tobytes()
    p = tmp_path / "bomb-idx1-ubyte.gz"
    with gzip.open(p, "wb", compresslevel=9) as fh:
        fh.write(header)
        chunk = bytes(1 << 20)
        for _ in range(200):
            fh.write(chunk)
    assert p.stat().st_size < 1_000_000
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(UserError, match="longer than its header says"):
        read_idx(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20_000_000  # the whole stream was never held (it is 200 MB)


def test_mnist_header_declaring_gigabytes_is_refused(tmp_path):
    from priorlab.data.mnist import read_idx

    p = tmp_path / "big-idx3-ubyte"
    p.write_bytes(bytes([0, 0, 0x08, 3]) + np.asarray([60000, 4096, 4096], dtype=">u4").tobytes() + bytes(100))
    with pytest.raises(UserError, match="declares shape"):
        read_idx(p)


# --- wrong answers without an error ------------------------------------------------------------------
def test_spearman_with_nan_is_nan_not_a_rank():
    from scipy.stats import spearmanr

    from priorlab.probe import compare

    a, b = np.array([1.0, np.nan, 2.0]), np.array([1.0, 2.0, 3.0])
    assert math.isnan(spearmanr(a, b).statistic)  # the peer propagates NaN
    for method in ("spearman", "pearson", "kendall_a", "cosine"):
        with pytest.warns(RuntimeWarning, match="1 of 3 dissimilarities are NaN"):
            assert math.isnan(compare(a, b, method))


def test_constant_rows_give_nan_compare_with_a_warning():
    import torch

    from priorlab.probe import compare, rdm

    x = torch.randn(5, 4, dtype=torch.float64)
    x[2] = 1.0  # a constant row: its correlation distances are undefined
    d = rdm(x, "correlation")
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert math.isnan(compare(d, rdm(torch.randn(5, 4, dtype=torch.float64))))


def test_a_run_with_nan_metrics_is_failed_not_done(home, monkeypatch):
    import priorlab.experiments.fit1d as fit1d
    from priorlab.runner import run

    monkeypatch.delattr(fit1d, "draw")  # the fake run saves no arrays to draw from
    monkeypatch.setattr(fit1d, "run", lambda config, ctx: {"rdm_vs_input_reference_mean": float("nan"),
                                                           "mse": 0.1, "mse_ci_low": float("nan")})
    r = run("fit1d", root=home, device="cpu")
    assert r.status == "failed: NaN in rdm_vs_input_reference_mean"
    assert r.path.name.startswith(".failed-")
    assert Store(home).runs()[0]["status"] == r.status


def test_a_run_with_a_nan_rdm_array_is_failed(home, monkeypatch):
    import priorlab.experiments.fit1d as fit1d
    from priorlab.runner import run

    def fake(config, ctx):
        ctx.save_arrays(rdm_layer1=np.full((3, 3), np.nan))
        return {"mse": 0.1}

    monkeypatch.delattr(fit1d, "draw")  # the fake run saves no arrays to draw from
    monkeypatch.setattr(fit1d, "run", fake)
    assert run("fit1d", root=home, device="cpu").status == "failed: NaN in array rdm_layer1"


@pytest.mark.parametrize("limit", ["-1", "0"])
def test_runs_limit_minus_one_and_zero(cli, home, limit):
    _fake_run(home)
    _refused(cli(["runs", "--limit", limit]), "--limit")


def test_runs_limit_keeps_the_newest(cli, home):
    _fake_run(home, "20260101-000000-aaaaaa")
    _fake_run(home, "20260101-000001-bbbbbb")
    r = cli(["runs", "--limit", "1"])
    assert r.code == 0 and "bbbbbb" in r.out and "aaaaaa" not in r.out


@pytest.mark.parametrize("value", ["true", "false", "[3, true]"])
def test_hidden_true_does_not_become_1(cli, home, value):
    _refused(cli(["run", "fit1d", "--set", f"hidden={value}"]), "'hidden'", "true/false")


def test_bool_keys_still_take_true(cli, home):
    from priorlab.experiments.fit1d import Config
    from priorlab.runner import prepare

    bools = [k for k, f in Config.model_fields.items() if f.annotation is bool]
    if bools:
        prepare("fit1d", {bools[0]: True})


def test_priorlab_home_empty_is_refused(cli, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRIORLAB_HOME", "")
    for cmd in (["runs"], ["run", "fit1d", "--set", "steps=1"], ["sweeps"], ["doctor"]):
        _refused(cli(cmd), "PRIORLAB_HOME")
    assert not any(tmp_path.iterdir())


# --- bad data files -------------------------------------------------------------------------------
def test_zero_byte_png(tmp_path):
    from priorlab.data.images import read_image

    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(UserError, match="cannot read image"):
        read_image(tmp_path / "x.png")


def test_too_few_images_per_class(tmp_path):
    from PIL import Image

    from priorlab.data.images import image_split

    for cls, n in (("a", 3), ("b", 1)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / cls / f"{i}.png")
    with pytest.raises(UserError, match="class 'b' has 1"):
        image_split(tmp_path, 8)


def test_idx_dims_overflowing_to_zero(tmp_path):
    from priorlab.data.mnist import read_idx

    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(bytes([0, 0, 0x08, 4]) + np.asarray([65536] * 4, dtype=">u4").tobytes())
    assert int(np.prod(np.asarray([65536] * 4), dtype=np.int64)) == 0  # the old arithmetic wrapped to 0
    with pytest.raises(UserError, match="declares shape"):
        read_idx(p)


def test_idx_ndim_255(tmp_path):
    from priorlab.data.mnist import read_idx

    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(bytes([0, 0, 0x08, 255]) + bytes(4 * 255))
    with pytest.raises(UserError, match="255 dimensions"):
        read_idx(p)


def test_bad_mnist_folder_through_the_cli_is_exit_2_and_leaves_nothing(cli, home, tmp_path):
    from priorlab.data.mnist import FILES

    for stem in FILES.values():
        (tmp_path / stem).write_bytes(bytes([0, 0, 0x08, 255]))
    _refused(cli(["run", "locality", "--set", f"data=mnist:{tmp_path}", "--quiet", "--device", "cpu"]))
    _nothing_written(home)


# --- trusted code that exits; late-validated input ---------------------------------------------------
def test_systemexit_from_a_module_factory(cli, home):
    _refused(cli(["run", "compare", "--set", "model=module:sys:exit", "--quiet", "--device", "cpu"]), "exit")
    _nothing_written(home)


def test_late_validated_bad_input_leaves_no_index_and_no_empty_folder(home, monkeypatch, cli):
    import priorlab.experiments.fit1d as fit1d

    def late(config, ctx):
        raise UserError("the data file is unreadable")

    monkeypatch.setattr(fit1d, "run", late)
    _refused(cli(["run", "fit1d", "--quiet", "--device", "cpu"]), "unreadable")
    _nothing_written(home)


def test_late_validated_bad_input_keeps_an_existing_index(home, monkeypatch, cli):
    import priorlab.experiments.fit1d as fit1d

    _fake_run(home)
    monkeypatch.setattr(fit1d, "run", lambda c, x: (_ for _ in ()).throw(UserError("late")))
    _refused(cli(["run", "fit1d", "--quiet", "--device", "cpu"]), "late")
    assert [r["id"] for r in Store(home).runs()] == ["20260101-000000-abcdef"]
    assert sorted(p.name for p in (home / "fit1d").iterdir()) == ["20260101-000000-abcdef"]


def test_out_filled_during_the_run_is_a_failed_run_not_a_traceback(home, monkeypatch, tmp_path):
    import priorlab.experiments.fit1d as fit1d
    from priorlab.runner import run

    out = tmp_path / "out"

    def work(config, ctx):
        out.mkdir(exist_ok=True)
        (out / "intruder.txt").write_text("x")
        return {"mse": 0.1}

    monkeypatch.delattr(fit1d, "draw")  # the fake run saves no arrays to draw from
    monkeypatch.setattr(fit1d, "run", work)
    r = run("fit1d", root=home, out=out, device="cpu")
    assert r.status.startswith("failed: --out") and "no longer empty" in r.status
    assert (out / "intruder.txt").exists() and r.path.name.startswith(".failed-")
    assert not list(tmp_path.glob(".partial-*"))


# --- Python API -------------------------------------------------------------------------------------
@pytest.mark.parametrize("broken", ["env.json", "config.yaml", "metrics.json"])
def test_load_run_errors_are_user_errors(home, broken):
    from priorlab.runner import load_run

    folder = _fake_run(home)
    (folder / broken).write_text("{[: broken")
    with pytest.raises(UserError):
        load_run(folder)


@pytest.mark.parametrize("kw", [{"gain": math.inf}, {"gain": math.nan}, {"bias_std": math.nan},
                                {"bias_std": -1.0}, {"seed": 2**70}, {"seed": -1}, {"gain": True}],
                         ids=["gain_inf", "gain_nan", "bias_std_nan", "bias_std_negative", "seed_2_70",
                              "seed_negative", "gain_bool"])
def test_randomize_validates(kw):
    from torch import nn

    import priorlab

    with pytest.raises(ValueError):
        priorlab.randomize(nn.Linear(2, 3), init="normal", **kw)


@pytest.mark.parametrize("init", ["torch-default", "normal", "fan-in", "xavier", "kaiming", "orthogonal"])
def test_randomize_zero_size_layer(init):
    import warnings

    import torch
    from torch import nn

    import priorlab

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's own "zero-element tensors" warning
        m = nn.Sequential(nn.Linear(0, 3), nn.Linear(3, 2))
    priorlab.randomize(m, init=init, seed=1)
    assert m[0].weight.shape == (3, 0) and torch.isfinite(m[1].weight).all() and torch.isfinite(m[0].bias).all()


def test_config_file_with_non_string_keys(cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({1: 2}))
    _refused(cli(["run", "fit1d", "--config", cfg]), "unknown config key '1'")


def test_nan_rule_every_metric_nan_fails_an_undefined_one_does_not():
    from priorlab.runner import _nan_in

    assert _nan_in({"acc": float("nan"), "mse": float("nan")}, {}) == "acc, mse"
    assert _nan_in({"acc": 0.9, "dead_fraction_failed": float("nan")}, {}) is None  # a mean over no failed seeds
    assert _nan_in({"acc": 0.9, "cka_layer1": float("nan")}, {}) == "cka_layer1"
    assert _nan_in({"acc": 0.9}, {"rdm_input": np.zeros((2, 2))}) is None
