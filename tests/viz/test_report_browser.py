"""Report pages in headless Chromium: figures visible, no console errors, screenshot taken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import priorlab

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it as root)"),
]


def _open(page_path: Path, shot: Path) -> dict:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.goto(page_path.resolve().as_uri())
        page.wait_for_load_state("load")
        imgs = page.eval_on_selector_all(
            "img", "els => els.map(e => ({w: e.naturalWidth, h: e.naturalHeight, ok: e.complete, src: e.src.slice(0, 22)}))"
        )
        links = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
        external = page.eval_on_selector_all(
            "[src],[href]", "els => els.map(e => e.getAttribute('src') || e.getAttribute('href'))"
        )
        text = page.inner_text("body")
        layout = page.evaluate("""() => {
            const body = document.body, cs = getComputedStyle(body);
            const content = body.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
            const blocks = ['question', 'setup', 'expected', 'ours', 'verdict'].map(id => {
                const el = document.getElementById(id);
                return el ? el.getBoundingClientRect().top + window.scrollY : null; });
            const imgs = [...document.querySelectorAll('img')].map(e => ({
                natural: e.naturalWidth, shown: e.getBoundingClientRect().width,
                top: e.getBoundingClientRect().top + window.scrollY, key: !!e.closest('figure.key')}));
            return {content, blocks, imgs, dashboard: document.querySelectorAll('#dashboard tr').length};
        }""")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    return {"errors": errors, "imgs": imgs, "links": links, "refs": external, "text": text, "layout": layout}


def test_run_report_and_index_render(home, tmp_path):
    run = priorlab.run("fit1d", preset="blog", steps=50, frames=4)
    n_figs = len(list((run.path / "figures").iterdir()))
    res = _open(run.path / "report.html", tmp_path / "report.png")
    assert res["errors"] == []
    assert len(res["imgs"]) == n_figs >= 10
    assert all(i["ok"] and i["w"] > 100 and i["h"] > 100 for i in res["imgs"]), res["imgs"]
    assert all(i["src"].startswith("data:image/") for i in res["imgs"])  # self-contained
    assert not [r for r in res["refs"] if r and r.startswith(("http:", "https:", "//"))]
    assert "extrap_mse_cos3" in res["text"] and "Source study" in res["text"]
    assert (tmp_path / "report.png").stat().st_size > 10_000
    lay = res["layout"]
    # the five study blocks open the page, in order, above every figure
    assert None not in lay["blocks"] and lay["blocks"] == sorted(lay["blocks"])
    assert lay["blocks"][-1] < min(i["top"] for i in lay["imgs"])
    # the key figure comes first, and no image is shown narrower than its own width allows
    assert lay["imgs"][0]["key"] and sum(i["key"] for i in lay["imgs"]) == 1
    for i in lay["imgs"]:
        assert i["shown"] >= min(i["natural"], lay["content"]) - 1, (i, lay["content"])

    from priorlab.report_index import write

    index = write()
    res = _open(index, tmp_path / "index.png")
    assert res["errors"] == []
    assert run.id in res["text"] and "fit1d" in res["text"]
    assert "Reproduction dashboard" in res["text"]
    verdict = run.path / "verdict.json"
    n_claims = len(json.loads(verdict.read_text())) if verdict.exists() else 0
    assert res["layout"]["dashboard"] == 1 + n_claims  # a header row and one row per claim
    links = {h for h in res["links"] if h and h.endswith("report.html")}  # the runs table and the dashboard rows
    assert {(index.parent / h).resolve() for h in links} == {(run.path / "report.html").resolve()}
