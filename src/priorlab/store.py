"""Run folders and the SQLite index: every table and query of the index lives here.

Layout under the runs root (``$PRIORLAB_HOME``, default ``./runs``)::

    index.sqlite               one row per run, one row per metric, one row per sweep (WAL mode)
    <experiment>/<id>/         finished runs
    <experiment>/.partial-<id>/  a run being written (or killed while running)
    <experiment>/.failed-<id>/   a run that raised or diverged
    sweeps/<sweep id>/         a sweep's page and results files (and its lock file while it runs)

The commit protocol (docs/reliability.md): a run's row is inserted (``running``, with the pid and start time of its
process) *before* its ``.partial-<id>`` folder is made; when the run ends its row is committed with its final status,
metrics and final path *before* the folder is renamed there. So after a kill at any instruction the index says what the
folders will be, and :meth:`Store.recover` (run by every writing command on open) finishes the interrupted step: it
renames a committed ``.partial-`` into place, marks ``running`` rows of dead processes ``failed: lost`` (their
folder becomes ``.failed-<id>``) and removes ``.partial-`` folders that have no row. A folder without the
``.partial-``/``.failed-`` prefix is always finished.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import socket
import sqlite3
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from priorlab.errors import UserError

# file descriptors of the sweep locks this process holds: a forked sweep worker closes its copies (the lock must go
# with the sweep's main process, not linger in a worker that is still exiting)
HELD_LOCKS: set[int] = set()

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
    owner TEXT,
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
RUN_COLUMNS = {"id", "experiment", "path", "status", "seed", "created", "finished", "config", "sweep_id", "trial_key"}
SWEEP_COLUMNS = {"id", "experiment", "created", "total", "spec"}


def runs_root(root: str | Path | None = None) -> Path:
    if root is not None:
        if str(root) == "":
            raise UserError("the runs root is an empty path (give a folder)")
        return Path(root)
    env = os.environ.get("PRIORLAB_HOME")
    if env is not None and env.strip() == "":
        raise UserError("PRIORLAB_HOME is set but empty (unset it, or set it to a folder)")
    return Path(env if env is not None else "runs")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


# ----------------------------------------------------------------------------------------------
# which process owns a row: host, pid and the process's start time (a reused pid is not the same process)


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, after the command name


def owner_tag(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}"


def owner_alive(owner: str | None) -> bool:
    """False only when the row's process is known to be gone (same host, pid dead or reused)."""
    if not owner:
        return False
    try:
        host, pid_s, start = owner.rsplit(":", 2)
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True  # another machine sharing the runs root: cannot tell
    if Path("/proc").is_dir():
        now = _start_time(pid)
        if now is None:
            return False
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return not start or now == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _os_message(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


class Store:
    """The runs root and its index."""

    def __init__(self, root: str | Path | None = None):
        self.root = runs_root(root).resolve()

    @property
    def index_path(self) -> Path:
        return self.root / "index.sqlite"

    def _unreadable(self, exc: BaseException) -> UserError:
        text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        return UserError(f"index unreadable: {self.index_path}: {text[:200]}, run `priorlab doctor`")

    def writable(self) -> bool:
        probe = self.root if self.root.exists() else self.root.parent
        return probe.is_dir() and os.access(probe, os.W_OK)

    def _check_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"the runs root '{self.root}' is not a folder")

    @contextmanager
    def connect(self, write: bool = True):
        """A connection to the index. ``write=False`` opens it read-only (no WAL switch, no schema: works on a
        read-only runs root). sqlite errors and damaged rows become one-line UserErrors naming `priorlab doctor`."""
        self._check_root()
        if write:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create the runs root '{self.root}': {_os_message(exc)}") from None
        if self.index_path.exists() and not self.index_path.is_file():
            raise self._unreadable(OSError("not a file"))
        try:
            con = self._open(write)
        except sqlite3.Error as exc:
            raise self._classify(exc) from None
        try:
            yield con
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._classify(exc) from None
        finally:
            con.close()

    def _classify(self, exc: sqlite3.Error) -> UserError:
        text = str(exc)
        if "full" in text:
            return UserError(f"no space left on the device of '{self.root}' (the index could not be written)")
        if "readonly" in text.replace(" ", "").replace("-", "") or not self.writable():
            return UserError(f"the runs root '{self.root}' is read-only (the index could not be written)")
        return self._unreadable(exc)

    def _open(self, write: bool) -> sqlite3.Connection:
        if write:
            con = sqlite3.connect(self.index_path, timeout=60, isolation_level=None)
            try:
                con.execute("PRAGMA busy_timeout=60000")
                if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute("PRAGMA foreign_keys=ON")
                self._ensure_schema(con)
            except BaseException:
                con.close()
                raise
        else:
            uri = self.index_path.as_uri() + "?mode=ro"
            try:
                con = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
                con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                # a WAL index on a read-only folder cannot create its -shm file: read it as immutable
                con = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
            con.execute("PRAGMA busy_timeout=60000")
            self._check_columns(con)
        con.row_factory = sqlite3.Row
        return con

    def _ensure_schema(self, con: sqlite3.Connection) -> None:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"runs", "metrics", "sweeps"} <= tables:
            con.executescript(SCHEMA)
        cols = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        if "owner" not in cols and RUN_COLUMNS <= cols:
            con.execute("ALTER TABLE runs ADD COLUMN owner TEXT")  # an index from before the commit protocol
        self._check_columns(con)

    def _check_columns(self, con: sqlite3.Connection) -> None:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return  # an empty file: read as no runs
        for table, need in (("runs", RUN_COLUMNS), ("sweeps", SWEEP_COLUMNS)):
            cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            if not need <= cols:
                raise sqlite3.DatabaseError(f"table '{table}' lacks columns {', '.join(sorted(need - cols))} "
                                            "(not a priorlab index)")

    def _has_tables(self, con: sqlite3.Connection) -> bool:
        return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='runs'").fetchone() is not None

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
        """Insert the run's ``running`` row (owned by this process). A sweep trial's stale, unfinished row (and its
        folder) is replaced; a trial that is done, or running in a live process, raises sqlite3.IntegrityError."""
        self.begin_many([(run_id, experiment, path, config, seed, sweep_id, trial_key)])

    def begin_many(self, rows: list[tuple[str, str, Path, dict[str, Any], int | None, str | None, str | None]]) -> None:
        """:meth:`begin` for several runs ``(run_id, experiment, path, config, seed, sweep_id, trial_key)`` in one
        transaction: every row is inserted, or none (an IntegrityError for one trial rolls back all)."""
        stale: list[Path] = []
        owner, now = owner_tag(), time.time()
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                for run_id, experiment, path, config, seed, sweep_id, trial_key in rows:
                    if sweep_id is not None:
                        old = con.execute("SELECT id, path, status, owner FROM runs WHERE sweep_id=? AND trial_key=?",
                                          (sweep_id, trial_key)).fetchone()
                        if old is not None and old["status"] == "running" and owner_alive(old["owner"]):
                            raise sqlite3.IntegrityError(f"trial '{trial_key}' is running in another process")
                        if old is not None and old["status"] != "done":
                            con.execute("DELETE FROM metrics WHERE run_id=?", (old["id"],))
                            con.execute("DELETE FROM runs WHERE id=?", (old["id"],))
                            stale.append(Path(old["path"]))
                    con.execute(
                        "INSERT INTO runs (id, experiment, path, status, seed, created, config, sweep_id, trial_key, "
                        "owner) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                        (run_id, experiment, str(path), seed, now, json.dumps(config), sweep_id, trial_key, owner),
                    )
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        for p in stale:
            self._remove_unfinished(p)

    def _remove_unfinished(self, p: Path) -> None:
        """Remove a ``.partial-``/``.failed-`` folder under the runs root (never a finished one)."""
        if p.name.startswith((".partial-", ".failed-")) and self.root in p.parents:
            shutil.rmtree(p, ignore_errors=True)

    def finish(self, run_id: str, status: str, path: Path, metrics: dict[str, float]) -> None:
        """Record the outcome, the final path and the metrics in one transaction (before the folder moves there)."""
        self.finish_many([(run_id, status, path, metrics)])

    def finish_many(self, rows: list[tuple[str, str, Path, dict[str, float]]]) -> None:
        """:meth:`finish` for several runs ``(run_id, status, path, metrics)`` in one transaction (all or none)."""
        now = time.time()
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("UPDATE runs SET status=?, path=?, finished=? WHERE id=?",
                                [(status, str(path), now, run_id) for run_id, status, path, _ in rows])
                con.executemany(
                    "INSERT OR REPLACE INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                    [(run_id, k, _num(v)) for run_id, _, _, metrics in rows for k, v in metrics.items()],
                )
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def forget_many(self, run_ids: list[str]) -> None:
        """Delete several runs' rows and metrics in one transaction."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("DELETE FROM metrics WHERE run_id=?", [(r,) for r in run_ids])
            con.executemany("DELETE FROM runs WHERE id=?", [(r,) for r in run_ids])
            con.execute("COMMIT")

    def set_status(self, run_id: str, status: str, path: Path | None = None) -> None:
        with self.connect() as con:
            if path is None:
                con.execute("UPDATE runs SET status=? WHERE id=?", (status, run_id))
            else:
                con.execute("UPDATE runs SET status=?, path=? WHERE id=?", (status, str(path), run_id))

    def forget(self, run_id: str) -> None:
        """Delete a run's row and metrics (a run that never started its work)."""
        self.forget_many([run_id])

    # --- recovery ----------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Finish what a killed process left half-done (see the module docstring); returns what was done."""
        if not self.index_path.is_file() or not self.writable():
            return []
        done: list[str] = []
        with self.connect() as con:
            rows = [dict(r) for r in con.execute("SELECT id, path, status, owner FROM runs")]
        known = {r["id"] for r in rows}
        for r in rows:
            path = Path(r["path"])
            partial = path.parent / f".partial-{r['id']}"
            if r["status"] == "running":
                if owner_alive(r["owner"]):
                    continue
                dest = path
                if path.name == partial.name and path.is_dir():
                    dest = path.parent / f".failed-{r['id']}"
                    _mark_env(path, "failed: lost")
                    os.replace(path, dest)
                self.set_status(r["id"], "failed: lost", dest)
                done.append(f"run {r['id']}: its process died while running; marked failed: lost")
            elif path.name == partial.name and path.is_dir():  # a failed row (worker lost) left at .partial-
                dest = path.parent / f".failed-{r['id']}"
                _mark_env(path, r["status"])
                os.replace(path, dest)
                self.set_status(r["id"], r["status"], dest)
                done.append(f"run {r['id']}: {r['status']}; moved its half-written folder to {dest.name}")
            elif not path.exists() and partial.is_dir():
                if path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
                try:
                    os.replace(partial, path)
                except OSError as exc:
                    done.append(f"run {r['id']}: could not move {partial} into place ({_os_message(exc)})")
                    continue
                done.append(f"run {r['id']}: committed as {r['status']}; moved its folder into place")
        for exp in self._experiment_dirs():
            for p in exp.glob(".partial-*"):
                if p.name.removeprefix(".partial-") not in known:
                    shutil.rmtree(p, ignore_errors=True)
                    done.append(f"removed {p}: a half-written folder with no index row")
        return done

    def _experiment_dirs(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_dir() and p.name != "sweeps"]
        except OSError:
            return []

    # --- reading ---------------------------------------------------------------------------
    def runs(self, experiment: str | None = None, sweep_id: str | None = None) -> list[dict[str, Any]]:
        if not self.index_path.exists():
            self._check_root()
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
        with self.connect(write=False) as con:
            if not self._has_tables(con):
                return []
            rows = [dict(r) for r in con.execute(q, args)]
            mets: dict[str, dict[str, float]] = {}
            mq = "SELECT run_id, name, value FROM metrics"
            if sweep_id:
                mq += " WHERE run_id IN (SELECT id FROM runs WHERE sweep_id=?)"
            for r in con.execute(mq, [sweep_id] if sweep_id else []):
                mets.setdefault(r["run_id"], {})[r["name"]] = r["value"]
        for r in rows:
            r["metrics"] = mets.get(r["id"], {})
            try:
                r["config"] = json.loads(r["config"])
            except (TypeError, ValueError):
                raise self._unreadable(ValueError(f"run {r['id']} has a damaged config")) from None
        return rows

    def find(self, ref: str) -> dict[str, Any] | None:
        """A run by id, unique id prefix, or folder path."""
        rows = self.runs()
        exact = [r for r in rows if r["id"] == ref]
        if exact:
            return exact[0]
        try:
            p = Path(ref)
            if p.exists():
                rp = str(p.resolve())
                hit = [r for r in rows if r["path"] == rp]
                if hit:
                    return hit[0]
        except (OSError, ValueError):
            pass
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
            self._check_root()
            return None
        with self.connect(write=False) as con:
            if not self._has_tables(con):
                return None
            row = con.execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            return None
        try:
            spec = json.loads(row["spec"])
        except (TypeError, ValueError):
            raise self._unreadable(ValueError(f"sweep {sweep_id} has a damaged plan")) from None
        return {"id": row["id"], "experiment": row["experiment"], "created": row["created"], "total": row["total"],
                **spec}

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep (oldest first): id, experiment, created, total and its trials done / failed / running."""
        if not self.index_path.exists():
            self._check_root()
            return []
        with self.connect(write=False) as con:
            if not self._has_tables(con):
                return []
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
        with self.connect(write=False) as con:
            rows = con.execute("SELECT trial_key, status FROM runs WHERE sweep_id=?", (sweep_id,))
            return {r["trial_key"]: r["status"] for r in rows}

    def mark_lost(self, sweep_id: str, keys: list[str], why: str) -> None:
        """Trials of a worker that died: their rows still 'running' become ``failed: <why>``."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("UPDATE runs SET status=? WHERE sweep_id=? AND trial_key=? AND status='running'",
                            [(f"failed: {why}", sweep_id, k) for k in keys])
            con.execute("COMMIT")

    def sweep_folder(self, sweep_id: str) -> Path:
        """<runs root>/sweeps/<sweep id>/ (created)."""
        p = self.root / "sweeps" / sweep_id
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the sweep folder '{p}': {_os_message(exc)}") from None
        return p

    @contextmanager
    def sweep_lock(self, sweep_id: str):
        """Hold ``sweeps/<id>/.lock`` (an flock, released by the kernel when the process dies) while a sweep runs;
        a second process asking for it gets a one-line UserError."""
        import fcntl

        path = self.sweep_folder(sweep_id) / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                raise UserError(f"sweep {sweep_id} is already running (pid {holder}); wait for it to finish") \
                    from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            HELD_LOCKS.add(fd)
            yield
        finally:
            HELD_LOCKS.discard(fd)
            os.close(fd)


# ----------------------------------------------------------------------------------------------
# priorlab doctor: check the index against itself and against the folders; --repair fixes what can be fixed


def doctor(store: Store, repair: bool = False) -> tuple[list[str], list[str]]:
    """(problems left, what was done). Without ``repair`` only the commit protocol's own recovery runs (as on any
    writing open); with it, damaged indexes are set aside and rebuilt from the folders, orphans removed or indexed."""
    actions: list[str] = []
    store._check_root()
    if not store.root.exists():
        return [], []
    writable = store.writable() and os.access(store.root, os.W_OK)
    if repair and not writable:
        raise UserError(f"the runs root '{store.root}' is read-only: --repair cannot fix anything there")
    damage = _index_damage(store)
    if damage is not None:
        if not repair:
            return [damage], actions
        aside = store.index_path.with_name(f"index.sqlite.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(store.index_path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        actions.append(f"moved the damaged index to {aside.name}; rebuilt it from the run folders")
    if writable and (store.index_path.exists() or repair):
        actions += store.recover()
    problems: list[str] = []
    if not store.index_path.exists() and not repair:
        found = _finished_folders(store)
        return ([f"no index, but {len(found)} run folders (run `priorlab doctor --repair` to index them)"]
                if found else []), actions
    con_mode = writable
    with store.connect(write=con_mode) as con:
        if not store._has_tables(con):
            return problems, actions
        fk = con.execute("SELECT COUNT(*) FROM metrics WHERE run_id NOT IN (SELECT id FROM runs)").fetchone()[0]
        if fk:
            if repair:
                con.execute("DELETE FROM metrics WHERE run_id NOT IN (SELECT id FROM runs)")
                actions.append(f"deleted {fk} metric rows of no run")
            else:
                problems.append(f"{fk} metric rows belong to no run (foreign key check)")
        rows = [dict(r) for r in con.execute("SELECT id, path, status, owner, config FROM runs")]
    by_path = {r["path"]: r for r in rows}
    for r in rows:
        problems += _row_problems(store, r, repair, actions)
    for folder in _finished_folders(store):
        if str(folder) in by_path:
            continue
        if repair:
            actions.append(_import_folder(store, folder))
        else:
            problems.append(f"{folder}: a finished run folder with no index row")
    for exp in store._experiment_dirs():
        for folder in exp.glob(".failed-*"):
            if str(folder) not in by_path:
                if repair:
                    shutil.rmtree(folder, ignore_errors=True)
                    actions.append(f"removed {folder}: a failed run's folder with no index row")
                else:
                    problems.append(f"{folder}: a failed run's folder with no index row")
    return problems, actions


def _index_damage(store: Store) -> str | None:
    if not store.index_path.exists():
        return None
    try:
        with store.connect(write=False) as con:
            res = [r[0] for r in con.execute("PRAGMA quick_check")]
            if res != ["ok"]:
                return f"index unreadable: {store.index_path}: integrity check: {clip_text('; '.join(res))}"
            if store._has_tables(con):
                con.execute("SELECT id, config FROM runs LIMIT 1").fetchall()
    except UserError as exc:
        return str(exc).removesuffix(", run `priorlab doctor`")
    return None


def clip_text(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _row_problems(store: Store, r: dict[str, Any], repair: bool, actions: list[str]) -> list[str]:
    path = Path(r["path"])
    try:
        json.loads(r["config"])
    except (TypeError, ValueError):
        if not repair:
            return [f"run {r['id']}: its config in the index is damaged"]
        cfg = _read_yaml(path / "config.yaml")
        with store.connect() as con:
            con.execute("UPDATE runs SET config=? WHERE id=?", (json.dumps(cfg), r["id"]))
        actions.append(f"run {r['id']}: restored its config from {'config.yaml' if cfg else 'nothing (empty)'}")
    if r["status"] == "running" and not owner_alive(r["owner"]):
        return [f"run {r['id']}: 'running' but its process is gone"]
    if r["status"] == "done" and not (path / "env.json").is_file():
        if not repair:
            return [f"run {r['id']}: done in the index, but its folder {path} is missing"]
        store.forget(r["id"])
        actions.append(f"run {r['id']}: its folder {path} is gone; removed its index row")
    return []


def _finished_folders(store: Store) -> list[Path]:
    out = []
    for exp in store._experiment_dirs():
        try:
            out += [p for p in exp.iterdir() if p.is_dir() and not p.name.startswith(".") and
                    (p / "env.json").is_file()]
        except OSError:
            continue
    return sorted(out)


def _read_yaml(p: Path) -> dict[str, Any]:
    import yaml

    try:
        v = yaml.safe_load(p.read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return v if isinstance(v, dict) else {}


def _import_folder(store: Store, folder: Path) -> str:
    """Index a finished folder that has no row (an index lost or rebuilt)."""
    try:
        env = json.loads((folder / "env.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else {}
    except (OSError, ValueError) as exc:
        return f"{folder}: not indexed (unreadable env/metrics: {exc.__class__.__name__})"
    if not isinstance(env, dict) or env.get("status") != "done" or not isinstance(metrics, dict):
        return f"{folder}: not indexed (its env.json does not say done)"
    cfg = _read_yaml(folder / "config.yaml")
    run_id = str(env.get("run_id") or folder.name)
    with store.connect() as con:
        con.execute("BEGIN IMMEDIATE")
        if con.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone():
            con.execute("ROLLBACK")
            return f"{folder}: not indexed (another row has its id {run_id})"
        con.execute("INSERT INTO runs (id, experiment, path, status, seed, created, finished, config) "
                    "VALUES (?, ?, ?, 'done', ?, ?, ?, ?)",
                    (run_id, str(env.get("experiment") or folder.parent.name), str(folder),
                     cfg.get("seed") if isinstance(cfg.get("seed"), int) else None, folder.stat().st_mtime,
                     folder.stat().st_mtime, json.dumps(cfg)))
        con.executemany("INSERT OR REPLACE INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                        [(run_id, str(k), _num(v)) for k, v in metrics.items()])
        con.execute("COMMIT")
    return f"{folder}: indexed as run {run_id}"


def _mark_env(folder: Path, status: str) -> None:
    """Set env.json's status in a folder being moved aside (best effort)."""
    p = folder / "env.json"
    try:
        env = json.loads(p.read_text())
        env["status"] = status
        tmp = p.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(env, indent=2))
        os.replace(tmp, p)
    except (OSError, ValueError, TypeError):
        pass


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f
