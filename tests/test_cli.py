"""The command line: listing, help, errors (exit 2, one line, nothing written), and the run/show/report cycle."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import run_subprocess

FAST = ["--set", "steps=30", "--set", "frames=3", "--quiet"]


def test_list_names_fit1d(cli):
    r = cli(["list"])
    assert r.code == 0
    assert any(line.split()[0] == "fit1d" for line in r.out.splitlines())


def test_help_and_list_do_not_import_torch():
    code = (
        "import sys\n"
        "from priorlab.cli import main\n"
        "main(['--help']); main(['list'])\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Usage" in out and "fit1d" in out
    assert "TORCH False" in out


def test_run_help_lists_every_key_with_default_and_range(cli):
    from priorlab.experiments.fit1d import Config

    r = cli(["run", "fit1d", "--help"])
    assert r.code == 0
    for key in Config.model_fields:
        assert f"  {key} " in r.out, key
    assert "default 50" in r.out and "≥ 2" in r.out  # n_samples
    assert "blog" in r.out  # presets


BAD_INPUTS = [
    (["run", "nosuch"], "unknown experiment 'nosuch'"),
    (["run", "fit1d", "--set", "nokey=1"], "unknown config key 'nokey'"),
    (["run", "fit1d", "--set", "hidden=abc"], "'hidden'"),
    (["run", "fit1d", "--set", "hidden=0"], "'hidden'"),
    (["run", "fit1d", "--set", "hidden=99999"], "≤ 4096"),
    (["run", "fit1d", "--set", "activation=swish"], "'activation'"),
    (["run", "fit1d", "--set", "noise=-1"], "'noise'"),
    (["run", "fit1d", "--set", "hidden"], "key=value"),
    (["run", "fit1d", "--set", "preset=nosuch"], "unknown preset 'nosuch'"),
    (["run", "fit1d", "--set", "target=__import__('os')"], "'target'"),
    (["run", "fit1d", "--set", "target=y+1"], "unknown name 'y'"),
    (["run", "fit1d", "--set", "x_min=3", "--set", "x_max=1"], "x_max must be greater"),
    (["run", "fit1d", "--set", "networks=cos:0"], "'networks'"),
    (["run", "fit1d", "--config", "/nonexistent/cfg.yaml"], "cannot read config file"),
    (["run", "fit1d", "--device", "tpu"], "--device"),
    (["run", "fit1d", "--seed", "-1"], "--seed"),
    (["run", "fit1d", "--bogus"], "--bogus"),
    (["run", "fit1d", "--seed", "abc"], "'--seed'"),
    (["show", "nosuchrun"], "no run or sweep 'nosuchrun'"),
]


@pytest.mark.parametrize("args,needle", BAD_INPUTS, ids=[" ".join(a[1:3]) + f"-{i}" for i, (a, _) in enumerate(BAD_INPUTS)])
def test_bad_input_exit_2_one_line_nothing_written(cli, home, args, needle):
    r = cli(args)
    assert r.code == 2, r
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(lines) == 1, r.err
    assert lines[0].startswith("priorlab: error:")
    assert needle in lines[0]
    assert "Traceback" not in r.err
    runs = [p for p in home.rglob("*") if p.is_dir()] if home.exists() else []
    assert runs == []


def test_bad_config_files(cli, home, tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("hidden: [1, 2\n")
    not_map = tmp_path / "list.yaml"
    not_map.write_text("- 1\n- 2\n")
    bad_key = tmp_path / "key.yaml"
    bad_key.write_text("hidden: 3\nwidth: 4\n")
    for f, needle in [(bad_yaml, "not valid YAML"), (not_map, "mapping"), (bad_key, "unknown config key 'width'")]:
        r = cli(["run", "fit1d", "--config", f])
        assert r.code == 2 and needle in r.err and len(r.err.strip().splitlines()) == 1


def test_out_dir_not_empty(cli, tmp_path):
    out = tmp_path / "occupied"
    out.mkdir()
    (out / "x").write_text("x")
    r = cli(["run", "fit1d", "--out", out, *FAST])
    assert r.code == 2 and "not empty" in r.err


def test_config_file_and_set_precedence(cli, home, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("hidden: 4\nactivation: tanh\nsteps: 30\nframes: 3\n")
    r = cli(["run", "fit1d", "--config", cfg, "--set", "hidden=5", "--quiet", "--seed", "3"])
    assert r.code == 0, r.err
    from priorlab.store import Store

    (row,) = Store().runs()
    assert row["config"]["hidden"] == 5 and row["config"]["activation"] == "tanh" and row["seed"] == 3


def test_run_runs_show_report_cycle(cli, home):
    r = cli(["run", "fit1d", *FAST])
    assert r.code == 0, r.err
    assert r.out.strip().startswith("done: ")
    run_id = r.out.strip().rsplit("/", 1)[-1]
    r = cli(["runs"])
    assert r.code == 0 and run_id[:15] in r.out
    r = cli(["show", run_id, "--format", "json"])
    data = json.loads(r.out)
    assert data["env"]["status"] == "done" and set(data["metrics"]) >= {"train_mse", "interp_mse", "extrap_mse"}
    r = cli(["report"])
    assert r.code == 0
    index = home / "index.html"
    assert r.out.strip() == str(index.resolve())
    assert run_id in index.read_text()


def test_diverged_run_is_failed_and_kept_apart(cli, home):
    r = cli(["run", "fit1d", "--set", "optimizer=sgd", "--set", "lr=10", "--set", "activation=relu",
             "--set", "hidden=100", "--set", "steps=300", "--quiet"])
    assert r.code == 1
    assert "failed: diverged at step" in r.out
    from priorlab.store import Store

    (row,) = Store().runs()
    assert row["status"].startswith("failed: diverged at step ")
    folder = home / "fit1d"
    assert [p.name.startswith(".failed-") for p in folder.iterdir()] == [True]
    env = json.loads((next(folder.iterdir()) / "env.json").read_text())
    assert env["status"] == row["status"]


def test_module_entry_point_exit_code():
    p = run_subprocess(["run", "fit1d", "--set", "hidden=-3"])
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "'hidden'" in p.stderr
