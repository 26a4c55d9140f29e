"""A study's claims, checked against a run's metrics: the rows of ``verdict.json``.

An experiment declares what its source study found as :class:`Claim` objects (``claims(config) -> list[Claim]`` in the
experiment module, so a claim can follow the config or say that it does not apply), and the runner turns them into
verdicts computed from the run's metrics — never written by hand:

    Claim("model 1 follows r = 1/sqrt(1 + (0.05k)^2) at k = 19", source="Guest & Love 2017, Fig. 2A",
          metric="r_level19_model1", expected=0.725, tolerance=0.02)
    Claim("deep random nets lose smoothness", source="...", metric="r_level19_model11", expected=(0.0, 0.1))

``expected`` is a value (reproduces when |ours − expected| ≤ tolerance) or a closed range (lo, hi) (reproduces when
lo − tolerance ≤ ours ≤ hi + tolerance). ``metric`` names a metric, or is a function of the metrics dict for a derived
number (a difference, a ratio). ``applies=False`` (or a reason string) marks a claim that this config does not test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

VERDICTS = ("reproduces", "differs", "not tested at this scale")

__all__ = ["VERDICTS", "Claim", "evaluate", "judge"]


@dataclass(frozen=True)
class Claim:
    claim: str
    source: str
    metric: str | Callable[[Mapping[str, float]], float]
    expected: float | tuple[float, float]
    tolerance: float = 0.0
    applies: bool | str = True
    label: str | None = None  # how `ours` is named on the page (default: the metric's name)

    def __post_init__(self):
        if isinstance(self.expected, tuple):
            lo, hi = self.expected
            if not lo <= hi:
                raise ValueError(f"claim {self.claim!r}: expected range ({lo}, {hi}) is empty")
        if not self.tolerance >= 0:
            raise ValueError(f"claim {self.claim!r}: tolerance must be ≥ 0, got {self.tolerance}")

    @property
    def metric_name(self) -> str:
        if self.label is not None:
            return self.label
        return self.metric if isinstance(self.metric, str) else getattr(self.metric, "__name__", "derived")

    def ours(self, metrics: Mapping[str, Any]) -> float | None:
        try:
            value = metrics[self.metric] if isinstance(self.metric, str) else self.metric(metrics)
        except (KeyError, TypeError, ZeroDivisionError):
            return None
        if value is None:
            return None
        value = float(value)
        return value if math.isfinite(value) else None


def judge(ours: float | None, expected: float | tuple[float, float], tolerance: float) -> str:
    """The verdict for one number: `reproduces`, `differs`, or `not tested at this scale` when there is no number."""
    if ours is None:
        return "not tested at this scale"
    if isinstance(expected, tuple):
        lo, hi = expected
        ok = lo - tolerance <= ours <= hi + tolerance
    else:
        ok = abs(ours - expected) <= tolerance
    return "reproduces" if ok else "differs"


def evaluate(claims: list[Claim], metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of verdict.json: {claim, source, metric, expected, ours, tolerance, verdict[, note]}."""
    rows = []
    for c in claims:
        expected = list(c.expected) if isinstance(c.expected, tuple) else c.expected
        row = {"claim": c.claim, "source": c.source, "metric": c.metric_name, "expected": expected,
               "tolerance": c.tolerance}
        if c.applies is not True:
            row.update(ours=None, verdict="not tested at this scale",
                       note=c.applies if isinstance(c.applies, str) else "does not apply to this config")
        else:
            ours = c.ours(metrics)
            row.update(ours=ours, verdict=judge(ours, c.expected, c.tolerance))
            if ours is None:
                row["note"] = f"the run has no finite value for {c.metric_name}"
        rows.append(row)
    return rows
