"""The README's experiment table is `priorlab list`, not a hand-kept copy that drifts."""

from __future__ import annotations

import re
from pathlib import Path

from priorlab.experiments import EXPERIMENTS

README = Path(__file__).resolve().parents[1] / "README.md"


def expected_block() -> str:
    rows = "\n".join(f"| `{name}` | {desc} |" for name, desc in EXPERIMENTS.items())
    return f"| experiment | what it shows |\n| --- | --- |\n{rows}"


def test_readme_lists_every_experiment():
    text = README.read_text()
    m = re.search(r"<!-- experiments:[^>]*-->\n(.*?)\n<!-- /experiments -->", text, re.S)
    assert m, "README.md has no <!-- experiments --> block"
    assert m.group(1) == expected_block(), "README experiment table is stale; replace it with:\n" + expected_block()
