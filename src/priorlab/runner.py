"""Running an experiment into a run folder: the one call behind the CLI, the Python API and sweeps."""

from __future__ import annotations

import io
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from priorlab import __version__
from priorlab.config import BaseConfig, build_config
from priorlab.context import RunContext
from priorlab.errors import Diverged, UserError
from priorlab.experiments import load as load_experiment
from priorlab.store import Store, new_run_id


# ----------------------------------------------------------------------------------------------
@dataclass
class Run:
    """A finished (or failed) run folder."""

    path: Path
    id: str
    experiment: str
    status: str
    config: dict[str, Any]
    metrics: dict[str, float]
    env: dict[str, Any]

    @property
    def figures(self) -> list[Path]:
        d = self.path / "figures"
        return sorted(d.iterdir()) if d.exists() else []

    def arrays(self) -> dict[str, np.ndarray]:
        p = self.path / "arrays.npz"
        if not p.exists():
            return {}
        with np.load(p) as z:
            return {k: z[k] for k in z.files}

    def __repr__(self) -> str:
        return f"Run({self.experiment} {self.id} {self.status} at {self.path})"


def load_run(ref: str | Path, root: str | Path | None = None) -> Run:
    """A run by folder path, or by id (or unique id prefix) in the index of the runs root (`root`, default
    ``$PRIORLAB_HOME``); a UserError when there is none."""
    p = Path(ref)
    path = ref
    if not p.is_dir():
        row = Store(root).find(str(ref))
        if row is None:
            raise UserError(f"no run '{ref}': not a run folder, nor a run id in {Store(root).root}")
        p = Path(row["path"])
    try:
        env = json.loads((p / "env.json").read_text())
        config = yaml.safe_load((p / "config.yaml").read_text()) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UserError(f"'{path}' is not a run folder ({exc.__class__.__name__})") from None
    if not isinstance(env, dict) or not isinstance(config, dict):
        raise UserError(f"'{path}' is not a run folder (env.json or config.yaml is not a mapping)")
    mp = p / "metrics.json"
    try:
        metrics = json.loads(mp.read_text()) if mp.exists() else {}
    except (OSError, ValueError) as exc:
        raise UserError(f"'{path}' has an unreadable metrics.json ({exc.__class__.__name__})") from None
    return Run(
        path=p.resolve(),
        id=env.get("run_id", p.name),
        experiment=env.get("experiment", ""),
        status=env.get("status", ""),
        config=config,
        metrics=metrics,
        env=env,
    )


# ----------------------------------------------------------------------------------------------
def resolve_device(device: str):
    import torch

    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise UserError(f"invalid --device '{device}' (allowed: auto, cpu, cuda)")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA device is available (use auto or cpu)")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if out.returncode == 0:
            dirty = subprocess.run(
                ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def _blas_info() -> dict[str, Any]:
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for i in threadpool_info()
        ]
    except Exception:  # noqa: BLE001 - informative only
        return []


def environment(device, seed: int, argv: list[str] | None) -> dict[str, Any]:
    import torch

    return {
        "priorlab": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "blas": _blas_info(),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "device": str(device),
        "cuda_device": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "git_commit": _git_commit(),
        "seed": seed,
        "command": argv if argv is not None else sys.argv,
    }


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_jsonable))
    os.replace(tmp, path)


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _clean_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    out = {}
    for k, v in (metrics or {}).items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        out[str(k)] = f if math.isfinite(f) else None
    return out


# Metrics computed from RDMs or representation similarity: a NaN there is a wrong answer (a constant or NaN
# representation), not an undefined statistic. Other metrics may be NaN when undefined (a CI of one repeat, a mean over
# no failed seeds); a run whose every metric is NaN has no answer at all.
_SIMILARITY = ("rdm", "rsa", "rho", "cka", "similarity", "spearman", "kendall")


def _nan_in(metrics: dict[str, Any], arrays: dict[str, np.ndarray]) -> str | None:
    """What holds a NaN that makes the run's answer wrong: an RDM array, a similarity metric, or every metric."""
    values = {}
    for k, v in (metrics or {}).items():
        try:
            values[str(k)] = float(v)
        except (TypeError, ValueError):
            continue
    nan = [k for k, f in values.items() if math.isnan(f)]
    bad = nan if values and len(nan) == len(values) else [k for k in nan if any(w in k.lower() for w in _SIMILARITY)]
    for k, a in (arrays or {}).items():
        if "rdm" in k.lower() and np.issubdtype(np.asarray(a).dtype, np.floating) and np.isnan(a).any():
            bad.append(f"array {k}")
    if not bad:
        return None
    return ", ".join(bad[:3]) + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")


# ----------------------------------------------------------------------------------------------
# Kill points: PRIORLAB_KILL_AT=<point> makes the process SIGKILL itself there (crash-consistency tests).
KILL_POINTS = ("before_work", "mid_training", "after_figures", "after_index_commit", "after_rename")


def _kill_point(point: str) -> None:
    if os.environ.get("PRIORLAB_KILL_AT") == point:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _killing_progress(progress):
    """ctx.progress that kills the process after the first training step (the `mid_training` point)."""

    def wrapped(iterable=None, total=None, description=""):
        for i, item in enumerate(progress(iterable, total=total, description=description)):
            if i == 1:
                _kill_point("mid_training")
            yield item

    return wrapped


def prepare(experiment: str, values: dict[str, Any]) -> tuple[Any, BaseConfig]:
    """Validate an experiment name and its config values (no side effects)."""
    module = load_experiment(experiment)
    config = build_config(module.Config, values)
    return module, config


@dataclass
class _OpenRun:
    """A run between its two halves: folder created and indexed as 'running', experiment not yet done."""

    module: Any
    config: BaseConfig
    cfg_dict: dict[str, Any]
    env: dict[str, Any]
    ctx: RunContext
    store: Store
    run_id: str
    parent: Path
    final: Path
    t0: float
    made: list[Path] = field(default_factory=list)  # folders this run created (removed again when discarded)


def _os_error(exc: OSError, where: Path) -> UserError:
    import errno

    what = {errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
            errno.ENAMETOOLONG: "file name too long", errno.EACCES: "permission denied",
            errno.EDQUOT: "disk quota exceeded"}.get(exc.errno, exc.strerror or exc.__class__.__name__)
    return UserError(f"cannot write the run folder under '{str(where)[:200]}': {what}")


def _mkdirs(path: Path) -> list[Path]:
    """mkdir -p that returns the folders it created (outermost first)."""
    made = []
    for p in reversed([path, *path.parents]):
        if not p.exists():
            p.mkdir()
            made.append(p)
    return made


def _open_run(
    experiment: str,
    values: dict[str, Any],
    *,
    root=None,
    out=None,
    device: str = "auto",
    quiet: bool = True,
    argv=None,
    sweep_id=None,
    trial_key=None,
    figure_format: str = "png",
    figure_mode: str = "all",
) -> _OpenRun:
    """Validate, index the run as 'running' (owned by this process), then create the .partial folder and write
    config/env. A failure to write leaves nothing: the row and the folders made are removed again."""
    module, config = prepare(experiment, values)
    return open_prepared(module, config, experiment, root=root, out=out, device=device, quiet=quiet, argv=argv,
                         sweep_id=sweep_id, trial_key=trial_key, figure_format=figure_format,
                         figure_mode=figure_mode)


def open_prepared(
    module,
    config: BaseConfig,
    experiment: str,
    *,
    root=None,
    out=None,
    device: str = "auto",
    quiet: bool = True,
    argv=None,
    sweep_id=None,
    trial_key=None,
    figure_format: str = "png",
    figure_mode: str = "all",
    env_extra: dict[str, Any] | None = None,
) -> _OpenRun:
    """`_open_run` for a config already built (e.g. a playground session's): the same commit protocol; `module`
    supplies the run's setup/claims/figure captions."""
    t_open = time.perf_counter()
    dev = resolve_device(device)
    if figure_format not in ("png", "svg"):
        raise UserError(f"invalid figure format '{figure_format}' (allowed: png, svg)")
    check_figure_mode(figure_mode)
    store = Store(root)
    run_id = new_run_id()
    if out is not None:
        try:
            final = Path(out).resolve()
            busy = final.exists() and (not final.is_dir() or any(final.iterdir()))
        except OSError as exc:
            raise _os_error(exc, Path(out)) from None
        if busy:
            raise UserError(f"--out '{str(out)[:200]}' exists and is not empty")
        parent = final.parent
    else:
        parent = store.root / experiment
        final = parent / run_id
    tmp = parent / f".partial-{run_id}"
    root_existed, index_existed = store.root.exists(), store.index_path.exists()
    made: list[Path] = []
    try:
        made = _mkdirs(parent)
        if len(tmp.name) > 255 or len(final.name) > 255:
            import errno

            raise OSError(errno.ENAMETOOLONG, "File name too long")
    except OSError as exc:
        _remove_made(made)
        raise _os_error(exc, parent) from None
    cfg_dict = config.model_dump(mode="json")
    env = environment(dev, config.seed, argv)
    env.update({"run_id": run_id, "experiment": experiment, "status": "running", "start": _now(), "end": None,
                **(env_extra or {})})
    begun = False
    try:
        store.begin(run_id, experiment, tmp, cfg_dict, config.seed, sweep_id=sweep_id, trial_key=trial_key)
        begun = True
        tmp.mkdir()
        (tmp / "config.yaml").write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
        _write_json(tmp / "env.json", env)
        ctx = RunContext(folder=tmp, seed=config.seed, device=dev, quiet=quiet, figure_format=figure_format,
                         figure_mode=figure_mode, key_figure=key_figure(module, config))
    except (OSError, UserError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if begun:
            _forget(store, run_id)
        _remove_made(made)
        if not index_existed:
            _remove_index(store, root_existed)
        raise (_os_error(exc, parent) if isinstance(exc, OSError) else exc) from None
    if os.environ.get("PRIORLAB_KILL_AT") == "mid_training":
        ctx.progress = _killing_progress(ctx.progress)
    if not index_existed:
        made.append(store.index_path)
    if not root_existed and store.root not in made:
        made.insert(0, store.root)
    ctx.add_seconds("io", time.perf_counter() - t_open)
    return _OpenRun(module, config, cfg_dict, env, ctx, store, run_id, parent, final, time.time(), made)


def _forget(store: Store, run_id: str) -> None:
    try:
        store.forget(run_id)
    except UserError:
        pass  # the index cannot be written (disk full): recovery marks the row lost later


def _remove_made(made: list[Path]) -> None:
    for p in reversed(made):
        try:
            p.rmdir()
        except OSError:
            pass  # not empty (another run wrote there meanwhile) or gone


def _remove_index(store: Store, root_existed: bool) -> None:
    """Remove an index this run created, when it holds no row (so a refused run leaves the runs root as it was)."""
    try:
        with store.connect() as con:
            if con.execute("SELECT (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM sweeps)").fetchone()[0]:
                return
    except UserError:
        return
    for suffix in ("", "-wal", "-shm"):
        Path(str(store.index_path) + suffix).unlink(missing_ok=True)
    if not root_existed:
        _remove_made([store.root])


def _discard(o: _OpenRun) -> None:
    """Forget a run that never finished its work (bad input found by the experiment itself, a disk that is full):
    its folder, its row, and the folders and index this run created."""
    shutil.rmtree(o.ctx.folder, ignore_errors=True)
    _forget(o.store, o.run_id)
    index = o.store.index_path in o.made
    _remove_made([p for p in o.made if p not in (o.store.index_path, o.store.root)])
    if index:
        _remove_index(o.store, root_existed=o.store.root not in o.made)


def _close_run(o: _OpenRun, metrics: dict[str, Any], status: str) -> Run:
    """Write metrics/arrays/env/report into the .partial folder, commit the row (final status, metrics, final path),
    then rename the folder into place (``.failed-<id>`` unless done). A write error before the commit discards the
    run (UserError); after the commit, recovery on the next open completes the rename."""
    try:
        dest = _commit(o, metrics, status)
    except OSError as exc:
        _discard(o)
        raise _os_error(exc, o.parent) from None
    except UserError:
        _discard(o)
        raise
    _kill_point("after_index_commit")
    try:
        if dest == o.final and o.final.exists():
            o.final.rmdir()  # the empty --out folder
        os.replace(o.ctx.folder, dest)
    except OSError as exc:
        o.store.set_status(o.run_id, f"failed: could not move into place ({exc.strerror})", o.ctx.folder)
        raise _os_error(exc, dest) from None
    _kill_point("after_rename")
    return load_run(dest)


def _commit(o: _OpenRun, metrics: dict[str, Any], status: str) -> Path:
    """Everything up to and including the index commit; returns where the folder goes."""
    from priorlab.viz.report import write_run_report

    tmp = o.ctx.folder
    if status == "done":
        nan = _nan_in(metrics, o.ctx.arrays)
        if nan:
            status = f"failed: NaN in {nan}"
    t_close = time.perf_counter()
    metrics = _clean_metrics(metrics)
    o.env.update({"status": status, "end": _now(), "seconds": round(time.time() - o.t0, 3)})
    _write_json(tmp / "metrics.json", metrics)
    _write_json(tmp / "page.json", {"tables": o.ctx.tables, "notes": o.ctx.notes})
    if o.ctx.arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **o.ctx.arrays)
        (tmp / "arrays.npz").write_bytes(buf.getvalue())
    _write_json(tmp / "env.json", o.env)
    if status == "done":
        verdicts = _verdicts(o.module, o.config, metrics)
        if verdicts is not None:
            _write_json(tmp / "verdict.json", verdicts)
    try:
        write_run_report(tmp, o.module, o.cfg_dict, metrics, o.env, o.ctx, config_obj=o.config)
    except OSError:
        raise
    except Exception:  # noqa: BLE001 - a report failure must not lose the run
        (tmp / "report_error.txt").write_text(traceback.format_exc())
        if status == "done":
            status = "failed: report could not be written"
    if status == "done" and o.final.exists() and (not o.final.is_dir() or any(o.final.iterdir())):
        status = f"failed: --out '{str(o.final)[:200]}' was no longer empty when the run finished"
    o.ctx.add_seconds("io", time.perf_counter() - t_close)
    o.env["status"] = status
    o.env["timing"] = timing(o.ctx)
    _write_json(tmp / "env.json", o.env)
    dest = o.final if status == "done" else o.parent / f".failed-{o.run_id}"
    _kill_point("after_figures")
    o.store.finish(o.run_id, status, dest, metrics)  # the commit point
    return dest


def timing(ctx: RunContext) -> dict[str, Any]:
    """env.json's ``timing``: seconds per phase (``train_s``, ``measure_s``, ``figures_s``, ``io_s``, and
    ``startup_s`` for a sweep worker's start), rounded; ``shared`` names the phases whose seconds were one group's
    time split evenly over its runs, with the group's size. The index commit and the rename that follow the last
    write are not in ``io_s`` (milliseconds)."""
    out: dict[str, Any] = {k: round(v, 4) for k, v in sorted(ctx.seconds.items())}
    out["total_s"] = round(sum(ctx.seconds.values()), 4)
    if ctx.shared:
        out["shared"] = {k: {"split_evenly_over": n} for k, n in sorted(ctx.shared.items())}
    return out


def key_figure(module, config: BaseConfig) -> str | None:
    """The figure a run's page leads with (and ``--figures summary`` keeps): ``module.key_figure(config)`` where the
    experiment's key figure depends on its config, else its ``KEY_FIGURE``."""
    fn = getattr(module, "key_figure", None)
    return fn(config) if callable(fn) else getattr(module, "KEY_FIGURE", None)


def check_figure_mode(mode: str) -> None:
    from priorlab.context import FIGURE_MODES

    if mode not in FIGURE_MODES:
        raise UserError(f"invalid --figures '{str(mode)[:50]}' (allowed: {', '.join(FIGURE_MODES)})")


def _work(o: _OpenRun) -> dict[str, Any]:
    """The experiment's run (its time not inside a timed train/figures block counts as measure_s), then its
    ``draw`` from the arrays it saved, when it has one and the figure mode draws anything."""
    t0 = time.perf_counter()
    before = sum(o.ctx.seconds.values())
    metrics = o.module.run(o.config, o.ctx)
    inside = sum(o.ctx.seconds.values()) - before
    o.ctx.add_seconds("measure", max(0.0, time.perf_counter() - t0 - inside))
    draw(o.module, o.config, o.ctx)
    return metrics


def draw(module, config: BaseConfig, ctx: RunContext) -> None:
    """``module.draw(config, ctx.arrays, ctx)`` under the run's figure mode, timed as figures_s."""
    if getattr(module, "draw", None) is not None and ctx.figure_mode != "none":
        with ctx.timed("figures"):
            module.draw(config, ctx.arrays, ctx)


def _verdicts(module, config: BaseConfig, metrics: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The study's claims (``module.claims(config)``) judged from this run's metrics; None without claims."""
    claims = getattr(module, "claims", None)
    if claims is None:
        return None
    from priorlab.stats.claims import evaluate

    return evaluate(claims(config), metrics)


def _failure(exc: BaseException) -> str:
    if isinstance(exc, Diverged):
        return f"failed: diverged at step {exc.step}"
    if isinstance(exc, KeyboardInterrupt):
        return "failed: interrupted"
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"failed: {exc.__class__.__name__}: {text}".rstrip(": ")


def _exit_error(exc: SystemExit) -> UserError:
    return UserError(f"the experiment's code (e.g. a module: factory) called exit({str(exc.code)[:200]!s}); "
                     "nothing was written")


def run(
    experiment: str,
    *,
    out: str | Path | None = None,
    root: str | Path | None = None,
    device: str = "auto",
    quiet: bool = True,
    figure_format: str = "png",
    figures: str = "all",
    argv: list[str] | None = None,
    sweep_id: str | None = None,
    trial_key: str | None = None,
    **config_values: Any,
) -> Run:
    """Run ``experiment`` with the given config keys and return the finished :class:`Run`.

    The Python face of ``priorlab run``: ``priorlab.run("fit1d", activation="cos", hidden=3, seed=1)``.
    ``figures``: ``all`` (every figure and animation), ``summary`` (the key figure only) or ``none``; an experiment
    with a ``draw`` function can draw them later from the run's arrays (:func:`redraw`, ``priorlab show RUN
    --figures``). Raises :class:`UserError` for bad input before anything is written.
    """
    check_figure_mode(figures)
    if sweep_id is None:
        prepare(experiment, config_values)  # bad input refused before recovery touches the runs root
        Store(root).recover()
    o = _open_run(
        experiment, config_values, root=root, out=out, device=device, quiet=quiet, argv=argv,
        sweep_id=sweep_id, trial_key=trial_key, figure_format=figure_format, figure_mode=figures,
    )
    seed_everything(o.config.seed)
    metrics: dict[str, Any] = {}
    status = "done"
    _kill_point("before_work")
    try:
        metrics = _work(o)
    except UserError:
        _discard(o)
        raise
    except SystemExit as exc:
        _discard(o)
        raise _exit_error(exc) from None
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - any crash becomes a failed run
        status = _failure(exc)
        if not isinstance(exc, Diverged):
            (o.ctx.folder / "traceback.txt").write_text(traceback.format_exc())
    return _close_run(o, metrics, status)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# ----------------------------------------------------------------------------------------------
# Several trials trained together (sweeps): each still gets its own run folder and index row.


def run_batch(
    experiment: str,
    values: list[dict[str, Any]],
    *,
    trial_keys: list[str | None],
    sweep_id: str | None = None,
    root: str | Path | None = None,
    device: str = "auto",
    quiet: bool = True,
    argv: list[str] | None = None,
    figures: str = "all",
) -> list[Run]:
    """Run several trials of one experiment through its ``run_many(configs, ctxs)``: one folder per trial.

    ``run_many`` yields (or returns) one entry per trial, in order: its metrics dict, or an exception instance
    (e.g. ``Diverged``) for a trial that failed alone. Each trial's folder is closed as soon as its entry arrives
    (after its ``draw``, when the experiment has one). Time of the group that no trial's timed block claims is split
    evenly over the trials as shared ``measure_s``. Experiments without ``run_many`` run the trials one by one with
    :func:`run`.
    """
    module = load_experiment(experiment)
    check_figure_mode(figures)
    if not hasattr(module, "run_many"):
        return [
            run(experiment, root=root, device=device, quiet=quiet, argv=argv, sweep_id=sweep_id, trial_key=k,
                figures=figures, **v)
            for v, k in zip(values, trial_keys)
        ]
    opened = [
        _open_run(experiment, v, root=root, device=device, quiet=quiet, argv=argv, sweep_id=sweep_id, trial_key=k,
                  figure_mode=figures)
        for v, k in zip(values, trial_keys)
    ]
    ctxs = [o.ctx for o in opened]
    seed_everything(opened[0].config.seed)
    _kill_point("before_work")
    out: list[Run] = []
    t0, claimed = time.perf_counter(), sum(sum(c.seconds.values()) for c in ctxs)

    def unclaimed() -> None:  # the group's time since the last entry that no timed block claimed: shared measure_s
        nonlocal t0, claimed
        now, total = time.perf_counter(), sum(sum(c.seconds.values()) for c in ctxs)
        rest = max(0.0, now - t0 - (total - claimed))
        left = ctxs[len(out):] or ctxs
        for c in left:
            c.add_seconds("measure", rest / len(left), group=len(left))
        t0, claimed = now, sum(sum(c.seconds.values()) for c in ctxs)

    try:
        for o, res in zip(opened, module.run_many([o.config for o in opened], ctxs)):
            if len(opened) > 1:
                _kill_point("mid_training")  # a batch's first result is in, the others are not closed yet
            failed = isinstance(res, BaseException)
            if not failed:
                try:
                    draw(module, o.config, o.ctx)
                except Exception as exc:  # noqa: BLE001 - this trial's figures failed: the trial failed
                    (o.ctx.folder / "traceback.txt").write_text(traceback.format_exc())
                    res, failed = exc, True
            unclaimed()
            out.append(_close_run(o, {} if failed else res, _failure(res) if failed else "done"))
            t0, claimed = time.perf_counter(), sum(sum(c.seconds.values()) for c in ctxs)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the rest of the batch failed: each trial records why
        for o in opened[len(out):]:
            (o.ctx.folder / "traceback.txt").write_text(traceback.format_exc())
            out.append(_close_run(o, {}, _failure(exc)))
    for o in opened[len(out):]:
        out.append(_close_run(o, {}, "failed: run_many gave no result for this trial"))
    return out


# ----------------------------------------------------------------------------------------------
# Figures drawn later from a finished run's arrays (``priorlab show RUN --figures``).


def redraw(ref: str | Path, root: str | Path | None = None, figures: str = "all",
           figure_format: str = "png") -> list[Path]:
    """Draw a finished run's figures from its ``arrays.npz`` (the experiment's ``draw``) into its ``figures/`` folder
    and rewrite its ``report.html`` with them; returns the figure files. A UserError when the run is not done or its
    experiment draws its figures only while it runs."""
    from priorlab.viz.report import write_run_report

    check_figure_mode(figures)
    if figures == "none":
        raise UserError("--figures none draws nothing (allowed here: all, summary)")
    r = load_run(ref, root)
    if r.status != "done":
        raise UserError(f"run {r.id} is not done (status {r.status[:100]}): it has no figures to draw")
    if r.env.get("source") == "playground":
        raise UserError(f"run {r.id} was saved from the playground: its figures are the ones drawn there")
    module = load_experiment(r.experiment)
    if getattr(module, "draw", None) is None:
        raise UserError(f"experiment '{r.experiment}' draws its figures while it runs; rerun it with --figures all")
    config = build_config(module.Config, r.config)
    if not (r.path / "arrays.npz").exists():
        raise UserError(f"run {r.id} has no arrays.npz to draw from")
    import tempfile

    with tempfile.TemporaryDirectory(prefix=".redraw-", dir=r.path) as tmp:
        ctx = RunContext(folder=Path(tmp), seed=config.seed, device=resolve_device("cpu"), quiet=True,
                         figure_format=figure_format, figure_mode=figures, key_figure=key_figure(module, config))
        try:
            module.draw(config, r.arrays(), ctx)
        except (KeyError, ValueError) as exc:
            raise UserError(f"run {r.id}: its arrays.npz cannot be drawn ({exc.__class__.__name__}: "
                            f"{str(exc)[:150]})") from None
        (r.path / "figures").mkdir(exist_ok=True)
        drawn = []
        for f in sorted(Path(tmp, "figures").iterdir()):
            os.replace(f, r.path / "figures" / f.name)
            drawn.append(r.path / "figures" / f.name)
    page = {}
    if (r.path / "page.json").exists():
        try:
            page = json.loads((r.path / "page.json").read_text())
        except ValueError:
            page = {}
    ctx.folder = r.path
    ctx.figures = [f.name for f in sorted((r.path / "figures").iterdir())]
    ctx.tables = [tuple(t) for t in page.get("tables", [])]
    ctx.notes = list(page.get("notes", []))
    write_run_report(r.path, module, r.config, r.metrics, r.env, ctx, config_obj=config)
    return drawn
