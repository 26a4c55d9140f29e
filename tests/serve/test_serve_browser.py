"""The playground in headless Chromium against the real server (uvicorn on a free loopback port, a subprocess)."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium (/usr/bin/chromium) is not installed"),
    pytest.mark.allow_hosts(["127.0.0.1"]),
]

# three rings (radius 1, 2, 3): classes no straight line separates
CSV3 = "x,y,label\n" + "\n".join(
    f"{r * math.cos(0.37 * i) + 0.1 * math.sin(7.1 * i):.4f},{r * math.sin(0.37 * i) + 0.1 * math.cos(5.3 * i):.4f},{name}"
    for i in range(60) for r, name in ((1.0, "inner"), (2.0, "middle"), (3.0, "outer"))
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {**os.environ, "PRIORLAB_HOME": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "priorlab.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"the server exited: {proc.stdout.read()}")
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/"
        yield url, tmp_path / "runs"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _losses(page) -> list[float]:
    return page.evaluate("() => window.playground.state.losses.loss")


def _wait_step(page, at_least: int, timeout: float = 60_000) -> None:
    page.wait_for_function(f"() => window.playground.state && window.playground.state.step >= {at_least}",
                           timeout=timeout)


def _play_until(page, steps: int) -> None:
    page.click("#play")
    _wait_step(page, steps)
    page.click("#play")  # pause
    page.wait_for_function("() => !window.playground.playing")


def _new_session(page, action) -> None:
    """Do ``action`` (a control change) and wait for the fresh session's first state."""
    old = page.evaluate("() => window.playground.id")
    action()
    page.wait_for_function(f"() => window.playground.id && window.playground.id !== '{old}' && "
                           "window.playground.state && window.playground.state.id === window.playground.id")


def test_playground_in_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright
    from safetensors.torch import load_file

    url, runs = server
    shots = Path(os.environ.get("PRIORLAB_SCREENSHOTS", tmp_path))  # docs/img/ when the docs' pictures are redone
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1180, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} {r.failure}")
                if "/stream" not in r.url else None)  # a closed event stream (pause) counts as failed
        page.on("request", lambda r: requests.append(r.url))

        # open the page, start training: the loss falls
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        _wait_step(page, 0)
        _play_until(page, 200)
        losses = _losses(page)
        assert losses[-1] < 0.5 * losses[0], losses[:3] + losses[-3:]

        # three cosine units: the fit extrapolates (fit1d's claim: extrapolation MSE ≤ 0.05)
        _new_session(page, lambda: (page.fill("#width", "3"), page.press("#width", "Tab")))
        _new_session(page, lambda: page.select_option("#act", "cos"))
        assert "act=cos" in page.url and "width=3" in page.url
        _play_until(page, 500)
        extrap = page.evaluate("() => window.playground.state.metrics.extrap_mse")
        assert extrap < 0.05, extrap
        assert page.is_visible("#fourier") and "target term 1" in page.inner_text("#fourier")
        page.screenshot(path=str(shots / "playground-1d.png"), full_page=True)

        # the 2-D view: step through the layers
        _new_session(page, lambda: page.click("#tab-2d"))
        for field, value in (("#depth", "3"), ("#width", "8")):
            _new_session(page, lambda field=field, value=value: (page.fill(field, value), page.press(field, "Tab")))
        _new_session(page, lambda: page.select_option("#act", "tanh"))
        _play_until(page, 150)
        names = []
        for _ in range(9):
            names.append(page.inner_text("#layer-name"))
            page.click("#layer-next")
        assert len(set(names)) == len(page.evaluate("() => window.playground.state.layers")) == 8, names
        assert any("affine" in n for n in names) and names[0].endswith("input")

        # upload a 3-class CSV (ReLU units: the layer view marks dead points)
        _new_session(page, lambda: page.select_option("#act", "relu"))
        csv = tmp_path / "three.csv"
        csv.write_text(CSV3)
        _new_session(page, lambda: page.set_input_files("#csv", str(csv)))
        state = page.evaluate("() => window.playground.state")
        assert state["classes"] == 3 and len(state["points"]) == 180 and "dataset=" in page.url
        _play_until(page, 250)
        acc = page.evaluate("() => window.playground.state.metrics.train_acc")
        assert acc > 0.9, acc
        for _ in range(3):
            page.click("#layer-prev")
        page.screenshot(path=str(shots / "playground-2d.png"), full_page=True)

        # export the weights and load them with safetensors
        with page.expect_download() as dl:
            page.click("#export")
        path = tmp_path / "weights.safetensors"
        dl.value.save_as(path)
        weights = load_file(str(path))
        assert weights["readout.weight"].shape == (3, 8) and "layer1.linear.weight" in weights

        # save as a run: the index lists it
        page.click("#save")
        page.wait_for_selector("#saved-link")
        run_id = page.inner_text("#saved-link").split()[-1]
        listed = subprocess.run([sys.executable, "-m", "priorlab.cli", "runs"], capture_output=True, text=True,
                                env={**os.environ, "PRIORLAB_HOME": str(runs), "COLUMNS": "200",
                                     "PYTHONPATH": str(REPO / "src")})
        assert run_id in listed.stdout and "fold" in listed.stdout, listed.stdout + listed.stderr

        # reload from the URL: the same setup, and with the same seed the same training curve
        _new_session(page, lambda: page.click("#reset"))
        for _ in range(3):
            page.click("#step")
            page.wait_for_function("() => !window.playground.busy")
        before, shared = _losses(page), page.url
        setup = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#controls [name]')]"
                              ".map(e => [e.name, e.value]))")
        page.goto(shared)
        page.wait_for_selector("body[data-ready='1']")
        _wait_step(page, 0)
        after_setup = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#controls [name]')]"
                                    ".map(e => [e.name, e.value]))")
        assert after_setup == setup and page.evaluate("() => window.playground.view") == "2d"
        for _ in range(3):
            page.click("#step")
            page.wait_for_function("() => !window.playground.busy")
        assert _losses(page) == before and len(before) == 30
        browser.close()
    assert errors == []
    hosts = {urlparse(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts
    assert (shots / "playground-1d.png").stat().st_size > 20_000 and (shots / "playground-2d.png").stat().st_size > 20_000
