"""Export runs to the tools labs already use: `priorlab export mlflow RUN|SWEEP --tracking-uri file:<dir>`.

Each priorlab run becomes one MLflow run (named by its id, tagged ``priorlab.run_id``, ``priorlab.experiment``,
``priorlab.status`` and ``priorlab.sweep_id``) in the MLflow experiment ``priorlab-<experiment>`` (or
``--experiment-name``): its config keys as params (lists and dicts as JSON), its metrics (a non-finite metric is
logged as NaN), and as artifacts report.html, config.yaml, env.json, metrics.json, verdict.json, layers.csv,
arrays.npz, figures/ and the weights (*.safetensors). A run already exported to that experiment is skipped, so a
sweep can be exported again as it grows. MLflow (the ``mlflow`` extra) is imported only here, only when asked.
MLflow 3 refuses ``file:`` stores unless ``MLFLOW_ALLOW_FILE_STORE=true``; the export sets it for its own process.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from priorlab.errors import UserError
from priorlab.runner import Run, load_run
from priorlab.store import Store

__all__ = ["to_mlflow"]

ARTIFACTS = ("report.html", "config.yaml", "env.json", "metrics.json", "verdict.json", "layers.csv",
             "layers.parquet", "arrays.npz")
PARAM_MAX = 6000  # MLflow's limit on a param value


def _runs(ref: str, store: Store) -> tuple[list[Run], str | None]:
    """The runs behind a run id / prefix / folder, or every finished-or-failed trial of a sweep id."""
    if store.load_sweep(ref) is not None:
        rows = [r for r in store.runs(sweep_id=ref) if r["status"] != "running"]
        if not rows:
            raise UserError(f"sweep '{ref}' has no finished trials to export")
        return [load_run(r["path"]) for r in rows], ref
    return [load_run(ref, root=store.root)], None


def _param(v: Any) -> str:
    text = json.dumps(v) if isinstance(v, list | dict) else str(v)
    return text[:PARAM_MAX]


def _mlflow(tracking_uri: str):
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        import mlflow
        from mlflow.entities import Metric, Param, RunTag
    except ImportError:
        raise UserError("export mlflow needs MLflow: pip install 'priorlab[mlflow]' (or pip install mlflow)") from None
    return mlflow, Metric, Param, RunTag


def to_mlflow(ref: str, tracking_uri: str = "file:./mlruns", experiment_name: str | None = None,
              root: str | Path | None = None) -> list[dict[str, str]]:
    """Log the run (or every trial of the sweep) `ref` into the MLflow store at `tracking_uri`.
    Returns one ``{"run", "mlflow_run_id", "experiment", "action"}`` per priorlab run (action: exported | skipped)."""
    store = Store(root)
    runs, sweep_id = _runs(ref, store)
    mlflow, Metric, Param, RunTag = _mlflow(tracking_uri)
    if tracking_uri.startswith("file:"):
        Path(tracking_uri.removeprefix("file:").removeprefix("//")).expanduser().mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    name = experiment_name or f"priorlab-{runs[0].experiment}"
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(name)
    out = []
    for run in runs:
        found = client.search_runs([exp_id], filter_string=f"tags.`priorlab.run_id` = '{run.id}'", max_results=1)
        if found:
            out.append({"run": run.id, "mlflow_run_id": found[0].info.run_id, "experiment": name, "action": "skipped"})
            continue
        tags = {"priorlab.run_id": run.id, "priorlab.experiment": run.experiment, "priorlab.status": run.status,
                "priorlab.path": str(run.path), "mlflow.runName": run.id}
        if sweep_id or run.env.get("sweep_id"):
            tags["priorlab.sweep_id"] = sweep_id or run.env.get("sweep_id")
        created = client.create_run(exp_id, run_name=run.id, tags=tags)
        rid = created.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(k, float("nan") if v is None or not math.isfinite(v) else float(v), now, 0)
                   for k, v in run.metrics.items()]
        params = [Param(k, _param(v)) for k, v in run.config.items()]
        for i in range(0, max(len(metrics), len(params)), 100):  # MLflow takes at most 100 params per batch
            client.log_batch(rid, metrics=metrics[i:i + 100], params=params[i:i + 100])
        for f in ARTIFACTS:
            if (run.path / f).is_file():
                client.log_artifact(rid, str(run.path / f))
        for f in sorted(run.path.glob("*.safetensors")):
            client.log_artifact(rid, str(f), artifact_path="weights")
        if (run.path / "figures").is_dir() and any((run.path / "figures").iterdir()):
            client.log_artifacts(rid, str(run.path / "figures"), artifact_path="figures")
        client.set_terminated(rid, status="FINISHED" if run.status == "done" else "FAILED")
        out.append({"run": run.id, "mlflow_run_id": rid, "experiment": name, "action": "exported"})
    return out
