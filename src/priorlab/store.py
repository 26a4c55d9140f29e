"""Run folders and the SQLite index: every table and query of the index lives here.

Layout under the runs root (``$PRIORLAB_HOME``, default ``./runs``)::

    index.sqlite               one row per run, one row per metric, one row per sweep (WAL mode)
    <experiment>/<id>/         finished runs
    <experiment>/.partial-<id>/  a run being written (or killed while running)
    <experiment>/.failed-<id>/   a run that raised or diverged
    sweeps/<sweep id>/         a sweep's page and results files

A run folder only ever appears under its final name by an atomic rename once complete, so a folder
without the ``.partial-``/``.failed-`` prefix is always finished.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    seed INTEGER,
    created REAL NOT NULL,
    finished REAL,
    config TEXT NOT NULL,
    sweep_id TEXT,
    trial_key TEXT,
    UNIQUE (sweep_id, trial_key)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS metrics_name ON metrics(name);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep_id);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    created REAL NOT NULL,
    total INTEGER NOT NULL,
    spec TEXT NOT NULL
);
"""


def runs_root(root: str | Path | None = None) -> Path:
    if root is not None:
        return Path(root)
    return Path(os.environ.get("PRIORLAB_HOME", "runs"))


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class Store:
    """The runs root and its index."""

    def __init__(self, root: str | Path | None = None):
        self.root = runs_root(root).resolve()

    @property
    def index_path(self) -> Path:
        return self.root / "index.sqlite"

    @contextmanager
    def connect(self):
        self.root.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.index_path, timeout=60, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=60000")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(SCHEMA)
            con.row_factory = sqlite3.Row
            yield con
        finally:
            con.close()

    # --- writing ---------------------------------------------------------------------------
    def begin(
        self,
        run_id: str,
        experiment: str,
        path: Path,
        config: dict[str, Any],
        seed: int | None,
        sweep_id: str | None = None,
        trial_key: str | None = None,
    ) -> None:
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            if sweep_id is not None:
                # a trial re-run after a crash replaces its stale, unfinished row
                con.execute(
                    "DELETE FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE sweep_id=? AND "
                    "trial_key=? AND status != 'done')",
                    (sweep_id, trial_key),
                )
                con.execute(
                    "DELETE FROM runs WHERE sweep_id=? AND trial_key=? AND status != 'done'",
                    (sweep_id, trial_key),
                )
            con.execute(
                "INSERT INTO runs (id, experiment, path, status, seed, created, config, sweep_id, trial_key) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (run_id, experiment, str(path), seed, time.time(), json.dumps(config), sweep_id, trial_key),
            )
            con.execute("COMMIT")

    def finish(self, run_id: str, status: str, path: Path, metrics: dict[str, float]) -> None:
        """Record the outcome and the metrics in one transaction."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "UPDATE runs SET status=?, path=?, finished=? WHERE id=?",
                (status, str(path), time.time(), run_id),
            )
            con.executemany(
                "INSERT OR REPLACE INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                [(run_id, k, _num(v)) for k, v in metrics.items()],
            )
            con.execute("COMMIT")

    # --- reading ---------------------------------------------------------------------------
    def runs(self, experiment: str | None = None, sweep_id: str | None = None) -> list[dict[str, Any]]:
        if not self.index_path.exists():
            return []
        q = "SELECT * FROM runs"
        args: list[Any] = []
        conds = []
        if experiment:
            conds.append("experiment=?")
            args.append(experiment)
        if sweep_id:
            conds.append("sweep_id=?")
            args.append(sweep_id)
        if conds:
            q += " WHERE " + " AND ".join(conds)
        q += " ORDER BY created"
        with self.connect() as con:
            rows = [dict(r) for r in con.execute(q, args)]
            mets: dict[str, dict[str, float]] = {}
            for r in con.execute("SELECT run_id, name, value FROM metrics"):
                mets.setdefault(r["run_id"], {})[r["name"]] = r["value"]
        for r in rows:
            r["metrics"] = mets.get(r["id"], {})
            r["config"] = json.loads(r["config"])
        return rows

    def find(self, ref: str) -> dict[str, Any] | None:
        """A run by id, unique id prefix, or folder path."""
        rows = self.runs()
        exact = [r for r in rows if r["id"] == ref]
        if exact:
            return exact[0]
        p = Path(ref)
        if p.exists():
            rp = str(p.resolve())
            hit = [r for r in rows if r["path"] == rp]
            if hit:
                return hit[0]
        pref = [r for r in rows if r["id"].startswith(ref)]
        return pref[0] if len(pref) == 1 else None

    # --- sweeps ----------------------------------------------------------------------------
    # A sweep's row holds its plan as JSON (``spec``: base, grid, seeds and every trial's key and values); its
    # trials are ordinary runs whose rows carry (sweep_id, trial_key).
    def save_sweep(self, sweep_id: str, experiment: str, spec: dict[str, Any]) -> None:
        """Record a planned sweep; ``spec["trials"]`` is the list of ``{"key", "values"}`` of every trial."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO sweeps (id, experiment, created, total, spec) VALUES (?, ?, ?, ?, ?)",
                (sweep_id, experiment, time.time(), len(spec["trials"]), json.dumps(spec)),
            )

    def load_sweep(self, sweep_id: str) -> dict[str, Any] | None:
        """``{"id", "experiment", "created", "total", **spec}`` of a sweep, or None."""
        if not self.index_path.exists():
            return None
        with self.connect() as con:
            row = con.execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            return None
        spec = json.loads(row["spec"])
        return {"id": row["id"], "experiment": row["experiment"], "created": row["created"], "total": row["total"],
                **spec}

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep (oldest first): id, experiment, created, total and its trials done / failed / running."""
        if not self.index_path.exists():
            return []
        with self.connect() as con:
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

    def trial_rows(self, sweep_id: str) -> dict[str, dict[str, Any]]:
        """trial_key -> its index row (with metrics) for one sweep."""
        return {r["trial_key"]: r for r in self.runs(sweep_id=sweep_id)}

    def trial_statuses(self, sweep_id: str) -> dict[str, str]:
        """trial_key -> status for one sweep (a cheap query for progress bars)."""
        with self.connect() as con:
            rows = con.execute("SELECT trial_key, status FROM runs WHERE sweep_id=?", (sweep_id,))
            return {r["trial_key"]: r["status"] for r in rows}

    def mark_lost(self, sweep_id: str, keys: list[str], why: str) -> None:
        """Trials of a worker that died: their rows still 'running' become ``failed: <why>``."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("UPDATE runs SET status=? WHERE sweep_id=? AND trial_key=? AND status='running'",
                            [(f"failed: {why}", sweep_id, k) for k in keys])
            con.execute("COMMIT")

    def drop_stale(self, sweep_id: str) -> None:
        """Before a resume: remove half-written folders of trials a killed sweep left 'running'."""
        for r in self.runs(sweep_id=sweep_id):
            p = Path(r["path"])
            if r["status"] == "running" and p.name.startswith(".partial-") and self.root in p.parents:
                shutil.rmtree(p, ignore_errors=True)

    def sweep_folder(self, sweep_id: str) -> Path:
        """<runs root>/sweeps/<sweep id>/ (created)."""
        p = self.root / "sweeps" / sweep_id
        p.mkdir(parents=True, exist_ok=True)
        return p


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f
