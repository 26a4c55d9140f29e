"""Shared check for the experiments' verdict.json: every verdict follows from its own row (imported by tests)."""

from __future__ import annotations

import json

from priorlab.stats.claims import judge


def assert_verdicts_consistent(run_dir) -> list[dict]:
    """Each row: `reproduces` iff ours is within tolerance of expected, `differs` iff outside; returns the rows."""
    rows = json.loads((run_dir / "verdict.json").read_text())
    assert rows, "no claims"
    check_rows(rows)
    return rows


def check_rows(rows: list[dict]) -> None:
    """Every verdict follows from ours, expected and tolerance (reproduces within, differs outside)."""
    for row in rows:
        expected = tuple(row["expected"]) if isinstance(row["expected"], list) else row["expected"]
        assert row["verdict"] == judge(row["ours"], expected, row["tolerance"]), row


def verdict_of(rows: list[dict], metric: str) -> str:
    return next(r["verdict"] for r in rows if r["metric"] == metric)
