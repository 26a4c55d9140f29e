"""The `priorlab` command line. Importing this module does not import torch."""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.22 vendors click
    from typer._click import exceptions as _cx
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as _cx
    from click import get_current_context

from priorlab.config import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="priorlab: what a network's architecture gives, and what learning adds.",
)


def _echo_table(rows: list[dict], cols: list[str]) -> None:
    """A rich table on a terminal; plain aligned columns, nothing cut, when stdout is a pipe or a file."""
    if not sys.stdout.isatty():
        from priorlab.report_index import plain_table

        typer.echo(plain_table(rows, cols))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(*cols)
    for r in rows:
        t.add_row(*[str(r.get(c, "")) for c in cols])
    Console().print(t)


@app.command("list")
def list_cmd():
    """List experiments with one-line descriptions."""
    from priorlab.experiments import EXPERIMENTS

    width = max((len(n) for n in EXPERIMENTS), default=0)
    for name, desc in EXPERIMENTS.items():
        typer.echo(f"{name.ljust(width)}  {desc}")


def _print_config_help(experiment: str) -> None:
    from priorlab.config import describe_fields
    from priorlab.experiments import EXPERIMENTS, load

    module = load(experiment)
    typer.echo(f"priorlab run {experiment} [--set key=value ...] [--config FILE.yaml] [--seed N]")
    typer.echo("                 [--device auto|cpu|cuda] [--out DIR] [--quiet] [--svg]\n")
    typer.echo(EXPERIMENTS[experiment] + "\n")
    rows = describe_fields(module.Config)
    presets = getattr(module.Config, "PRESETS", {})
    if presets:
        typer.echo("presets: " + ", ".join(presets) + "\n")
    typer.echo("config keys:")
    kw = max(len(r["key"]) for r in rows)
    tw = min(max(len(r["type"]) for r in rows), 40)
    for r in rows:
        rng = f"  [{r['range']}]" if r["range"] else ""
        typer.echo(f"  {r['key'].ljust(kw)}  {r['type'].ljust(tw)}  default {r['default']}{rng}")
        if r["help"]:
            typer.echo(f"  {''.ljust(kw)}  {r['help']}")


@app.command("run", add_help_option=False, context_settings={"ignore_unknown_options": False})
def run_cmd(
    experiment: str | None = typer.Argument(None, help="experiment name (see `priorlab list`)"),
    set_: list[str] | None = typer.Option(None, "--set", help="config key=value (repeatable)"),
    config: str | None = typer.Option(None, "--config", help="YAML file of config keys"),
    seed: int | None = typer.Option(None, "--seed", help="base seed"),
    device: str = typer.Option("auto", "--device", help="auto|cpu|cuda"),
    out: str | None = typer.Option(None, "--out", help="write the run folder exactly here"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
    svg: bool = typer.Option(False, "--svg", help="also write SVG figures"),
    figures: str = typer.Option("all", "--figures", help="all|summary|none (summary: the key figure only)"),
    help_: bool = typer.Option(False, "--help", "-h", help="show keys of EXPERIMENT"),
):
    """Run an experiment into a run folder. `priorlab run EXPERIMENT --help` lists its keys."""
    from priorlab.config import parse_sets, read_config_file

    if experiment is None:
        if help_:
            typer.echo(get_current_context().get_help())
            raise typer.Exit(0)
        raise UserError("missing EXPERIMENT (see `priorlab list`)")
    from priorlab.experiments import load

    load(experiment)  # validates the name
    if help_:
        _print_config_help(experiment)
        raise typer.Exit(0)
    values = read_config_file(config) if config else {}
    values.update(parse_sets(set_))
    if seed is not None:
        if seed < 0:
            raise UserError(f"invalid --seed {seed} (allowed: integer ≥ 0)")
        values["seed"] = seed
    from priorlab import runner

    runner.prepare(experiment, values)  # all validation before anything is written
    runner.check_figure_mode(figures)
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise UserError(f"invalid --device '{device}' (allowed: auto, cpu, cuda)")
    result = runner.run(
        experiment,
        out=out,
        device=device,
        quiet=quiet,
        figure_format="svg" if svg else "png",
        figures=figures,
        argv=["priorlab"] + sys.argv[1:],
        **values,
    )
    if not quiet:
        for k, v in result.metrics.items():
            typer.echo(f"  {k} = {v:.6g}" if isinstance(v, float) else f"  {k} = {v}")
    typer.echo(f"{result.status}: {result.path}")
    if result.status != "done":
        raise typer.Exit(1)


@app.command("runs")
def runs_cmd(
    experiment: str | None = typer.Argument(None, help="only this experiment"),
    limit: int = typer.Option(50, "--limit", help="newest N runs"),
    format: str = typer.Option("table", "--format", help="table|csv|json (csv/json: one column per metric)"),
):
    """Table of runs from the index (`--format csv|json` for scripts: every metric, whole ids)."""
    from priorlab.report_index import headline_rows, print_runs

    if limit < 1:
        raise UserError(f"invalid --limit {limit} (allowed: integer ≥ 1)")
    if format != "table":
        print_runs(experiment, limit, format)
        return
    rows = headline_rows(experiment)[-limit:]
    if not rows:
        typer.echo("no runs yet")
        return
    _echo_table(rows, ["id", "experiment", "status", "seed", "metrics"])


@app.command("show")
def show_cmd(
    ref: str = typer.Argument(..., help="run id (or unique prefix), run folder, or sweep id"),
    format: str = typer.Option("text", "--format", help="text|json (runs); table|csv|parquet (sweeps)"),
    figures: bool = typer.Option(False, "--figures", help="draw the run's figures from its arrays.npz (and "
                                 "rewrite its report.html)"),
):
    """Print a run's config and metrics (or a sweep's results table); `--figures` draws a run's figures later."""
    from priorlab.report_index import show

    _check_run_folder(ref)
    if figures:
        from priorlab.runner import redraw

        for f in redraw(ref):
            typer.echo(str(f))
        return
    show(ref, format)


def _check_run_folder(ref: str) -> None:
    """`show`: a run whose folder was deleted, or a folder with a broken env.json/config.yaml, is one line."""
    from pathlib import Path

    from priorlab.runner import load_run
    from priorlab.store import Store

    row = Store().find(ref)
    if row is not None:
        if not Path(row["path"]).is_dir():
            raise UserError(f"run {row['id']}: its folder {row['path']} is missing (deleted or moved; "
                            "see `priorlab doctor`)")
        load_run(row["path"])
    elif Path(ref).is_dir() and (Path(ref) / "env.json").exists():
        load_run(ref)


@app.command("report")
def report_cmd():
    """Write index.html in the runs root listing every run; prints its path."""
    from priorlab.report_index import write

    try:
        typer.echo(str(write()))
    except OSError as exc:
        raise UserError(f"cannot write the report: {exc.strerror or exc.__class__.__name__}"
                        f"{': ' + str(exc.filename)[:200] if exc.filename else ''}") from None


@app.command("doctor")
def doctor_cmd(
    repair: bool = typer.Option(False, "--repair", help="fix what can be fixed and say what was done"),
):
    """Check the runs root: index integrity, foreign keys, folders vs index rows, stale 'running' rows."""
    from priorlab.store import Store, doctor

    store = Store()
    problems, actions = doctor(store, repair=repair)
    for a in actions:
        typer.echo(f"fixed: {a}")
    for p in problems:
        typer.echo(f"problem: {p}")
    if problems:
        if not repair:
            typer.echo("run `priorlab doctor --repair` to fix what can be fixed")
        raise typer.Exit(1)
    typer.echo(f"clean: {store.root}")


@app.command("sweep")
def sweep_cmd(
    experiment: str | None = typer.Argument(None, help="experiment name (or use --resume)"),
    grid: list[str] | None = typer.Option(None, "--grid", help="key=v1,v2,... (repeatable; any config key)"),
    set_: list[str] | None = typer.Option(None, "--set", help="fixed config key=value (repeatable)"),
    seeds: str | None = typer.Option(None, "--seeds", help="seeds to grid: 0-9, 0,3,5 or 0-4,10"),
    backend: str = typer.Option("local", "--backend", help="local|ray"),
    workers: int | None = typer.Option(None, "--workers", help="parallel workers (default: CPU count)"),
    ray_address: str | None = typer.Option(None, "--ray-address", help="existing Ray cluster (default: local)"),
    resume: str | None = typer.Option(None, "--resume", help="SWEEP_ID: run its trials that are not done"),
    device: str = typer.Option("auto", "--device", help="auto|cpu|cuda"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
    max_trials: int = typer.Option(100_000, "--max-trials", help="refuse sweeps larger than this"),
    figures: str = typer.Option("summary", "--figures", help="per-trial figures: all|summary|none (summary: "
                                "the sweep page's figures only; draw a trial's later with `priorlab show RUN "
                                "--figures`)"),
):
    """Run a grid of configs x seeds; each trial is an ordinary run tagged with the sweep id."""
    from priorlab.config import parse_sets
    from priorlab.sweep import sweep
    from priorlab.sweep.plan import parse_grid, parse_seeds

    if max_trials < 1:
        raise UserError(f"invalid --max-trials {max_trials} (allowed: integer ≥ 1)")
    res = sweep(
        experiment,
        grid=parse_grid(grid),
        base=parse_sets(set_),
        seeds=parse_seeds(seeds, limit=max_trials),
        max_trials=max_trials,
        backend=backend,
        workers=workers,
        ray_address=ray_address,
        resume=resume,
        device=device,
        quiet=quiet,
        figures=figures,
    )
    failed = f", {res['failed']} failed" if res["failed"] else ""
    typer.echo(f"sweep {res['id']}: {res['ran']} trials run{failed} ({res['total']} in the sweep)")
    typer.echo(f"report: {res['page']}")
    if res["failed"]:
        typer.echo(f"rerun what is not done with: priorlab sweep --resume {res['id']}")
        raise typer.Exit(1)


@app.command("sweeps")
def sweeps_cmd():
    """List sweeps with progress."""
    import time as _time

    from priorlab.store import Store

    rows = Store().sweeps()
    if not rows:
        typer.echo("no sweeps yet")
        return
    for r in rows:
        r["created"] = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(r["created"]))
        r["progress"] = f"{r['done']}/{r['total']}"
    _echo_table(rows, ["id", "experiment", "created", "progress", "failed", "running"])


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0: every network interface)"),
    port: int = typer.Option(8765, "--port", help="TCP port", min=1, max=65535),
    max_sessions: int = typer.Option(64, "--max-sessions", help="training sessions open at once", min=1, max=10_000),
    idle_minutes: float = typer.Option(30.0, "--idle-minutes", help="close a session idle this long", min=1),
):
    """The browser playground: train fit1d / fold networks live in a web page (FastAPI + uvicorn)."""
    try:
        import uvicorn

        from priorlab.serve.app import create_app
    except ImportError as exc:
        raise UserError(f"serve needs the 'serve' extra ({exc.name} is missing): pip install 'priorlab[serve]'") from None
    import torch

    torch.set_num_threads(1)  # many small sessions at once: one thread each is fastest and reproducible
    loopback = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    if not loopback:
        typer.echo(f"warning: listening on {host}: anyone who can reach this machine on port {port} can use the "
                   "playground (there is no login); use it only on a network you trust", err=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"priorlab playground: http://{shown}:{port}/  (Ctrl+C stops it)", err=False)
    app_ = create_app(max_sessions=max_sessions, idle_s=idle_minutes * 60)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


export_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Export runs or sweeps to other tools (mlflow)."
)
app.add_typer(export_app, name="export")


@export_app.command("mlflow")
def export_mlflow_cmd(
    ref: str = typer.Argument(..., help="run id (or unique prefix), run folder, or sweep id"),
    tracking_uri: str = typer.Option("file:./mlruns", "--tracking-uri", help="MLflow store, e.g. file:/data/mlruns"),
    experiment_name: str | None = typer.Option(
        None, "--experiment-name", help="MLflow experiment (default: priorlab-<experiment>)"
    ),
):
    """Log a run (or every trial of a sweep) into MLflow: params, metrics, report, figures, weights."""
    from priorlab.export import to_mlflow

    done = to_mlflow(ref, tracking_uri, experiment_name)
    for d in done:
        typer.echo(f"{d['action']}: {d['run']} -> MLflow run {d['mlflow_run_id']} in '{d['experiment']}'")
    typer.echo(f"tracking uri: {tracking_uri}")


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 1000 else line[:999] + "…"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cmd = typer.main.get_command(app)
    try:
        rv = cmd.main(args=args, prog_name="priorlab", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except UserError as exc:
        print(f"priorlab: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine refused (disk full, read-only, name too long): the user's to fix
        name = f": {str(exc.filename)[:200]}" if exc.filename else ""
        print(f"priorlab: error: {exc.strerror or exc.__class__.__name__}{name}", file=sys.stderr)
        return 2
    except _cx.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else "", file=sys.stdout)
        return 0
    except _cx.UsageError as exc:
        print(f"priorlab: error: {exc.format_message()}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("priorlab: aborted", file=sys.stderr)
        return 130
    except _cx.ClickException as exc:
        print(f"priorlab: error: {exc.format_message()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
