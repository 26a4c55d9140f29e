"""The playground's JSON API, in-process (TestClient): every endpoint, its 422/404s, and what the numbers mean."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load

from priorlab.experiments import fit1d
from priorlab.nets.onehidden import OneHidden
from priorlab.serve.app import create_app
from priorlab.serve.configs import FoldPlay
from priorlab.serve.sessions import MAX_CSV_BYTES


@pytest.fixture
def client(home):
    app = create_app(root=home)
    with TestClient(app) as c:
        c.manager = app.state.manager
        yield c


def _new(client, experiment="fit1d", **config) -> str:
    r = client.post("/api/sessions", json={"experiment": experiment, "config": config})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def _err(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"] and "\n" not in body["error"]
    return body["error"]


def test_experiments_schema_is_the_configs(client):
    body = client.get("/api/experiments").json()
    exps = {e["name"]: e for e in body["experiments"]}
    assert set(exps) == {"fit1d", "fold"}
    assert exps["fold"]["schema"] == FoldPlay.model_json_schema()
    props = exps["fit1d"]["schema"]["properties"]
    assert props["hidden"]["maximum"] == 64 and props["depth"]["maximum"] == 10
    assert {"cos", "saw"} <= set(props["activation"]["enum"])
    assert {"full", "bias_only", "readout", "mask"} <= set(body["regimes"])
    assert exps["fit1d"]["description"] == fit1d.DESCRIPTION


@pytest.mark.parametrize("body, names", [
    ({"experiment": "fit1d", "config": {"hidden": 65}}, "'hidden'"),
    ({"experiment": "fold", "config": {"hidden_layers": 11}}, "'hidden_layers'"),
    ({"experiment": "fit1d", "config": {"activation": "swish"}}, "'activation'"),
    ({"experiment": "fit1d", "config": {"bogus": 1}}, "'bogus'"),
    ({"experiment": "fit1d", "config": {"target": "__import__('os').system('x')"}}, "'target'"),
    ({"experiment": "fit1d", "config": {"lr": -1}}, "'lr'"),
    ({"experiment": "fold", "config": {"task": "xor", "classes": 5}}, "'classes'"),
    ({"experiment": "fold", "config": {"dataset": "0123456789ab"}}, "'dataset'"),
    ({"experiment": "nope"}, "experiment"),
    ({"config": {}}, "'experiment'"),
    ({"experiment": "fit1d", "config": [1, 2]}, "'config'"),
])
def test_bad_config_is_one_line_422_naming_the_field(client, body, names):
    assert names in _err(client.post("/api/sessions", json=body), 422)
    assert client.manager.sessions == {}


def test_nan_learning_rate_is_422(client):
    for text in ('{"experiment": "fit1d", "config": {"lr": NaN}}', '{"experiment": "fold", "config": {"lr": NaN}}',
                 '{"experiment": "fit1d", "config": {"lr": Infinity}}'):
        r = client.post("/api/sessions", content=text, headers={"content-type": "application/json"})
        assert "'lr'" in _err(r, 422)
    assert "JSON" in _err(client.post("/api/sessions", content="{", headers={"content-type": "application/json"}), 422)


def test_depth1_session_trains_exactly_as_the_fit1d_experiment(client):
    """The playground's network, data and step are fit1d's: the same losses as fit1d.train_one."""
    sid = _new(client, activation="tanh", hidden=5, seed=3)
    r = client.post(f"/api/sessions/{sid}/step", json={"steps": 40})
    assert r.json()["step"] == 40 and len(r.json()["losses"]) == 40
    r = client.post(f"/api/sessions/{sid}/step", json={"steps": 20})
    cfg = fit1d.Config(activation="tanh", hidden=5, seed=3, steps=60)
    ref = fit1d.train_one(cfg, fit1d.make_data(cfg, 3), "tanh", 5, 3, torch.linspace(-1, 1, 5),
                          SimpleNamespace(progress=None, timed=lambda phase: contextlib.nullcontext()))
    assert client.manager.get(sid).losses == ref.losses.tolist()
    assert r.json()["loss"] == pytest.approx(ref.losses[-1], rel=1e-4)
    assert client.get(f"/api/sessions/{sid}/state").json()["metrics"]["interp_mse"] == pytest.approx(
        ref.metrics["interp_mse"], rel=1e-4)


@pytest.mark.parametrize("depth", [1, 3])
def test_fit1d_state_contributions_add_up_to_the_output(client, depth):
    sid = _new(client, activation="cos", hidden=4, depth=depth, n_samples=30)
    client.post(f"/api/sessions/{sid}/step", json={"steps": 30})
    s = client.get(f"/api/sessions/{sid}/state").json()
    assert s["step"] == 30 and len(s["losses"]["loss"]) == 30
    contrib = torch.tensor(s["contributions"])
    assert contrib.shape == (4, len(s["x"]))
    assert torch.allclose(contrib.sum(0) + s["offset"], torch.tensor(s["output"]), atol=1e-3)
    assert len(s["samples"]["x"]) == 30 and s["train_range"] == pytest.approx([-6.2832, 6.2832], abs=1e-3)
    assert min(s["x"]) < s["train_range"][0] and max(s["x"]) > s["train_range"][1]  # the extrapolation bands
    if depth == 1:  # the Fourier reading: one row per unit, the offset, the target's terms
        terms = [r["term"] for r in s["fourier"]]
        assert terms[:4] == ["unit 0", "unit 1", "unit 2", "unit 3"] and "target term 1" in terms
        session = client.manager.get(sid)  # the same reading as the fit1d experiment's table
        ref = fit1d.fourier_rows(SimpleNamespace(model=session.model), session.data, session.config)
        assert [r["term"] for r in ref] == terms
        for mine, theirs in zip(s["fourier"], ref):
            for key in ("frequency", "amplitude"):
                assert mine[key] == pytest.approx(theirs[key], rel=1e-3, abs=1e-6)
    else:
        assert s["fourier"] is None


def test_fold_state_layers_and_regions(client):
    sid = _new(client, "fold", task="moons", width=2, hidden_layers=4, activation="relu", n_points=200, seed=1)
    client.post(f"/api/sessions/{sid}/step", json={"steps": 50})
    s = client.get(f"/api/sessions/{sid}/state?layers=1").json()
    assert len(s["points"]) == 200 and set(s["labels"]) == {0, 1} and len(s["region"]) == s["grid"] ** 2
    assert [l["name"] for l in s["layers"]][:3] == ["input", "layer1 affine", "layer1 relu"]
    assert len(s["layers"]) == 2 * 4 + 2
    out = torch.tensor(s["layers"][-1]["points"])  # two classes: the output stage is the raw logits
    acc = (out.argmax(1) == torch.tensor(s["labels"])).float().mean().item()
    assert acc == pytest.approx(s["metrics"]["train_acc"], abs=0.01)
    dead_layers = [l for l in s["layers"] if l["dead"]]
    assert dead_layers, "2-unit ReLU layers leave some points dead"
    for l in dead_layers:  # a dead point is zero in every unit: all dead points sit on one spot of the drawing
        pts = torch.tensor(l["points"])[l["dead"]]
        assert torch.allclose(pts, pts[0].expand_as(pts), atol=1e-4)
        assert l["dead_fraction"] == pytest.approx(len(l["dead"]) / 200, abs=1e-4)
    assert client.get(f"/api/sessions/{sid}/state").json()["layers"] is None


@pytest.mark.parametrize("classes", [3, 5])
def test_fold_tasks_with_more_classes(client, classes):
    sid = _new(client, "fold", task="gaussians", classes=classes, width=8, hidden_layers=2, n_points=100)
    client.post(f"/api/sessions/{sid}/step", json={"steps": 200})
    s = client.get(f"/api/sessions/{sid}/state").json()
    assert s["classes"] == classes and set(s["labels"]) == set(range(classes))
    assert set(s["region"]) == set(range(classes)) and s["metrics"]["train_acc"] > 0.9


def test_step_limits(client):
    sid = _new(client)
    assert "'steps'" in _err(client.post(f"/api/sessions/{sid}/step", json={"steps": 501}), 422)
    assert "'steps'" in _err(client.post(f"/api/sessions/{sid}/step", json={"steps": 0}), 422)
    assert "'steps'" in _err(client.post(f"/api/sessions/{sid}/step", json={"steps": "many"}), 422)
    assert client.post(f"/api/sessions/{sid}/step", json={"steps": 500}).json()["step"] == 500


@pytest.mark.parametrize("call", [
    ("post", "/api/sessions/{}/step", {"json": {"steps": 1}}),
    ("get", "/api/sessions/{}/state", {}),
    ("get", "/api/sessions/{}/stream", {}),
    ("get", "/api/sessions/{}/weights.safetensors", {}),
    ("post", "/api/sessions/{}/save", {}),
    ("delete", "/api/sessions/{}", {}),
])
def test_unknown_session_is_404(client, call):
    method, path, kw = call
    assert "no session" in _err(getattr(client, method)(path.format("0123abcd"), **kw), 404)


def test_delete_and_limits(home):
    with TestClient(create_app(max_sessions=2, root=home)) as c:
        a, _ = _new(c), _new(c)
        assert "too many sessions" in _err(c.post("/api/sessions", json={"experiment": "fit1d"}), 503)
        assert c.delete(f"/api/sessions/{a}").json() == {"deleted": a}
        _err(c.get(f"/api/sessions/{a}/state"), 404)
        _new(c)
    with TestClient(create_app(idle_s=0.0, root=home)) as c:  # idle sessions expire
        sid = _new(c)
        _err(c.get(f"/api/sessions/{sid}/state"), 404)


def test_divergence_stops_that_session_only(client):
    bad = _new(client, activation="relu", hidden=64, depth=5, optimizer="sgd", lr=10)
    good = _new(client, activation="tanh", hidden=4)
    r = client.post(f"/api/sessions/{bad}/step", json={"steps": 200}).json()
    assert r["stopped"].startswith("diverged at step") and r["step"] < 200
    assert "session stopped: diverged" in _err(client.post(f"/api/sessions/{bad}/step", json={"steps": 1}), 409)
    assert client.get(f"/api/sessions/{bad}/state").json()["stopped"] == r["stopped"]
    assert "diverged" in _err(client.post(f"/api/sessions/{bad}/save"), 422)
    assert client.post(f"/api/sessions/{good}/step", json={"steps": 10}).json()["step"] == 10


def test_two_sessions_never_mix_state(client):
    """Two sessions stepped at once from threads give exactly the losses each gives alone."""
    configs = [{"activation": "tanh", "hidden": 6, "seed": 1}, {"activation": "cos", "hidden": 3, "seed": 2}]
    ids = [_new(client, **c) for c in configs]

    def work(sid):
        for _ in range(10):
            client.post(f"/api/sessions/{sid}/step", json={"steps": 7})

    threads = [threading.Thread(target=work, args=(sid,)) for sid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for sid, cfg in zip(ids, configs):
        alone = _new(client, **cfg)
        client.post(f"/api/sessions/{alone}/step", json={"steps": 70})
        assert client.manager.get(sid).losses == client.manager.get(alone).losses
        assert client.get(f"/api/sessions/{sid}/state").json()["config"]["activation"] == cfg["activation"]


def test_stream_sends_frames(client):
    sid = _new(client, hidden=3)
    frames, events = [], []
    with client.stream("GET", f"/api/sessions/{sid}/stream?steps=4&frames=3") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event:"):
                events.append(line.split(":", 1)[1].strip())
            elif line.startswith("data:") and not events:
                frames.append(json.loads(line[5:]))
    assert [f["step"] for f in frames] == [4, 8, 12] and events == ["done"]
    assert "'steps'" in _err(client.get(f"/api/sessions/{sid}/stream?steps=0"), 422)


@pytest.mark.parametrize("regime", ["full", "mask", "readout", "bias_only"])
def test_weights_load_with_safetensors(client, regime):
    sid = _new(client, activation="sigmoid", hidden=4, regime=regime)
    client.post(f"/api/sessions/{sid}/step", json={"steps": 20})
    r = client.get(f"/api/sessions/{sid}/weights.safetensors")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    state = load(r.content)
    net = OneHidden(4, "sigmoid")
    net.load_state_dict(state)  # the effective weights load into the plain network
    s = client.get(f"/api/sessions/{sid}/state").json()
    with torch.no_grad():
        out = net(torch.tensor(s["x"]))
    assert torch.allclose(out, torch.tensor(s["output"]), atol=1e-3)
    before = client.manager.get(sid)
    if regime in ("readout", "bias_only"):  # what the regime froze did not move
        fresh = _new(client, activation="sigmoid", hidden=4, regime=regime)
        init = load(client.get(f"/api/sessions/{fresh}/weights.safetensors").content)
        frozen = ["hidden.weight", "hidden.bias"] if regime == "readout" else ["hidden.weight", "out.weight"]
        for k in frozen:
            assert torch.equal(state[k], init[k]), k
        assert not torch.equal(state["out.bias"], init["out.bias"])
    assert before.step_count == 20


def test_save_makes_a_run_the_cli_lists(client, cli, home):
    assert "train at least one step" in _err(client.post(f"/api/sessions/{_new(client)}/save"), 422)
    sid = _new(client, activation="cos", hidden=3)
    client.post(f"/api/sessions/{sid}/step", json={"steps": 50})
    run = client.post(f"/api/sessions/{sid}/save").json()
    assert run["status"] == "done" and run["experiment"] == "fit1d"
    listed = cli(["runs"])
    assert listed.code == 0 and run["run_id"][:15] in listed.out
    shown = cli(["show", run["run_id"]])
    assert shown.code == 0 and "extrap_mse" in shown.out
    page = client.get(run["report"])
    assert page.status_code == 200 and "Trained in the browser playground" in page.text
    folder = Path(run["path"])
    assert (folder / "model.safetensors").is_file() and (folder / "figures" / "fit.png").is_file()
    verdicts = json.loads((folder / "verdict.json").read_text())
    assert verdicts and all(v["metric"] for v in verdicts)
    fold = _new(client, "fold", width=4, hidden_layers=2, n_points=60)
    client.post(f"/api/sessions/{fold}/step", json={"steps": 5})
    saved = client.post(f"/api/sessions/{fold}/save").json()
    verdicts = json.loads((Path(saved["path"]) / "verdict.json").read_text())
    assert all(v["verdict"] == "not tested at this scale" for v in verdicts), verdicts
    assert "no saved run" in _err(client.get("/runs/fold/nope"), 404)


def _csv(rows) -> bytes:
    return ("x,y,label\n" + "\n".join(rows) + "\n").encode()


GOOD = [f"{i % 7},{i % 5 * 0.5},{'cat' if i % 3 else 'dog'}" for i in range(30)]


@pytest.mark.parametrize("body, says", [
    (_csv(GOOD[:5] + ["1,2"] + GOOD[5:]), "row 6: 2 fields"),
    (_csv(GOOD[:3] + ["1,2,a,b"] + GOOD[3:]), "row 4: 4 fields"),
    (_csv(GOOD[:8] + ["1,abc,cat"] + GOOD[8:]), "row 9: column y is 'abc'"),
    (_csv(GOOD[:8] + ["nan,1,cat"] + GOOD[8:]), "row 9: column x"),
    (_csv([f"{i},{i},same" for i in range(20)]), "1 class"),
    (_csv([f"{i},{i},{i % 6}" for i in range(30)]), "6 classes"),
    (_csv(GOOD[:4]), "at least 10"),
    (b"", "at least 10"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
    (b"0.1,0.2,a\n" * 1_000_000, "too large"),
    (_csv([f"{i % 9},{i % 4},{i % 2}" for i in range(20_001)]), "at most 20000"),
])
def test_bad_csv_is_one_line_422(client, body, says):
    assert says in _err(client.post("/api/data", content=body), 422)
    assert client.manager.datasets == {}


def test_csv_upload_becomes_a_dataset(client):
    r = client.post("/api/data", content=_csv(GOOD))
    ds = r.json()
    assert r.status_code == 200 and ds["rows"] == 30 and ds["classes"] == 2 and ds["labels"] == ["cat", "dog"]
    sid = _new(client, "fold", dataset=ds["id"], width=4, hidden_layers=2)
    s = client.get(f"/api/sessions/{sid}/state").json()
    pts = torch.tensor(s["points"])
    assert s["classes"] == 2 and len(pts) == 30 and pts.abs().max().item() == pytest.approx(1.0, abs=1e-4)
    raw = torch.tensor([[float(v) for v in row.split(",")[:2]] for row in GOOD])  # scaled back: the CSV's points
    assert torch.allclose(pts * ds["scale"] + torch.tensor(ds["centre"]), raw, atol=1e-3)
    assert s["labels"] == [0 if row.endswith("cat") else 1 for row in GOOD]
    assert MAX_CSV_BYTES >= 1_000_000


def test_page_and_assets_are_local(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    remote = re.compile(r"""(?:src|href|action)\s*=\s*["']?(?:[a-z]+:)?//|url\(\s*["']?(?:[a-z]+:)?//|@import|"""
                        r"""(?:fetch|EventSource)\(\s*["'`](?:[a-z]+:)?//""", re.I)
    for path in ("/", "/static/app.js", "/static/app.css", "/static/favicon.svg", "/favicon.ico"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert not remote.search(r.text), (path, remote.search(r.text))
    assert remote.search('<img src="https://cdn.example/x.png">')  # the pattern does catch a remote asset
    assert "not found" in _err(client.get("/static/../app.py"), 404)
    assert "no file" in _err(client.get("/static/missing.js"), 404)
