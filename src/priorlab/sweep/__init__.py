"""Sweeps: a grid of configs x seeds, each trial an ordinary run tagged with the sweep id.

    priorlab sweep fit1d --grid activation=sigmoid,relu,cos --grid hidden=3,10,100 --seeds 0-4
    priorlab sweep --resume sw-20261122-221500-ab12cd       # runs exactly the trials without a `done` row
    priorlab sweeps                                         # sweeps with progress
    priorlab show sw-20261122-221500-ab12cd --format csv    # results table (table|csv|parquet)

Crash safety comes from the store: a trial's row is keyed (sweep_id, trial_key) UNIQUE, its folder is renamed into
place only when complete, and status + metrics are committed in one transaction. The sweep's plan (every trial's
key and config) is stored in the ``sweeps`` table of the same index.sqlite, so ``--resume`` needs nothing else.

- :mod:`priorlab.sweep.plan`: ``--grid`` / ``--seeds`` parsing, the grid's trials and their keys, grouping.
- :mod:`priorlab.sweep.backends`: ``local`` (a process pool over trial groups) and ``ray`` (Ray tasks on
  ``--ray-address`` or on a local instance started for the sweep).
- here: :func:`sweep` (plan or resume, run, write the page), :func:`results` (one row per trial) and
  :func:`write_sweep_report` (the page, drawn by :mod:`priorlab.viz.sweep`).

Trials that share an architecture are grouped and trained together when the experiment defines ``run_many`` (see
:func:`priorlab.runner.run_batch`); ``BATCH_KEYS`` in the experiment names the config keys that may differ inside a
group (default: ``seed``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from priorlab.config import UserError
from priorlab.store import Store
from priorlab.sweep.backends import Bar, run_local, run_ray
from priorlab.sweep.plan import MAX_TRIALS, Trial, check_size, expand, group_trials, new_sweep_id

__all__ = ["load_sweep", "results", "sweep", "write_results_parquet", "write_sweep_report"]


def load_sweep(store: Store, sweep_id: str) -> dict[str, Any] | None:
    """The stored sweep (``id``, ``experiment``, ``base``, ``grid``, ``seeds``, ``trials`` as :class:`Trial`), or None."""
    sw = store.load_sweep(sweep_id)
    if sw is not None:
        sw["trials"] = [Trial(t["key"], t["values"]) for t in sw["trials"]]
    return sw


def _plan(store: Store, experiment: str | None, grid, base, seeds, max_trials: int) -> dict[str, Any]:
    from priorlab.runner import prepare

    if experiment is None:
        raise UserError("missing EXPERIMENT (see `priorlab list`) or --resume SWEEP_ID")
    check_size(grid or {}, seeds, max_trials)
    trials = expand(base or {}, grid or {}, seeds)
    for t in trials:  # every trial's config is valid before anything runs
        prepare(experiment, t.values)
    sweep_id = new_sweep_id()
    spec = {"base": base or {}, "grid": grid or {}, "seeds": seeds,
            "trials": [{"key": t.key, "values": t.values} for t in trials]}
    store.save_sweep(sweep_id, experiment, spec)
    return load_sweep(store, sweep_id)


def _resume(store: Store, sweep_id: str, experiment: str | None, grid, base, seeds) -> dict[str, Any]:
    sw = load_sweep(store, sweep_id)
    if sw is None:
        raise UserError(f"no sweep '{sweep_id}' in {store.root} (see `priorlab sweeps`)")
    if experiment not in (None, sw["experiment"]):
        raise UserError(f"sweep '{sweep_id}' is of experiment '{sw['experiment']}', not '{experiment}'")
    if grid or seeds or base:
        raise UserError("--resume takes no --grid/--seeds/--set: the sweep's plan is stored")
    return sw


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
    max_trials: int = MAX_TRIALS,
    figures: str = "summary",
) -> dict[str, Any]:
    """Plan (or resume) a sweep and run its pending trials. Returns ``{"id", "total", "ran", "failed", "page"}``.

    ``batch=False`` runs every trial alone even when the experiment could train several together. A sweep of more
    than ``max_trials`` trials is refused before it is expanded. ``figures``: the trials' own figures — ``summary``
    (default: none per trial; the sweep page has its figures), ``all``, or ``none``; a trial's figures can be drawn
    later with ``priorlab show RUN --figures``. While it runs the sweep holds its lock
    (``sweeps/<id>/.lock``): a second ``--resume`` of the same sweep is refused with one line.
    """
    from priorlab.runner import check_figure_mode, resolve_device

    if backend not in ("local", "ray"):
        raise UserError(f"invalid --backend '{backend}' (allowed: local, ray)")
    if workers is not None and workers < 1:
        raise UserError(f"invalid --workers {workers} (allowed: integer ≥ 1)")
    if not isinstance(max_trials, int) or max_trials < 1:
        raise UserError(f"invalid --max-trials {max_trials} (allowed: integer ≥ 1)")
    resolve_device(device)
    check_figure_mode(figures)
    store = Store(root)
    if resume:
        sw = _resume(store, resume, experiment, grid, base, seeds)
    else:
        sw = _plan(store, experiment, grid, base, seeds, max_trials)
    with store.sweep_lock(sw["id"]):
        store.recover()  # trials a killed run of this sweep left half-done
        return _run_pending(store, sw, backend, workers, ray_address, gpu_fraction, device, quiet, batch, figures)


def _run_pending(store: Store, sw: dict[str, Any], backend: str, workers: int | None, ray_address: str | None,
                 gpu_fraction: float, device: str, quiet: bool, batch: bool, figures: str) -> dict[str, Any]:
    rows = store.trial_rows(sw["id"])
    todo = [t for t in sw["trials"] if rows.get(t.key, {}).get("status") != "done"]
    workers = workers or max(1, os.cpu_count() or 1)
    groups = group_trials(sw["experiment"], todo, workers, batch)
    bar = Bar(store, sw["id"], [t.key for t in todo], f"{sw['experiment']} {sw['id']}", quiet)
    try:
        if todo and backend == "local":
            run_local(sw["experiment"], sw["id"], groups, store, device, workers, bar, figures)
        elif todo:
            run_ray(sw["experiment"], sw["id"], groups, store, device, workers, bar, ray_address, gpu_fraction,
                    figures)
    finally:
        bar.close()
    page = write_sweep_report(store, sw["id"])
    write_results_parquet(store, sw["id"])
    return {"id": sw["id"], "total": len(sw["trials"]), "ran": len(todo), "failed": bar.failed, "page": page}


def results(store: Store, sweep_id: str) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """One row per trial: grid values, seed, status, metrics, run id; plus the grid and metric column names."""
    sw = load_sweep(store, sweep_id)
    rows_by_key = store.trial_rows(sweep_id)
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


def write_results_parquet(store: Store, sweep_id: str) -> Path | None:
    """<runs root>/sweeps/<id>/results.parquet: the :func:`results` table (grid keys, seed, status, metrics, run);
    None when pyarrow is not installed (the `ray` extra brings it)."""
    import json

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    rows, grid_keys, metrics = results(store, sweep_id)
    cols = [*grid_keys, "seed", "status", *metrics, "run"]
    cell = lambda v: json.dumps(v) if isinstance(v, list | dict) else v
    path = store.sweep_folder(sweep_id) / "results.parquet"
    try:
        table = pa.table({c: [cell(r.get(c)) for r in rows] for c in cols})
    except (pa.ArrowException, TypeError, ValueError):  # a column of mixed types: store each cell as text
        table = pa.table({c: [None if r.get(c) is None else str(cell(r.get(c))) for r in rows] for c in cols})
    pq.write_table(table, path)
    return path


def write_sweep_report(store: Store, sweep_id: str) -> Path:
    """<runs root>/sweeps/<id>/report.html: progress, figures of every metric vs every gridded key, the table."""
    from priorlab.viz.sweep import write_sweep_page

    rows, _, metrics = results(store, sweep_id)
    return write_sweep_page(store.sweep_folder(sweep_id) / "report.html", store.load_sweep(sweep_id), rows, metrics)
