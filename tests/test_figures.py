"""The figure modes (`--figures all|summary|none`), figures drawn later from a run's arrays (`show RUN --figures`),
and the per-phase timing in env.json."""

from __future__ import annotations

import json
import re

import pytest

import priorlab
from conftest import run_subprocess
from figcheck import assert_no_figures, assert_redraws
from priorlab import runner
from priorlab.config import UserError

SMALL = ["--set", "steps=40", "--set", "frames=3", "--set", "hidden=3", "--set", "activation=cos"]


def _figure_names(path) -> set[str]:
    return {f.name for f in (path / "figures").iterdir()}


def _embedded(path) -> int:
    return len(re.findall(r"<img ", (path / "report.html").read_text()))


def test_figures_none_then_show_figures_draws_what_a_full_run_draws(home):
    full = priorlab.run("fit1d", steps=40, frames=3, hidden=3, activation="cos", seed=2)
    assert _figure_names(full.path) == {"fit.png", "contributions.png", "extrapolation.png", "loss.png",
                                        "training.gif"}
    res = run_subprocess(["run", "fit1d", *SMALL, "--seed", "2", "--figures", "none", "--quiet"],
                         env_extra={"PRIORLAB_HOME": str(home)})
    assert res.returncode == 0, res.stderr
    bare = runner.load_run(res.stdout.strip().split(": ", 1)[1])
    assert_no_figures(bare.path)
    assert bare.metrics == full.metrics  # the figure mode changes no number
    assert _embedded(bare.path) == 0
    tables = json.loads((bare.path / "page.json").read_text())["tables"]
    assert [t[0] for t in tables][-1] == "Networks"

    res = run_subprocess(["show", bare.id, "--figures"], env_extra={"PRIORLAB_HOME": str(home)})
    assert res.returncode == 0, res.stderr
    assert _figure_names(bare.path) == _figure_names(full.path)
    assert len(res.stdout.split()) == 5
    assert _embedded(bare.path) == _embedded(full.path) == 5  # four PNGs and the GIF, embedded
    assert "Networks" in (bare.path / "report.html").read_text()  # the page keeps its tables
    assert_redraws(full.path)


def test_figures_summary_keeps_the_key_figure_only(home):
    one = priorlab.run("fit1d", steps=20, frames=2, hidden=3, figures="summary")
    assert _figure_names(one.path) == {"fit.png"}
    many = priorlab.run("fit1d", preset="blog", steps=20, frames=2, figures="summary")
    assert _figure_names(many.path) == {"compare.png"}
    assert many.metrics == priorlab.run("fit1d", preset="blog", steps=20, frames=2, figures="none").metrics


@pytest.mark.parametrize("args, says", [
    (["run", "fit1d", "--figures", "some"], "invalid --figures 'some' (allowed: all, summary, none)"),
    (["sweep", "fit1d", "--seeds", "0-1", "--figures", "png"], "invalid --figures 'png'"),
    (["show", "nosuchrun", "--figures"], "no run"),
])
def test_bad_figure_requests_are_one_line_and_exit_2(home, args, says):
    res = run_subprocess(args, env_extra={"PRIORLAB_HOME": str(home)})
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert says in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not list(home.glob("fit1d/*")), "nothing may be written"


def test_show_figures_refuses_a_run_that_is_not_done(home):
    run = priorlab.run("fit1d", steps=20, frames=2, hidden=3, figures="none")
    env = json.loads((run.path / "env.json").read_text())
    env["status"] = "failed: interrupted"
    (run.path / "env.json").write_text(json.dumps(env))
    with pytest.raises(UserError, match="is not done"):
        runner.redraw(run.path)
    assert not list((run.path / "figures").iterdir())


def test_env_timing_phases_add_up_to_the_run(home):
    run = priorlab.run("fit1d", steps=200, frames=4, hidden=10, seed=1)
    t = run.env["timing"]
    assert set(t) >= {"train_s", "measure_s", "figures_s", "io_s", "total_s"} and "shared" not in t
    assert all(v >= 0 for k, v in t.items() if k.endswith("_s"))
    assert t["total_s"] == pytest.approx(sum(v for k, v in t.items() if k.endswith("_s") and k != "total_s"),
                                         abs=1e-3)
    assert t["total_s"] == pytest.approx(run.env["seconds"], rel=0.2)  # every phase counted, none twice
    assert t["figures_s"] > 0 and t["train_s"] > 0


def test_batched_trials_split_the_shared_training_evenly(home):
    seeds = [0, 1, 2]
    runs = runner.run_batch("fit1d", [{"steps": 50, "frames": 2, "hidden": 3, "seed": s} for s in seeds],
                            trial_keys=[f"seed={s}" for s in seeds], figures="none")
    timings = [r.env["timing"] for r in runs]
    assert all(t["shared"]["train_s"] == {"split_evenly_over": 3} for t in timings)
    assert len({t["train_s"] for t in timings}) == 1 and timings[0]["train_s"] > 0
    assert all(t.get("figures_s", 0) == 0 for t in timings) and all(r.figures == [] for r in runs)
    alone = priorlab.run("fit1d", steps=50, frames=2, hidden=3, seed=1, figures="none")
    assert runs[1].metrics == pytest.approx(alone.metrics, rel=1e-5)
