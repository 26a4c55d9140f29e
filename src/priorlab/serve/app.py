"""The playground's FastAPI app: the JSON API the page uses, server-sent training frames, the static page.

    GET    /api/experiments                      playground experiments with their config schema (pydantic)
    POST   /api/sessions {"experiment", "config"} → {"id", ...}
    POST   /api/sessions/{id}/step {"steps": n}  → {"step", "loss", "losses", "stopped"}
    GET    /api/sessions/{id}/state?layers=1     step, loss, and the data for the views
    GET    /api/sessions/{id}/stream?steps=k&frames=m   server-sent events: one state per k steps
    GET    /api/sessions/{id}/weights.safetensors
    POST   /api/sessions/{id}/save               → a run in the store {"run_id", "path", "report"}
    DELETE /api/sessions/{id}
    POST   /api/data (CSV body x,y,label)        → {"id", "rows", "classes", "labels"}

Errors are ``{"error": "<one line>"}``: 422 for bad input, 404 for unknown ids, 409 for a stopped session, 503 when
the session limit is reached.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from priorlab.errors import UserError
from priorlab.serve.configs import PENDING_REGIMES, PLAYGROUND, REGIME_NAMES
from priorlab.serve.sessions import MAX_CSV_BYTES, MAX_STEPS_PER_CALL, Busy, Manager, NotFound, Stopped

STATIC = Path(str(resources.files("priorlab.serve") / "static"))
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


class NewSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    experiment: str = Field(description="fit1d or fold")
    config: dict = Field(default_factory=dict, description="config keys of the experiment")


class Steps(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int = Field(1, ge=1, le=MAX_STEPS_PER_CALL, description="optimizer steps to take now")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": str(message).splitlines()[0] if str(message) else "error"}, status_code=status)


def _validation_line(exc: RequestValidationError) -> str:
    """A pydantic error on a request as one line naming the field."""
    e = exc.errors()[0]
    loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or "body"
    msg = e.get("msg", "invalid").removeprefix("Value error, ")
    if e.get("type") == "extra_forbidden":
        return f"unknown field '{field}'"
    if e.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    return f"invalid value for '{field}': {msg}"


def create_app(max_sessions: int = 64, idle_s: float = 1800.0, root: str | Path | None = None) -> FastAPI:
    """The playground app; ``root``: the runs root saved sessions go to (default: ``$PRIORLAB_HOME``)."""
    app = FastAPI(title="priorlab playground", docs_url=None, redoc_url=None, openapi_url=None)
    manager = Manager(max_sessions=max_sessions, idle_s=idle_s)
    app.state.manager = manager

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request, exc: RequestValidationError):
        return _error(422, _validation_line(exc))

    @app.exception_handler(UserError)
    async def _user_error(_request, exc: UserError):
        return _error(422, str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(_request, exc: NotFound):
        return _error(404, str(exc.args[0]))

    @app.exception_handler(Stopped)
    async def _stopped(_request, exc: Stopped):
        return _error(409, f"session stopped: {exc}")

    @app.exception_handler(Busy)
    async def _busy(_request, exc: Busy):
        return _error(503, str(exc))

    @app.get("/api/experiments")
    def experiments():
        return {"experiments": [
            {"name": name, "description": module.DESCRIPTION, "schema": cls.model_json_schema()}
            for name, (module, cls) in PLAYGROUND.items()
        ], "regimes": list(REGIME_NAMES), "pending_regimes": list(PENDING_REGIMES),
            "max_steps_per_call": MAX_STEPS_PER_CALL}

    @app.post("/api/sessions")
    def new_session(body: NewSession):
        s = manager.create(body.experiment, body.config)
        return {"id": s.id, "experiment": s.experiment, "config": s.config.model_dump(mode="json")}

    @app.post("/api/sessions/{sid}/step")
    def step(sid: str, body: Steps):
        return manager.get(sid).step(body.steps)

    @app.get("/api/sessions/{sid}/state")
    def state(sid: str, layers: bool = False):
        return manager.get(sid).state(layers=layers)

    @app.get("/api/sessions/{sid}/stream")
    async def stream(sid: str, request: Request, steps: int = 5, frames: int = 2000, layers: bool = False):
        if not 1 <= steps <= MAX_STEPS_PER_CALL:
            raise UserError(f"invalid value for 'steps': must be 1–{MAX_STEPS_PER_CALL}")
        if not 1 <= frames <= 100_000:
            raise UserError("invalid value for 'frames': must be 1–100000")
        session = manager.get(sid)

        async def events():
            for _ in range(frames):
                if await request.is_disconnected():
                    return
                try:
                    await run_in_threadpool(session.step, steps)
                except Stopped as exc:
                    yield f"event: stopped\ndata: {json.dumps({'error': str(exc)})}\n\n"
                    return
                frame = await run_in_threadpool(session.state, layers)
                yield f"data: {json.dumps(frame)}\n\n"
                if frame["stopped"]:
                    yield f"event: stopped\ndata: {json.dumps({'error': frame['stopped']})}\n\n"
                    return
                await asyncio.sleep(0.02)
            yield "event: done\ndata: {}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/sessions/{sid}/weights.safetensors")
    def weights(sid: str):
        from safetensors.torch import save

        s = manager.get(sid)
        meta = {"experiment": s.experiment, "config": json.dumps(s.config.model_dump(mode="json")),
                "step": str(s.step_count)}
        return Response(save(s.weights(), metadata=meta), media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{s.experiment}-{sid}.safetensors"'})

    @app.post("/api/sessions/{sid}/save")
    def save_run(sid: str):
        from priorlab.serve.save import save_session

        run = save_session(manager.get(sid), root=root)
        return {"run_id": run.path.name, "path": str(run.path), "experiment": run.env.get("experiment"),
                "status": run.env.get("status"), "report": f"/runs/{run.env.get('experiment')}/{run.path.name}"}

    @app.get("/runs/{experiment}/{run_id}")
    def report(experiment: str, run_id: str):
        from priorlab.store import Store

        rows = [r for r in Store(root).runs(experiment) if r["id"] == run_id and r["status"] == "done"]
        if not rows or not (Path(rows[0]["path"]) / "report.html").is_file():
            raise NotFound(f"no saved run '{run_id[:40]}'")
        return FileResponse(Path(rows[0]["path"]) / "report.html", media_type="text/html; charset=utf-8")

    @app.delete("/api/sessions/{sid}")
    def delete(sid: str):
        manager.delete(sid)
        return {"deleted": sid}

    @app.post("/api/data")
    async def upload(request: Request):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_CSV_BYTES:
            raise UserError(f"CSV too large: {int(declared):,} bytes (at most {MAX_CSV_BYTES:,})")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_CSV_BYTES:
                raise UserError(f"CSV too large: over {MAX_CSV_BYTES:,} bytes")
            chunks.append(chunk)
        ds = await run_in_threadpool(manager.add_dataset, b"".join(chunks))
        return {"id": ds.id, "rows": len(ds.y), "classes": ds.classes, "labels": ds.labels,
                "centre": ds.centre, "scale": ds.scale}

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html", media_type=_TYPES[".html"])

    @app.get("/static/{name}")
    def static(name: str):
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in _TYPES:
            raise NotFound(f"no file '{name[:40]}'")
        return FileResponse(path, media_type=_TYPES[path.suffix])

    @app.get("/favicon.ico")
    def favicon():
        return FileResponse(STATIC / "favicon.svg", media_type=_TYPES[".svg"])

    @app.exception_handler(404)
    async def _missing(_request, _exc):
        return _error(404, "not found")

    return app
