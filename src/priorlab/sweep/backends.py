"""Running a sweep's trial groups: a local process pool or Ray tasks, with a progress bar read from the index.

Both backends call :func:`run_group` in a worker for each group of trials and record a group whose worker died as
``failed: worker lost`` / ``failed: ray task lost``; a failing trial never stops the sweep (the runner records it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from priorlab.config import UserError
from priorlab.store import Store
from priorlab.sweep.plan import Trial

_started = False  # whether this worker process has begun its first group (its start-up is counted once)


def _process_age() -> float | None:
    """Seconds since this process was created (from /proc; None where there is no /proc)."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


def run_group(
    experiment: str, sweep_id: str, trials: list[tuple[str, dict]], root: str, device: str, threads: int | None,
    figures: str = "summary", startup: bool = False,
) -> list[tuple[str, str]]:
    """Worker entry point: run one group of trials, return (trial_key, status) for each. Never raises for a
    failing trial (the runner records it); a trial already done elsewhere is reported as 'duplicate'.

    ``startup``: this is a local pool worker; its start-up (process spawn and imports, the experiment's included,
    until its first group begins) is split evenly over its first group's trials as shared ``startup_s``."""
    global _started
    import sqlite3

    if threads:
        import torch

        torch.set_num_threads(threads)
    from priorlab.experiments import load
    from priorlab.runner import run_batch

    load(experiment)
    startup_s = None
    if startup and not _started:
        startup_s = _process_age() or 0.0
    _started = True
    keys = [k for k, _ in trials]
    try:
        runs = run_batch(experiment, [v for _, v in trials], trial_keys=keys, sweep_id=sweep_id, root=root,
                         device=device, quiet=True, argv=["priorlab", "sweep", experiment, "--trial"],
                         figures="none" if figures == "summary" else figures, startup_s=startup_s)
        return [(k, r.status) for k, r in zip(keys, runs)]
    except sqlite3.IntegrityError:
        if len(trials) == 1:
            return [(keys[0], "duplicate")]
        # one of the group is done already (a stray worker): run them one at a time
        out = []
        for k, v in trials:
            out += run_group(experiment, sweep_id, [(k, v)], root, device, threads, figures)
        return out


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when the sweep's main process dies (SIGKILL or OOM kill included), so no
    worker lives on writing trials: the kernel's parent-death signal on Linux, and a watchdog thread everywhere."""
    import signal
    import threading
    import time

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    from priorlab.store import HELD_LOCKS

    for fd in list(HELD_LOCKS):  # a forked worker's copy of the sweep's lock (spawned workers have none)
        try:
            os.close(fd)
        except OSError:
            pass
    HELD_LOCKS.clear()
    global _started
    _started = False  # a forked worker has begun no group yet, whatever the main process's copy says
    os.environ["PRIORLAB_SWEEP_MAIN_PID"] = str(parent_pid)  # the `after_commits:N` kill point kills the sweep

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="priorlab-parent-watchdog", daemon=True).start()


class Bar:
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
            self.task = self.prog.add_task(label, total=len(keys), failed="")
        self.started = False  # rich's refresh thread starts at the first refresh (after the workers are forked)

    def _statuses(self) -> dict[str, str]:
        return {k: s for k, s in self.store.trial_statuses(self.sweep_id).items() if k in self.keys}

    def refresh(self) -> None:
        finished = [s for s in self._statuses().values() if s != "running"]
        self.done = len(finished)
        self.failed = sum(1 for s in finished if s != "done")
        if self.prog:
            if not self.started:
                self.prog.start()
                self.started = True
            self.prog.update(self.task, completed=self.done,
                             failed=f"[red]{self.failed} failed" if self.failed else "")

    def close(self) -> None:
        """Final count: every trial of this pass without a `done` row (failed, lost or never started) failed."""
        self.refresh()
        self.failed = len(self.keys) - sum(1 for s in self._statuses().values() if s == "done")
        if self.prog and self.started:
            self.prog.stop()


def _payload(group: list[Trial]) -> list[tuple[str, dict]]:
    return [(t.key, t.values) for t in group]


def start_method(device: str, threads: int = 1) -> str:
    """``fork`` where it is safe and cheap — Linux, a CPU sweep, one torch thread per worker (a forked child must not
    enter an OpenMP pool its parent may have started), torch loaded here without CUDA initialised and no other thread
    running — so workers start with this process's imports (torch, the experiment) instead of importing
    them again (seconds per worker); ``spawn`` otherwise (workers import torch afresh: no CUDA state is copied)."""
    import threading

    torch = sys.modules.get("torch")
    if not sys.platform.startswith("linux") or torch is None or threading.active_count() > 1 or threads != 1:
        return "spawn"
    if device not in ("cpu", "auto") or torch.cuda.is_initialized():
        return "spawn"
    if device == "auto" and torch.cuda.is_available():
        return "spawn"
    return "fork"


def preload_page_libraries() -> None:
    """Import the sweep page's libraries (matplotlib, pyarrow) in a background thread while the workers train: this
    process only waits for them meanwhile."""
    import threading

    def load() -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        except Exception:  # noqa: BLE001 - only a head start: the page imports what it needs itself
            pass

    threading.Thread(target=load, name="priorlab-page-preload", daemon=True).start()


def run_local(experiment: str, sweep_id: str, groups: list[list[Trial]], store: Store, device: str, workers: int,
              bar: Bar, figures: str = "summary") -> None:
    """A pool of ``workers`` processes (forked or spawned: :func:`start_method`), each with CPU count / workers torch
    threads."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context(start_method(device, threads))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with_parent,
                               initargs=(os.getpid(),))
    try:
        futures = {
            pool.submit(run_group, experiment, sweep_id, _payload(g), str(store.root), device, threads, figures,
                        True): g
            for g in groups
        }
        preload_page_libraries()  # after the workers are forked: no thread of this process is copied into them
        while futures:
            finished, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
            for fut in finished:
                g = futures.pop(fut)
                try:
                    fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker died: record, keep going
                    store.mark_lost(sweep_id, [t.key for t in g], f"worker lost ({exc.__class__.__name__})")
            bar.refresh()
    finally:
        # every group is back: the workers exit on their own (tearing torch down takes a second) while the sweep
        # writes its page; a worker cannot outlive the sweep's process (die_with_parent)
        pool.shutdown(wait=False, cancel_futures=True)


def run_ray(experiment: str, sweep_id: str, groups: list[list[Trial]], store: Store, device: str, workers: int,
            bar: Bar, address: str | None, gpu_fraction: float, figures: str = "summary") -> None:
    """One Ray task per group on the cluster at ``address``, or on a private local instance of ``workers`` CPUs."""
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
        pending = {task.remote(experiment, sweep_id, _payload(g), str(store.root), device, 1, figures): g
                   for g in groups}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                g = pending.pop(ref)
                try:
                    ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - task or worker failure: record, keep going
                    store.mark_lost(sweep_id, [t.key for t in g], f"ray task lost ({exc.__class__.__name__})")
            bar.refresh()
    finally:
        if started:
            ray.shutdown()
