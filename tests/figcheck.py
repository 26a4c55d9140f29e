"""Shared checks for the figure protocol (imported by tests): an experiment's ``draw`` redraws a finished run's
figures from its arrays.npz, the same files as the run drew itself; a run under ``figures="none"`` draws none."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from priorlab.config import build_config
from priorlab.context import RunContext
from priorlab.experiments import load
from priorlab.runner import key_figure, load_run


def redrawn_figures(run_dir, mode: str = "all") -> dict[str, int]:
    """``module.draw`` on the run's config and arrays.npz, into a scratch folder: {figure file name: size in bytes}."""
    run = load_run(run_dir)
    module = load(run.experiment)
    assert getattr(module, "draw", None) is not None, f"{run.experiment} has no draw(cfg, arrays, ctx)"
    cfg = build_config(module.Config, run.config)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = RunContext(folder=Path(tmp), seed=cfg.seed, device=torch.device("cpu"), quiet=True, figure_mode=mode,
                         key_figure=key_figure(module, cfg))
        module.draw(cfg, run.arrays(), ctx)
        return {f.name: f.stat().st_size for f in (Path(tmp) / "figures").iterdir()}


def assert_redraws(run_dir) -> set[str]:
    """The run (drawn with figures="all") has figures, and draw() from its arrays gives the same file names, each a
    non-empty image; under ``summary`` draw gives the key figure(s) only. Returns the names."""
    run = load_run(run_dir)
    own = {f.name for f in run.figures}
    assert own, "the run drew no figures"
    again = redrawn_figures(run_dir)
    assert set(again) == own, (sorted(own), sorted(again))
    assert all(size > 1000 for size in again.values()), again
    module = load(run.experiment)
    key = key_figure(module, build_config(module.Config, run.config))
    summary = redrawn_figures(run_dir, "summary")
    assert summary and all(Path(n).stem == key or Path(n).stem.startswith(f"{key}_") for n in summary), (key, summary)
    return own


def assert_no_figures(run_dir) -> None:
    """A run under figures="none": done, no figure files, but its arrays.npz holds what draw() needs."""
    run = load_run(run_dir)
    assert run.status == "done", run.status
    assert run.figures == [], run.figures
    assert redrawn_figures(run_dir), "draw() from the arrays of a figures='none' run drew nothing"
    assert isinstance(run.arrays(), dict) and all(isinstance(a, np.ndarray) for a in run.arrays().values())
