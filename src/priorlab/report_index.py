"""Front-end helpers for `priorlab runs`, `show` and `report` (no torch import)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml

from priorlab.config import UserError
from priorlab.store import Store


def headline_rows(experiment: str | None = None) -> list[dict]:
    from priorlab.viz.report import headline

    rows = []
    for r in Store().runs(experiment=experiment):
        rows.append(
            {
                "id": r["id"],
                "experiment": r["experiment"],
                "status": r["status"],
                "seed": r["seed"],
                "metrics": headline(r["metrics"], 3),
            }
        )
    return rows


def show(ref: str, fmt: str = "text") -> None:
    store = Store()
    row = store.find(ref)
    if row is None:
        from priorlab.sweep import show_sweep

        if show_sweep(ref, fmt):
            return
        if Path(ref).is_dir() and (Path(ref) / "env.json").exists():
            path = Path(ref)
        else:
            raise UserError(f"no run or sweep '{ref}' in {store.root}")
    else:
        path = Path(row["path"])
    if fmt not in ("text", "json"):
        raise UserError(f"invalid --format '{fmt}' for a run (allowed: text, json)")
    env = json.loads((path / "env.json").read_text()) if (path / "env.json").exists() else {}
    config = yaml.safe_load((path / "config.yaml").read_text()) if (path / "config.yaml").exists() else {}
    metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").exists() else {}
    if fmt == "json":
        typer.echo(json.dumps({"path": str(path), "env": env, "config": config, "metrics": metrics}, indent=2))
        return
    typer.echo(f"run {env.get('run_id', path.name)}  {env.get('experiment', '')}  status: {env.get('status')}")
    typer.echo(f"path: {path}")
    typer.echo("config:")
    for k, v in config.items():
        typer.echo(f"  {k}: {v}")
    typer.echo("metrics:")
    for k, v in metrics.items():
        typer.echo(f"  {k}: {v}")


def write() -> Path:
    from priorlab.sweep import sweep_index_rows
    from priorlab.viz.report import write_index

    store = Store()
    return write_index(store.root, store.runs(), sweep_index_rows(store))
