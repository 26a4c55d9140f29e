"""Running an experiment into a run folder: the one call behind the CLI, the Python API and sweeps."""

from __future__ import annotations

import copy
import functools
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


@functools.cache
def _git_commit() -> str | None:
    """The source tree's commit (``+dirty`` with changes): looked up once per process (the code a process runs is the
    code it imported)."""
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


@functools.cache
def _blas_info(torch_threads: int) -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries loaded and their thread counts (once per process and torch thread count)."""
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for i in threadpool_info()
        ]
    except Exception:  # noqa: BLE001 - informative only
        return []


@functools.cache
def _static_environment() -> dict[str, Any]:
    """The parts of env.json that cannot change within a process (versions, platform, CPU count)."""
    import torch

    return {
        "priorlab": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


def environment(device, seed: int, argv: list[str] | None) -> dict[str, Any]:
    """env.json's description of where a run ran; the parts that cannot change within a process are computed once."""
    import torch

    threads = torch.get_num_threads()
    return {
        **_static_environment(),
        "blas": copy.deepcopy(_blas_info(threads)),
        "torch_threads": threads,
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
    return _open_many(module, [config], experiment, root=root, out=out, device=device, quiet=quiet, argv=argv,
                      sweep_id=sweep_id, trial_keys=[trial_key], figure_format=figure_format,
                      figure_mode=figure_mode, env_extra=env_extra)[0]


_yaml_dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _open_many(
    module,
    configs: list[BaseConfig],
    experiment: str,
    *,
    root=None,
    out=None,
    device: str = "auto",
    quiet: bool = True,
    argv=None,
    sweep_id=None,
    trial_keys: list[str | None],
    figure_format: str = "png",
    figure_mode: str = "all",
    env_extra: dict[str, Any] | None = None,
) -> list[_OpenRun]:
    """Open several runs of one experiment at once: every row is inserted ``running`` in ONE transaction, then each
    ``.partial-<id>`` folder is made with its config.yaml and env.json. A failure to write leaves nothing (the rows,
    folders and folders made are removed again). The time is split evenly over the runs as shared ``io_s``."""
    t_open = time.perf_counter()
    dev = resolve_device(device)
    if figure_format not in ("png", "svg"):
        raise UserError(f"invalid figure format '{figure_format}' (allowed: png, svg)")
    check_figure_mode(figure_mode)
    store = Store(root)
    ids: list[str] = []
    while len(ids) < len(configs):
        rid = new_run_id()
        if rid not in ids:
            ids.append(rid)
    if out is not None:
        try:
            final = Path(out).resolve()
            busy = final.exists() and (not final.is_dir() or any(final.iterdir()))
        except OSError as exc:
            raise _os_error(exc, Path(out)) from None
        if busy:
            raise UserError(f"--out '{str(out)[:200]}' exists and is not empty")
        parent, finals = final.parent, [final]
    else:
        parent = store.root / experiment
        finals = [parent / rid for rid in ids]
    tmps = [parent / f".partial-{rid}" for rid in ids]
    root_existed, index_existed = store.root.exists(), store.index_path.exists()
    made: list[Path] = []
    try:
        made = _mkdirs(parent)
        if any(len(t.name) > 255 or len(f.name) > 255 for t, f in zip(tmps, finals)):
            import errno

            raise OSError(errno.ENAMETOOLONG, "File name too long")
    except OSError as exc:
        _remove_made(made)
        raise _os_error(exc, parent) from None
    cfg_dicts = [c.model_dump(mode="json") for c in configs]
    envs = []
    for rid, config in zip(ids, configs):
        env = environment(dev, config.seed, argv)
        env.update({"run_id": rid, "experiment": experiment, "status": "running", "start": _now(), "end": None,
                    **(env_extra or {})})
        envs.append(env)
    begun = False
    ctxs = []
    try:
        store.begin_many([(rid, experiment, tmp, cd, c.seed, sweep_id, k)
                          for rid, tmp, cd, c, k in zip(ids, tmps, cfg_dicts, configs, trial_keys)])
        begun = True
        for tmp, cd, env, config in zip(tmps, cfg_dicts, envs, configs):
            tmp.mkdir()
            (tmp / "config.yaml").write_text(yaml.dump(cd, Dumper=_yaml_dumper, sort_keys=False))
            _write_json(tmp / "env.json", env)
            ctxs.append(RunContext(folder=tmp, seed=config.seed, device=dev, quiet=quiet,
                                   figure_format=figure_format, figure_mode=figure_mode,
                                   key_figure=key_figure(module, config)))
    except (OSError, UserError) as exc:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)
        if begun:
            _forget(store, *ids)
        _remove_made(made)
        if not index_existed:
            _remove_index(store, root_existed)
        raise (_os_error(exc, parent) if isinstance(exc, OSError) else exc) from None
    if os.environ.get("PRIORLAB_KILL_AT") == "mid_training":
        for ctx in ctxs:
            ctx.progress = _killing_progress(ctx.progress)
    if not index_existed:
        made.append(store.index_path)
    if not root_existed and store.root not in made:
        made.insert(0, store.root)
    dt = (time.perf_counter() - t_open) / len(ctxs)
    t0 = time.time()
    for ctx in ctxs:
        ctx.add_seconds("io", dt, group=len(ctxs))
    return [_OpenRun(module, config, cd, env, ctx, store, rid, parent, fin, t0, made)
            for config, cd, env, ctx, rid, fin in zip(configs, cfg_dicts, envs, ctxs, ids, finals)]


def _forget(store: Store, *run_ids: str) -> None:
    try:
        store.forget_many(list(run_ids))
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
    _move_into_place(o, dest)
    _kill_point("after_rename")
    return load_run(dest)


def _move_into_place(o: _OpenRun, dest: Path) -> None:
    """The rename after the commit (a failure marks the committed row failed and is a UserError)."""
    try:
        if dest == o.final and o.final.exists():
            o.final.rmdir()  # the empty --out folder
        os.replace(o.ctx.folder, dest)
    except OSError as exc:
        o.store.set_status(o.run_id, f"failed: could not move into place ({exc.strerror})", o.ctx.folder)
        raise _os_error(exc, dest) from None


def _commit(o: _OpenRun, metrics: dict[str, Any], status: str) -> Path:
    """Everything up to and including the index commit; returns where the folder goes."""
    dest, metrics, status = _write_outcome(o, metrics, status)
    _kill_point("after_figures")
    o.store.finish(o.run_id, status, dest, metrics)  # the commit point
    return dest


def _write_outcome(o: _OpenRun, metrics: dict[str, Any], status: str) -> tuple[Path, dict[str, Any], str]:
    """Every file of the finished run into its .partial folder (metrics, page, arrays, verdicts, report, env.json
    last); returns (where the folder goes, the metrics as committed, the final status). Nothing is committed."""
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
        # a trial with no figures is read back rarely: its arrays are stored, not compressed (cheap to write)
        (np.savez if o.ctx.figure_mode == "none" else np.savez_compressed)(buf, **o.ctx.arrays)
        (tmp / "arrays.npz").write_bytes(buf.getvalue())
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
    return dest, metrics, status


PHASES = ("train_s", "measure_s", "figures_s", "io_s")  # env.json timing's phases (startup_s: sweep workers)


def timing(ctx: RunContext) -> dict[str, Any]:
    """env.json's ``timing``: seconds per phase (``train_s``, ``measure_s``, ``figures_s``, ``io_s``, and
    ``startup_s`` for a sweep worker's start), rounded; ``shared`` names the phases whose seconds were one group's
    time split evenly over its runs, with the group's size. The index commit and the rename that follow the last
    write are not in ``io_s`` (milliseconds; in a batch, one transaction for several trials). The four phases are
    always there (0 when the run had none of it)."""
    seconds = {**dict.fromkeys(PHASES, 0.0), **ctx.seconds}
    out: dict[str, Any] = {k: round(v, 4) for k, v in sorted(seconds.items())}
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
    return _run_opened(o)


def _run_opened(o: _OpenRun) -> Run:
    """An opened run's work and close (the second half of :func:`run`)."""
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


COMMIT_EVERY_S = 0.5  # a batch commits its finished trials at least this often (and always at its end)
COMMIT_MAX = 256  # trials committed in one transaction at most
_committed = 0  # trials this process has committed (the `after_commits:N` kill point)


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
    startup_s: float | None = None,
) -> list[Run]:
    """Run several trials of one experiment through its ``run_many(configs, ctxs)``: one folder per trial.

    The commit protocol, batched: every trial's row is inserted ``running`` in one transaction before the trials'
    ``.partial-<id>`` folders are made; ``run_many`` yields (or returns) one entry per trial, in order: its metrics
    dict, or an exception instance (e.g. ``Diverged``) for a trial that failed alone. Each trial's files are written
    as soon as its entry arrives (after its ``draw``, when the experiment has one); the finished trials are committed
    together — one transaction for every trial finished since the last commit, at least every
    :data:`COMMIT_EVERY_S` seconds (at once when entries arrive slower than that) and at the end — and only then
    renamed into place. Time of the group that no trial's timed block claims is split evenly over the trials as
    shared ``measure_s``; ``startup_s`` (a sweep worker's start-up) is split evenly over them as shared
    ``startup_s``. Experiments without ``run_many`` run the trials one by one as :func:`run` does.
    """
    module = load_experiment(experiment)
    check_figure_mode(figures)
    share = None if startup_s is None else startup_s / max(1, len(values))
    if not hasattr(module, "run_many"):
        if sweep_id is None:
            for v in values:
                prepare(experiment, v)
            Store(root).recover()
        out = []
        for v, k in zip(values, trial_keys):
            o = _open_run(experiment, v, root=root, device=device, quiet=quiet, argv=argv, sweep_id=sweep_id,
                          trial_key=k, figure_mode=figures)
            if share is not None:
                o.ctx.add_seconds("startup", share, group=len(values))
            out.append(_run_opened(o))
        return out
    configs = [build_config(module.Config, v) for v in values]
    opened = _open_many(module, configs, experiment, root=root, device=device, quiet=quiet, argv=argv,
                        sweep_id=sweep_id, trial_keys=list(trial_keys), figure_mode=figures)
    ctxs = [o.ctx for o in opened]
    if share is not None:
        for c in ctxs:
            c.add_seconds("startup", share, group=len(ctxs))
    return _Batch(module, opened).run()


class _Batch:
    """One run_batch group between its open and its last commit."""

    def __init__(self, module, opened: list[_OpenRun]):
        self.module, self.opened, self.ctxs = module, opened, [o.ctx for o in opened]
        self.runs: list[Run] = []
        self.pending: list[tuple[_OpenRun, Path, dict[str, Any], str]] = []
        self.closed = 0
        self.abandoned = False
        self.last_commit = self.t0 = self.t_last_close = time.perf_counter()
        self.claimed = self._claimed()

    def _claimed(self) -> float:
        """Seconds claimed so far by the trials not closed yet (a closed trial's context takes no more time)."""
        return sum(sum(c.seconds.values()) for c in self.ctxs[self.closed:])

    def _unclaimed(self) -> None:
        """The group's time since the last entry that no timed block claimed: shared measure_s of the open trials."""
        now, total = time.perf_counter(), self._claimed()
        rest = max(0.0, now - self.t0 - (total - self.claimed))
        left = self.ctxs[self.closed:] or self.ctxs
        for c in left:
            c.add_seconds("measure", rest / len(left), group=len(left))
        self.t0, self.claimed = now, total + rest

    def run(self) -> list[Run]:
        seed_everything(self.opened[0].config.seed)
        _kill_point("before_work")
        try:
            for o, res in zip(self.opened, self.module.run_many([o.config for o in self.opened], self.ctxs)):
                arrived = time.perf_counter()
                if len(self.opened) > 1:
                    _kill_point("mid_training")  # a batch's first result is in, the others are not closed yet
                failed = isinstance(res, BaseException)
                if not failed:
                    try:
                        draw(self.module, o.config, o.ctx)
                    except Exception as exc:  # noqa: BLE001 - this trial's figures failed: the trial failed
                        (o.ctx.folder / "traceback.txt").write_text(traceback.format_exc())
                        res, failed = exc, True
                self._unclaimed()
                # the group's first trial is committed at once (one result is safe right after the training);
                # so is any trial whose entry took longer than COMMIT_EVERY_S to arrive (the next one will too)
                self._close(o, {} if failed else res, _failure(res) if failed else "done",
                            now=self.closed == 0 or arrived - self.t_last_close >= COMMIT_EVERY_S)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the rest of the batch failed: each trial records why
            if self.abandoned:  # our own write failed (disk full): nothing left to record
                raise
            for o in self.opened[self.closed:]:
                (o.ctx.folder / "traceback.txt").write_text(traceback.format_exc())
                self._close(o, {}, _failure(exc))
        for o in self.opened[self.closed:]:
            self._close(o, {}, "failed: run_many gave no result for this trial")
        self._flush()
        return self.runs

    def _close(self, o: _OpenRun, metrics: dict[str, Any], status: str, now: bool = True) -> None:
        """Write a trial's files; commit the pending trials when due."""
        try:
            self.pending.append((o, *_write_outcome(o, metrics, status)))
        except (OSError, UserError) as exc:
            self._abandon()
            raise (_os_error(exc, o.parent) if isinstance(exc, OSError) else exc) from None
        self.closed += 1
        self.t0, self.claimed = time.perf_counter(), self._claimed()
        self.t_last_close = self.t0
        if now or len(self.pending) >= COMMIT_MAX or self.t0 - self.last_commit >= COMMIT_EVERY_S:
            self._flush()

    def _abandon(self) -> None:
        """A write failed (disk full): the trials not committed yet are forgotten (rows and folders), so a resume
        runs them again; what was committed stays."""
        rest = [p[0] for p in self.pending] + self.opened[self.closed:]
        self.pending, self.abandoned = [], True
        for o in rest:
            shutil.rmtree(o.ctx.folder, ignore_errors=True)
        if rest:
            _forget(rest[0].store, *[o.run_id for o in rest])
        self.closed = len(self.opened)

    def _flush(self) -> None:
        """Commit the pending trials in one transaction, then rename each folder into place."""
        global _committed
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        _kill_point("after_figures")
        try:
            batch[0][0].store.finish_many([(o.run_id, status, dest, m) for o, dest, m, status in batch])  # commit
        except UserError:
            self.pending = batch
            self._abandon()
            raise
        _kill_point("after_index_commit")
        for o, dest, m, status in batch:
            _move_into_place(o, dest)
            self.runs.append(Run(path=dest, id=o.run_id, experiment=o.env["experiment"], status=status,
                                 config=o.cfg_dict, metrics=m, env=o.env))
        _kill_point("after_rename")
        _committed += len(batch)
        _kill_after_commits(_committed)
        self.last_commit = time.perf_counter()


def _kill_after_commits(n: int) -> None:
    """``PRIORLAB_KILL_AT=after_commits:N``: once this process has committed (and renamed) N trials, SIGKILL the
    sweep's main process (when this is a local sweep worker) and this process: the whole sweep dies mid-way."""
    point = os.environ.get("PRIORLAB_KILL_AT", "")
    if not point.startswith("after_commits:") or n < int(point.split(":", 1)[1]):
        return
    import signal

    main = os.environ.get("PRIORLAB_SWEEP_MAIN_PID")
    if main:
        try:
            os.kill(int(main), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    os.kill(os.getpid(), signal.SIGKILL)


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
