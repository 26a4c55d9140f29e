"""Claims become verdicts from the numbers: in tolerance reproduces, outside differs, missing is not tested."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from priorlab.stats.claims import Claim, evaluate, judge


def test_value_and_range_verdicts():
    claims = [
        Claim("a", "src", "x", expected=0.725, tolerance=0.02),
        Claim("b", "src", "y", expected=(0.0, 0.1)),
        Claim("c", "src", lambda m: m["x"] - m["y"], expected=(0.5, 1.0), label="x − y"),
        Claim("d", "src", "missing", expected=1.0),
        Claim("e", "src", "x", expected=1.0, applies="full scale only"),
    ]
    rows = evaluate(claims, {"x": 0.74, "y": 0.2})
    assert [r["verdict"] for r in rows] == [
        "reproduces", "differs", "reproduces", "not tested at this scale", "not tested at this scale"]
    assert rows[2]["metric"] == "x − y" and rows[2]["ours"] == pytest.approx(0.54)
    assert rows[4]["note"] == "full scale only" and rows[4]["ours"] is None
    assert rows[1]["expected"] == [0.0, 0.1]


def test_verdict_flips_when_the_number_moves():
    c = [Claim("a", "s", "x", expected=0.5, tolerance=0.1)]
    assert evaluate(c, {"x": 0.55})[0]["verdict"] == "reproduces"
    assert evaluate(c, {"x": 0.65})[0]["verdict"] == "differs"
    assert evaluate(c, {"x": float("nan")})[0]["verdict"] == "not tested at this scale"


@given(ours=st.floats(-10, 10), expected=st.floats(-10, 10), tol=st.floats(0, 5))
def test_judge_matches_its_definition(ours, expected, tol):
    v = judge(ours, expected, tol)
    assert (v == "reproduces") == (abs(ours - expected) <= tol)


def test_bad_claims_are_refused():
    with pytest.raises(ValueError, match="empty"):
        Claim("a", "s", "x", expected=(1.0, 0.0))
    with pytest.raises(ValueError, match="tolerance"):
        Claim("a", "s", "x", expected=1.0, tolerance=-1)
    with pytest.raises(ValueError, match="tolerance"):
        Claim("a", "s", "x", expected=1.0, tolerance=math.nan)
