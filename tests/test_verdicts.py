"""Every experiment's report answers its study's question (issue 12): QUESTION, KEY_FIGURE, setup(config), at least one
claim at the default config, and a test module that checks its run's verdict.json with the shared consistency check.

Cheap by design: nothing is run here (each experiment's own test runs it and calls the check); a failure lists every
experiment that lacks something, so one message says what is still missing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from priorlab.experiments import EXPERIMENTS, load
from priorlab.stats.claims import Claim

TESTS = Path(__file__).resolve().parent / "experiments"
CHECKS = {"assert_verdicts_consistent", "check_rows"}  # claimcheck's two entry points


def _missing(name: str) -> list[str]:
    """What experiment ``name`` lacks of the report framework (empty when complete)."""
    module, gaps = load(name), []
    question = getattr(module, "QUESTION", None)
    if not isinstance(question, str) or not question.strip():
        gaps.append("QUESTION")
    key = getattr(module, "KEY_FIGURE", None)
    if not isinstance(key, str) or not key:
        gaps.append("KEY_FIGURE")
    config = module.Config()
    setup = getattr(module, "setup", None)
    if not callable(setup) or not isinstance(setup(config), str) or not setup(config).strip():
        gaps.append("setup(config)")
    claims = getattr(module, "claims", None)
    found = claims(config) if callable(claims) else []
    if not found:
        gaps.append("claims(default config) with ≥ 1 claim")
    elif not all(isinstance(c, Claim) for c in found):
        gaps.append("claims(config) returning Claim objects")
    return gaps


def _calls_the_check(path: Path) -> bool:
    """Does the test module import claimcheck's consistency check and call it (under any alias)?"""
    tree = ast.parse(path.read_text())
    names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "claimcheck"
        for alias in node.names
        if alias.name in CHECKS
    }
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names
        for node in ast.walk(tree)
    )


def test_every_experiment_declares_question_key_figure_setup_and_claims():
    gaps = {name: _missing(name) for name in EXPERIMENTS}
    lacking = {name: g for name, g in gaps.items() if g}
    assert not lacking, "experiments lacking parts of the report framework: " + "; ".join(
        f"{name}: {', '.join(g)}" for name, g in lacking.items()
    )


def test_every_experiment_test_checks_its_verdicts():
    missing = [name for name in EXPERIMENTS if not (TESTS / f"test_{name}.py").exists()]
    unchecked = [
        name for name in EXPERIMENTS if name not in missing and not _calls_the_check(TESTS / f"test_{name}.py")
    ]
    assert not missing and not unchecked, (
        f"experiments without a test module: {missing or 'none'}; test modules that never call claimcheck's "
        f"assert_verdicts_consistent/check_rows: {unchecked or 'none'}"
    )


@pytest.mark.parametrize("source,expected", [
    ("from claimcheck import assert_verdicts_consistent\nassert_verdicts_consistent(p)", True),
    ("from claimcheck import check_rows as ok\nok(rows)", True),
    ("from claimcheck import assert_verdicts_consistent\n", False),  # imported, never called
    ("def assert_verdicts_consistent(p): pass\nassert_verdicts_consistent(p)", False),  # a local stand-in
])
def test_the_check_detector_itself(tmp_path, source, expected):
    path = tmp_path / "test_x.py"
    path.write_text(source)
    assert _calls_the_check(path) is expected
