"""`priorlab serve`: prints the URL, warns on a non-loopback host, builds the app with the given limits."""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_uvicorn(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def test_serve_prints_the_url_and_binds_loopback(cli, fake_uvicorn):
    res = cli(["serve", "--port", "9123", "--max-sessions", "5"])
    assert res.code == 0 and "http://127.0.0.1:9123/" in res.out and "warning" not in res.err
    app, kw = fake_uvicorn[0]
    assert kw["host"] == "127.0.0.1" and kw["port"] == 9123 and app.state.manager.max_sessions == 5


def test_serve_warns_on_a_public_host(cli, fake_uvicorn):
    res = cli(["serve", "--host", "0.0.0.0"])
    assert res.code == 0 and "warning: listening on 0.0.0.0" in res.err and "http://127.0.0.1:8765/" in res.out
    assert fake_uvicorn[0][1]["host"] == "0.0.0.0"


def test_serve_bad_port_is_exit_2(cli, fake_uvicorn):
    res = cli(["serve", "--port", "70000"])
    assert res.code == 2 and "port" in res.err and not fake_uvicorn
