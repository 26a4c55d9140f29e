"""Shared fixtures: an isolated runs root per test, and a CLI runner that captures exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

# Under pytest-xdist each worker gets one thread: two workers with two threads each on a 2-core machine
# oversubscribe the cores, and OpenMP's spinning makes small training loops many times slower.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh runs root ($PRIORLAB_HOME) for this test."""
    root = tmp_path / "runs"
    monkeypatch.setenv("PRIORLAB_HOME", str(root))
    return root


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(home, capsys):
    """Call the CLI in-process: cli(["run", "fit1d", ...]) -> CliResult."""
    from priorlab.cli import main

    def call(args: list[str]) -> CliResult:
        code = main([str(a) for a in args])
        cap = capsys.readouterr()
        return CliResult(code, cap.out, cap.err)

    return call


def run_subprocess(args: list[str], env_extra: dict | None = None, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "priorlab.cli", *args], capture_output=True, text=True, env=env, **kw)
