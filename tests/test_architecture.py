"""The layering contracts (pyproject.toml [tool.importlinter]) hold, and breaking one is caught."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [*LINT, "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree, env=env, capture_output=True, text=True, timeout=300,
    )


def test_contracts_kept():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "2 kept, 0 broken" in out.stdout


def test_forbidden_import_is_caught(tmp_path):
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    victim = tmp_path / "src" / "priorlab" / "probe" / "rdm.py"
    victim.write_text(victim.read_text() + "\nfrom priorlab.store import Store  # noqa: E402,F401\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "BROKEN" in out.stdout and "priorlab.probe.rdm -> priorlab.store" in out.stdout


def test_experiments_are_thin():
    """Experiments compose library pieces: no file over 350 lines, no function over 80 lines."""
    import ast

    too_long = []
    for path in sorted((ROOT / "src" / "priorlab" / "experiments").glob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 350:
            too_long.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    too_long.append(f"{path.name}:{node.name}: {n} lines")
    assert not too_long, too_long


def test_one_training_loop():
    """Experiments train one model through priorlab.train.loop.fit, not a hand-written optimizer loop."""
    import re

    offenders = []
    for path in sorted((ROOT / "src" / "priorlab" / "experiments").glob("*.py")):
        text = path.read_text()
        if re.search(r"\.backward\(\)|torch\.optim\.", text):
            offenders.append(path.name)
    assert not offenders, offenders
