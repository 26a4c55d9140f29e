"""The report page's study blocks are computed from verdict rows and metrics."""

from __future__ import annotations

import types

import matplotlib.pyplot as plt

from priorlab.context import RunContext
from priorlab.stats.claims import Claim, evaluate
from priorlab.viz.report import fmt_ours, image_size, verdict_summary, write_run_report


def _module(claims):
    m = types.SimpleNamespace(DESCRIPTION="d", QUESTION="Is it so?", CITATION="A study", FIGURES={"b": "cap b"},
                              KEY_FIGURE="b")
    m.setup = lambda cfg: f"{cfg['n']} networks"
    m.claims = claims
    return m


def test_summary_and_ci_follow_the_numbers():
    claims = [Claim("first", "s", "x", expected=1.0, tolerance=0.1), Claim("second", "s", "y", expected=(0, 1))]
    rows = evaluate(claims, {"x": 1.05, "y": 2.0})
    assert verdict_summary(rows) == "1 of 2 claims reproduce, 1 differ (second)."
    rows = evaluate(claims, {"x": 1.05, "y": 0.5})
    assert verdict_summary(rows) == "2 of 2 claims reproduce."
    assert fmt_ours(rows[0], {"x_ci_low": 0.9, "x_ci_high": 1.2}) == "1.05 [95% CI 0.9, 1.2]"
    assert fmt_ours(rows[0], {"x_ci_low": 0.9, "x_ci_high": 1.2, "x_n": 10}) == "1.05 [95% CI 0.9, 1.2] (n = 10)"
    assert verdict_summary([]).startswith("This experiment declares no claims")


def test_page_has_blocks_and_key_figure_first(tmp_path):
    ctx = RunContext(folder=tmp_path, seed=0, device="cpu", quiet=True)
    for name, width in (("a", 3), ("b", 9)):
        fig = plt.figure(figsize=(width, 2))
        ctx.save_figure(name, fig)
    claims = [Claim("x is one", "s", "x", expected=1.0, tolerance=0.1)]
    (tmp_path / "verdict.json").write_text(__import__("json").dumps(evaluate(claims, {"x": 3.0})))
    page = write_run_report(tmp_path, _module(claims), {"n": 4}, {"x": 3.0}, {"status": "done"}, ctx,
                            config_obj={"n": 4}).read_text()
    order = [page.index(f"id='{b}'") for b in ("question", "setup", "expected", "ours", "verdict")]
    assert order == sorted(order)
    assert "4 networks" in page and "Is it so?" in page and "0 of 1 claims reproduce, 1 differ (x is one)." in page
    key = page.index("class='key'")
    assert order[-1] < key < page.index("alt=\"a\"") and page.index("alt=\"b\"") < page.index("alt=\"a\"")
    w, h = image_size(tmp_path / "figures" / "b.png")
    assert f"width:{w}px" in page and w > 900 and h > 150
