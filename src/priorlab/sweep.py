"""Sweeps: a grid of configs x seeds, each trial an ordinary run tagged with the sweep id.

    priorlab sweep fit1d --grid activation=sigmoid,relu,cos --grid hidden=3,10,100 --seeds 0-4
    priorlab sweep --resume sw-20261122-221500-ab12cd       # runs exactly the trials without a `done` row
    priorlab sweeps                                         # sweeps with progress
    priorlab show sw-20261122-221500-ab12cd --format csv    # results table (table|csv|parquet)

Crash safety comes from the store: a trial's row is keyed (sweep_id, trial_key) UNIQUE, its folder is renamed into
place only when complete, and status + metrics are committed in one transaction. The sweep's plan (every trial's
key and config) is stored in the ``sweeps`` table of the same index.sqlite, so ``--resume`` needs nothing else.

Backends: ``local`` (a process pool over trial groups) and ``ray`` (Ray tasks on ``--ray-address`` or on a local
instance started for the sweep). Trials that share an architecture are grouped and trained together when the
experiment defines ``run_many`` (see :func:`priorlab.runner.run_batch`); ``BATCH_KEYS`` in the experiment names
the config keys that may differ inside a group (default: ``seed``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import secrets
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from priorlab.config import UserError, parse_value
from priorlab.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    created REAL NOT NULL,
    total INTEGER NOT NULL,
    spec TEXT NOT NULL
);
"""
MAX_GROUP = 256  # trials trained together in one run_many call at most


@dataclass
class Trial:
    key: str
    values: dict[str, Any]  # the full config values of this trial (base + grid point + seed)


# ----------------------------------------------------------------------------------------------
# planning


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside [...] or {...} (so list values can be gridded: widths=[1,2],[3])."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_grid(items: list[str] | None) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--grid expects key=v1,v2,..., got '{item}'")
        if key == "seed":
            raise UserError("grid the seed with --seeds (e.g. --seeds 0-9), not --grid seed=...")
        vals = [parse_value(p) for p in _split_top(raw)]
        if not vals:
            raise UserError(f"--grid {key}= has no values")
        if key in grid:
            raise UserError(f"--grid {key} given twice")
        grid[key] = vals
    return grid


def parse_seeds(text: str | None) -> list[int] | None:
    """'0-9', '0,3,5' or '0-4,10' -> sorted unique seeds."""
    if text is None:
        return None
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                seeds.update(range(a, b + 1))
            elif part:
                seeds.add(int(part))
    except ValueError:
        raise UserError(f"invalid --seeds '{text}' (allowed: a range 0-9, a list 0,3,5, or both)") from None
    if not seeds or min(seeds) < 0:
        raise UserError(f"invalid --seeds '{text}' (allowed: integers ≥ 0)")
    return sorted(seeds)


def _fmt(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def trial_key(point: dict[str, Any]) -> str:
    return ",".join(f"{k}={_fmt(point[k])}" for k in sorted(point))


def expand(base: dict[str, Any], grid: dict[str, list[Any]], seeds: list[int] | None) -> list[Trial]:
    """Every combination of the grid values (in grid order), times every seed."""
    points: list[dict[str, Any]] = [{}]
    for key, vals in grid.items():
        points = [{**p, key: v} for p in points for v in vals]
    seeds = seeds if seeds is not None else [int(base.get("seed", 0))]
    trials = []
    for p in points:
        for s in seeds:
            point = {**p, "seed": s}
            trials.append(Trial(trial_key(point), {**base, **point}))
    return trials


def new_sweep_id() -> str:
    return "sw-" + time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


# ----------------------------------------------------------------------------------------------
# the sweeps table


def save_sweep(store: Store, sweep_id: str, experiment: str, spec: dict[str, Any], trials: list[Trial]) -> None:
    spec = {**spec, "trials": [{"key": t.key, "values": t.values} for t in trials]}
    with store.connect() as con:
        con.executescript(SCHEMA)
        con.execute(
            "INSERT INTO sweeps (id, experiment, created, total, spec) VALUES (?, ?, ?, ?, ?)",
            (sweep_id, experiment, time.time(), len(trials), json.dumps(spec)),
        )


def load_sweep(store: Store, sweep_id: str) -> dict[str, Any] | None:
    if not store.index_path.exists():
        return None
    with store.connect() as con:
        con.executescript(SCHEMA)
        row = con.execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
    if row is None:
        return None
    spec = json.loads(row["spec"])
    spec["trials"] = [Trial(t["key"], t["values"]) for t in spec["trials"]]
    return {"id": row["id"], "experiment": row["experiment"], "created": row["created"], "total": row["total"], **spec}


def list_sweeps(store: Store) -> list[dict[str, Any]]:
    if not store.index_path.exists():
        return []
    with store.connect() as con:
        con.executescript(SCHEMA)
        sweeps = [dict(r) for r in con.execute("SELECT id, experiment, created, total FROM sweeps ORDER BY created")]
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in con.execute("SELECT sweep_id, status, COUNT(*) n FROM runs WHERE sweep_id IS NOT NULL "
                             "GROUP BY sweep_id, status"):
            kind = "done" if r["status"] == "done" else ("running" if r["status"] == "running" else "failed")
            counts[r["sweep_id"]][kind] += r["n"]
    for s in sweeps:
        c = counts[s["id"]]
        s.update(done=c["done"], failed=c["failed"], running=c["running"])
    return sweeps


def trial_rows(store: Store, sweep_id: str) -> dict[str, dict[str, Any]]:
    """trial_key -> its index row (with metrics) for one sweep."""
    return {r["trial_key"]: r for r in store.runs(sweep_id=sweep_id)}


def pending_trials(store: Store, sweep: dict[str, Any]) -> list[Trial]:
    rows = trial_rows(store, sweep["id"])
    return [t for t in sweep["trials"] if rows.get(t.key, {}).get("status") != "done"]


def _drop_stale(store: Store, sweep_id: str) -> None:
    """Before a resume: remove half-written folders of trials a killed sweep left 'running'."""
    for r in store.runs(sweep_id=sweep_id):
        p = Path(r["path"])
        if r["status"] == "running" and p.name.startswith(".partial-") and store.root in p.parents:
            shutil.rmtree(p, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# running


def group_trials(experiment: str, trials: list[Trial], workers: int, batch: bool = True) -> list[list[Trial]]:
    """Trials an experiment can train together (it defines run_many) share a group; others run alone."""
    from priorlab.experiments import load

    module = load(experiment)
    if not batch or not hasattr(module, "run_many"):
        return [[t] for t in trials]
    free = set(getattr(module, "BATCH_KEYS", ("seed",)))
    by_arch: dict[str, list[Trial]] = defaultdict(list)
    for t in trials:
        fixed = {k: v for k, v in t.values.items() if k not in free}
        by_arch[json.dumps(fixed, sort_keys=True, default=str)].append(t)
    # split large groups so that every worker gets work
    size = max(1, min(MAX_GROUP, math.ceil(len(trials) / max(1, workers))))
    groups = []
    for ts in by_arch.values():
        groups += [ts[i : i + size] for i in range(0, len(ts), size)]
    return groups


def run_group(
    experiment: str, sweep_id: str, trials: list[tuple[str, dict]], root: str, device: str, threads: int | None
) -> list[tuple[str, str]]:
    """Worker entry point: run one group of trials, return (trial_key, status) for each. Never raises for a
    failing trial (the runner records it); a trial already done elsewhere is reported as 'duplicate'."""
    import sqlite3

    if threads:
        import torch

        torch.set_num_threads(threads)
    from priorlab.runner import run_batch

    keys = [k for k, _ in trials]
    try:
        runs = run_batch(experiment, [v for _, v in trials], trial_keys=keys, sweep_id=sweep_id, root=root,
                         device=device, quiet=True, argv=["priorlab", "sweep", experiment, "--trial"])
        return [(k, r.status) for k, r in zip(keys, runs)]
    except sqlite3.IntegrityError:
        if len(trials) == 1:
            return [(keys[0], "duplicate")]
        # one of the group is done already (a stray worker): run them one at a time
        out = []
        for k, v in trials:
            out += run_group(experiment, sweep_id, [(k, v)], root, device, threads)
        return out


class _Bar:
    """Trials done / total, failures, elapsed and ETA, read from the index (so trials finishing inside a batch
    count at once); silent when quiet or not on a terminal."""

    def __init__(self, store: Store, sweep_id: str, keys: list[str], label: str, quiet: bool):
        self.store, self.sweep_id, self.keys = store, sweep_id, set(keys)
        self.done = self.failed = 0
        self.prog = None
        if not quiet and sys.stdout.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.prog = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                 "trials", TimeElapsedColumn(), "ETA", TimeRemainingColumn(),
                                 "{task.fields[failed]}")
            self.prog.start()
            self.task = self.prog.add_task(label, total=len(keys), failed="")

    def _statuses(self) -> dict[str, str]:
        with self.store.connect() as con:
            rows = con.execute("SELECT trial_key, status FROM runs WHERE sweep_id=?", (self.sweep_id,))
            return {r["trial_key"]: r["status"] for r in rows if r["trial_key"] in self.keys}

    def refresh(self) -> None:
        finished = [s for s in self._statuses().values() if s != "running"]
        self.done = len(finished)
        self.failed = sum(1 for s in finished if s != "done")
        if self.prog:
            self.prog.update(self.task, completed=self.done,
                             failed=f"[red]{self.failed} failed" if self.failed else "")

    def close(self) -> None:
        """Final count: every trial of this pass without a `done` row (failed, lost or never started) failed."""
        self.refresh()
        self.failed = len(self.keys) - sum(1 for s in self._statuses().values() if s == "done")
        if self.prog:
            self.prog.stop()


def _mark_lost(store: Store, sweep_id: str, keys: list[str], why: str) -> None:
    with store.connect() as con:
        con.execute("BEGIN IMMEDIATE")
        con.executemany("UPDATE runs SET status=? WHERE sweep_id=? AND trial_key=? AND status='running'",
                        [(f"failed: {why}", sweep_id, k) for k in keys])
        con.execute("COMMIT")


def _run_local(experiment, sweep_id, groups, root, device, workers, bar, store) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # workers import torch afresh: no forked threads or CUDA state
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {
            pool.submit(run_group, experiment, sweep_id, [(t.key, t.values) for t in g], str(root), device,
                        threads): g
            for g in groups
        }
        while futures:
            finished, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
            for fut in finished:
                g = futures.pop(fut)
                try:
                    fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker died: record, keep going
                    _mark_lost(store, sweep_id, [t.key for t in g], f"worker lost ({exc.__class__.__name__})")
            bar.refresh()


def _run_ray(experiment, sweep_id, groups, root, device, workers, bar, store, address, gpu_fraction) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise UserError("--backend ray needs Ray: pip install 'priorlab[ray]'") from None
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address:
            ray.init(address=address, **kw)
        else:
            # a private single-node instance on the loopback interface only
            ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1", **kw)
        started = True
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        num_gpus = gpu_fraction if gpus else 0
        task = ray.remote(num_cpus=1, num_gpus=num_gpus, max_retries=0)(run_group)
        pending = {
            task.remote(experiment, sweep_id, [(t.key, t.values) for t in g], str(root), device, 1): g
            for g in groups
        }
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                g = pending.pop(ref)
                try:
                    ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - task or worker failure: record, keep going
                    _mark_lost(store, sweep_id, [t.key for t in g], f"ray task lost ({exc.__class__.__name__})")
            bar.refresh()
    finally:
        if started:
            ray.shutdown()


def sweep(
    experiment: str | None = None,
    *,
    grid: dict[str, list[Any]] | None = None,
    base: dict[str, Any] | None = None,
    seeds: list[int] | None = None,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    gpu_fraction: float = 0.25,
    resume: str | None = None,
    device: str = "auto",
    root: str | Path | None = None,
    quiet: bool = False,
    batch: bool = True,
) -> dict[str, Any]:
    """Plan (or resume) a sweep and run its pending trials. Returns ``{"id", "total", "ran", "failed", "page"}``.

    ``batch=False`` runs every trial alone even when the experiment could train several together.
    """
    from priorlab.runner import prepare, resolve_device

    if backend not in ("local", "ray"):
        raise UserError(f"invalid --backend '{backend}' (allowed: local, ray)")
    if workers is not None and workers < 1:
        raise UserError(f"invalid --workers {workers} (allowed: integer ≥ 1)")
    resolve_device(device)
    store = Store(root)
    if resume:
        sw = load_sweep(store, resume)
        if sw is None:
            raise UserError(f"no sweep '{resume}' in {store.root} (see `priorlab sweeps`)")
        if experiment not in (None, sw["experiment"]):
            raise UserError(f"sweep '{resume}' is of experiment '{sw['experiment']}', not '{experiment}'")
        if grid or seeds or base:
            raise UserError("--resume takes no --grid/--seeds/--set: the sweep's plan is stored")
        experiment = sw["experiment"]
        _drop_stale(store, sw["id"])
    else:
        if experiment is None:
            raise UserError("missing EXPERIMENT (see `priorlab list`) or --resume SWEEP_ID")
        trials = expand(base or {}, grid or {}, seeds)
        for t in trials:  # every trial's config is valid before anything runs
            prepare(experiment, t.values)
        sw_id = new_sweep_id()
        save_sweep(store, sw_id, experiment, {"base": base or {}, "grid": grid or {}, "seeds": seeds}, trials)
        sw = load_sweep(store, sw_id)
    todo = pending_trials(store, sw)
    workers = workers or max(1, os.cpu_count() or 1)
    groups = group_trials(experiment, todo, workers, batch)
    bar = _Bar(store, sw["id"], [t.key for t in todo], f"{experiment} {sw['id']}", quiet)
    try:
        if todo and backend == "local":
            _run_local(experiment, sw["id"], groups, store.root, device, workers, bar, store)
        elif todo:
            _run_ray(experiment, sw["id"], groups, store.root, device, workers, bar, store, ray_address, gpu_fraction)
    finally:
        bar.close()
    page = write_sweep_report(store, sw["id"])
    return {"id": sw["id"], "total": len(sw["trials"]), "ran": len(todo), "failed": bar.failed, "page": page}


# ----------------------------------------------------------------------------------------------
# results


def results(store: Store, sweep_id: str) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """One row per trial: grid values, seed, status, metrics, run id; plus the grid and metric column names."""
    sw = load_sweep(store, sweep_id)
    rows_by_key = trial_rows(store, sweep_id)
    grid_keys = list(sw["grid"])
    metric_names: list[str] = []
    out = []
    for t in sw["trials"]:
        r = rows_by_key.get(t.key)
        row: dict[str, Any] = {k: t.values.get(k) for k in grid_keys}
        row["seed"] = t.values.get("seed")
        row["status"] = r["status"] if r else "pending"
        for name, v in (r["metrics"] if r else {}).items():
            if name not in metric_names:
                metric_names.append(name)
            row[name] = v
        row["run"] = r["id"] if r else None
        out.append(row)
    return out, grid_keys, metric_names


def show_sweep(ref: str, fmt: str = "table") -> bool:
    """`priorlab show SWEEP_ID`: print the results table; False if ``ref`` is not a sweep id."""
    import typer

    store = Store()
    if load_sweep(store, ref) is None:
        return False
    fmt = "table" if fmt == "text" else fmt
    if fmt not in ("table", "csv", "parquet"):
        raise UserError(f"invalid --format '{fmt}' for a sweep (allowed: table, csv, parquet)")
    rows, grid_keys, metrics = results(store, ref)
    cols = [*grid_keys, "seed", "status", *metrics, "run"]
    if fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    elif fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise UserError("--format parquet needs pyarrow: pip install pyarrow") from None
        path = sweep_folder(store, ref) / "results.parquet"
        table = pa.table({c: [_cell(r.get(c)) for r in rows] for c in cols})
        pq.write_table(table, path)
        typer.echo(str(path))
    else:
        from rich.console import Console
        from rich.table import Table

        from priorlab.viz.report import fmt_num

        t = Table(*cols, title=f"sweep {ref}")
        for r in rows:
            t.add_row(*[fmt_num(r.get(c)) if r.get(c) is not None else "" for c in cols])
        Console().print(t)
    return True


def _cell(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, list | dict) else v


def sweep_folder(store: Store, sweep_id: str) -> Path:
    p = store.root / "sweeps" / sweep_id
    p.mkdir(parents=True, exist_ok=True)
    return p


def sweep_index_rows(store: Store) -> list[dict[str, Any]]:
    """Rows for the Sweeps table of `priorlab report` (writing a sweep's page if it has none)."""
    out = []
    for s in list_sweeps(store):
        page = store.root / "sweeps" / s["id"] / "report.html"
        if not page.exists() and s["done"]:
            page = write_sweep_report(store, s["id"])
        failed = f", {s['failed']} failed" if s["failed"] else ""
        out.append({"id": s["id"], "experiment": s["experiment"], "progress": f"{s['done']}/{s['total']} done{failed}",
                    "page": str(page) if page and Path(page).exists() else None})
    return out


# ----------------------------------------------------------------------------------------------
# the sweep report page


def _numeric(vals: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)


def metric_figures(rows: list[dict[str, Any]], grid: dict[str, list[Any]], metrics: list[str]):
    """(title, figure) pairs: each metric against each gridded parameter, one line per combination of the other
    gridded parameters, mean over seeds with a band from min to max and ±1 SD error bars."""
    import matplotlib.pyplot as plt
    import numpy as np

    done = [r for r in rows if r["status"] == "done"]
    keys = list(grid)
    figs = []
    for x_key in keys or [None]:
        others = [k for k in keys if k != x_key]
        xs = grid[x_key] if x_key else [None]
        numeric = x_key is not None and _numeric(xs)
        for m in metrics:
            series: dict[tuple, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in done:
                v = r.get(m)
                if v is None or not math.isfinite(v):
                    continue
                series[tuple(r.get(k) for k in others)][r.get(x_key) if x_key else None].append(v)
            if not series:
                continue
            fig, ax = plt.subplots(figsize=(6.4, 4))
            def order(kv, others=others):  # the grid's own order of the other keys' values
                return [grid[k].index(v) if v in grid[k] else 0 for k, v in zip(others, kv[0])]

            for i, (label, by_x) in enumerate(sorted(series.items(), key=order)):
                pos = [x for x in xs if x in by_x]
                at = np.array(pos, dtype=float) if numeric else np.array([xs.index(x) for x in pos], dtype=float)
                vals = [np.array(by_x[x]) for x in pos]
                mean = np.array([v.mean() for v in vals])
                sd = np.array([v.std() for v in vals])
                name = ", ".join(f"{k}={v}" for k, v in zip(others, label)) or m
                ax.errorbar(at, mean, yerr=sd, marker="o", capsize=3, color=f"C{i % 10}", label=name)
                ax.fill_between(at, [v.min() for v in vals], [v.max() for v in vals], color=f"C{i % 10}", alpha=0.15)
            n_seeds = max((len(v) for s in series.values() for v in s.values()), default=0)
            positive = all(v > 0 for s in series.values() for vs in s.values() for v in vs)
            if positive and _spread(series) > 50:
                ax.set_yscale("log")
            if numeric and min(xs) > 0 and max(xs) / min(xs) >= 20:
                ax.set_xscale("log")
            if not numeric:
                ax.set_xticks(range(len(xs)), [str(x) for x in xs])
            ax.set(xlabel=x_key or "", ylabel=m,
                   title=f"{m} vs {x_key or 'trial'} (mean ± SD over {n_seeds} seeds; band: min–max)")
            if len(series) > 1 or others:
                ax.legend(fontsize=8)
            figs.append((f"{m} vs {x_key}", fig))
    return figs


def _spread(series) -> float:
    vals = [v for s in series.values() for vs in s.values() for v in vs]
    return max(vals) / min(vals) if vals and min(vals) > 0 else 0.0


def write_sweep_report(store: Store, sweep_id: str) -> Path:
    """<runs root>/sweeps/<id>/report.html: progress, figures of every metric vs every gridded key, the table."""
    import base64
    import html
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from priorlab.viz.report import _page, _table

    sw = load_sweep(store, sweep_id)
    rows, _, metrics = results(store, sweep_id)
    done = sum(r["status"] == "done" for r in rows)
    failed = sum(r["status"].startswith("failed") for r in rows)
    folder = sweep_folder(store, sweep_id)
    parts = [
        f"<h1>priorlab sweep · {html.escape(sw['experiment'])}</h1>",
        (
            f"<p class='sub'>Sweep <code>{html.escape(sweep_id)}</code> · {done}/{len(rows)} trials done"
            f"{f' · {failed} failed' if failed else ''} · seeds {html.escape(str(sw.get('seeds')))}</p>"
        ),
        "<h2>Plan</h2>",
        _table([{"key": k, "values": ", ".join(map(str, v))} for k, v in sw["grid"].items()]
               + [{"key": f"{k} (fixed)", "values": str(v)} for k, v in sw["base"].items()]),
    ]
    figs = metric_figures(rows, sw["grid"], metrics)
    if figs:
        parts.append("<h2>Metrics vs parameters</h2><div class='grid'>")
        for title, fig in figs:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            plt.close(fig)
            data = base64.b64encode(buf.getvalue()).decode()
            parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(title)}'>"
                         f"<figcaption>{html.escape(title)}</figcaption></figure>")
        parts.append("</div>")
    parts.append("<h2>Trials</h2><p>Each trial is an ordinary run: <code>priorlab show RUN</code> "
                 "or its report page under the runs root.</p>")
    parts.append(_table(rows))
    path = folder / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(_page(f"priorlab sweep {sweep_id}", "\n".join(parts)))
    os.replace(tmp, path)
    return path
