"""Front-end helpers for `priorlab runs`, `show` and `report` (no torch import)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

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


RUN_COLUMNS = ["id", "experiment", "status", "seed", "sweep_id", "created", "finished", "path"]


def run_rows(experiment: str | None = None, limit: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Index rows (oldest first, the newest `limit`): RUN_COLUMNS plus ``metrics`` and ``config`` dicts; and the
    names of every metric they hold, in order of appearance."""
    rows = Store().runs(experiment=experiment)
    rows = rows[-limit:] if limit else rows
    names = list(dict.fromkeys(k for r in rows for k in r["metrics"]))
    out = [{**{c: r.get(c) for c in RUN_COLUMNS}, "metrics": r["metrics"], "config": r["config"]} for r in rows]
    return out, names


def print_runs(experiment: str | None, limit: int | None, fmt: str) -> None:
    """`priorlab runs --format csv|json`: CSV with one column per metric (empty where a run has none), or a JSON
    list of runs with their metrics and config."""
    if fmt not in ("table", "csv", "json"):
        raise UserError(f"invalid --format '{fmt}' (allowed: table, csv, json)")
    rows, names = run_rows(experiment, limit)
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    w = csv.DictWriter(sys.stdout, fieldnames=RUN_COLUMNS + names, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**{c: r[c] for c in RUN_COLUMNS}, **r["metrics"]})


def plain_table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    """Aligned plain-text columns with every cell whole (for pipes and files)."""
    cells = [[str(c) for c in cols]] + [["" if r.get(c) is None else str(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


def show(ref: str, fmt: str = "text") -> None:
    store = Store()
    row = store.find(ref)
    if row is None:
        if store.load_sweep(ref) is not None:
            show_sweep(store, ref, fmt)
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


def show_sweep(store: Store, sweep_id: str, fmt: str = "table") -> None:
    """`priorlab show SWEEP_ID`: the results table (a rich table, CSV on stdout, or results.parquet)."""
    from priorlab.sweep import results

    fmt = "table" if fmt == "text" else fmt
    if fmt not in ("table", "csv", "parquet"):
        raise UserError(f"invalid --format '{fmt}' for a sweep (allowed: table, csv, parquet)")
    rows, grid_keys, metrics = results(store, sweep_id)
    cols = [*grid_keys, "seed", "status", *metrics, "run"]
    if fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    elif fmt == "parquet":
        from priorlab.sweep import write_results_parquet

        path = write_results_parquet(store, sweep_id)
        if path is None:
            raise UserError("--format parquet needs pyarrow: pip install pyarrow")
        typer.echo(str(path))
    elif not sys.stdout.isatty():
        typer.echo(plain_table(rows, cols))
    else:
        from rich.console import Console
        from rich.table import Table

        from priorlab.viz.report import fmt_num

        t = Table(*cols, title=f"sweep {sweep_id}")
        for r in rows:
            t.add_row(*[fmt_num(r.get(c)) if r.get(c) is not None else "" for c in cols])
        Console().print(t)


def _sweep_rows(store: Store) -> list[dict[str, Any]]:
    """Rows for the Sweeps table of `priorlab report` (writing a sweep's page if it has none)."""
    from priorlab.sweep import write_sweep_report

    out = []
    for s in store.sweeps():
        page = store.root / "sweeps" / s["id"] / "report.html"
        if not page.exists() and s["done"]:
            page = write_sweep_report(store, s["id"])
        failed = f", {s['failed']} failed" if s["failed"] else ""
        out.append({"id": s["id"], "experiment": s["experiment"], "progress": f"{s['done']}/{s['total']} done{failed}",
                    "page": str(page) if page and Path(page).exists() else None})
    return out


def claim_rows(store: Store) -> list[dict[str, Any]]:
    """One row per claim of the latest finished run of each experiment (from its verdict.json)."""
    from priorlab.viz.report import read_verdicts

    latest: dict[str, dict[str, Any]] = {}
    for r in store.runs():
        if r["status"] == "done" and not r.get("sweep_id"):
            latest[r["experiment"]] = r  # runs come oldest first
    rows = []
    for exp, r in latest.items():
        for v in read_verdicts(Path(r["path"])):
            rows.append({"experiment": exp, "run": r["id"], "path": r["path"], **v})
    return rows


def print_claims(rows: list[dict[str, Any]]) -> None:
    """The dashboard as a terminal table (plain text when stdout is not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    from priorlab.viz.report import dashboard_summary, fmt_expected, fmt_num

    table = Table(title="Reproduction dashboard", show_lines=False)
    for col in ("experiment", "claim", "expected", "ours", "verdict"):
        table.add_column(col, overflow="fold")
    style = {"reproduces": "green", "differs": "red"}
    for r in rows:
        table.add_row(r["experiment"], r["claim"], fmt_expected(r["expected"], r.get("tolerance")),
                      fmt_num(r.get("ours")), f"[{style.get(r['verdict'], 'yellow')}]{r['verdict']}[/]")
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    console.print(dashboard_summary(rows))


def write() -> Path:
    from priorlab.viz.report import write_index

    store = Store()
    return write_index(store.root, store.runs(), _sweep_rows(store), claim_rows(store))
