"""The Python API: the experiments with your own objects (a model, a tensor, a DataLoader) where the CLI takes specs.

    import priorlab
    res = priorlab.compare(MyCNN(), x, labels=y)        # the CLI's `compare` experiment on these objects
    res.table                                           # pandas, tidy: layer, network, measure, value, ci_low, …
    res.rdms["reference"]["conv1"]                      # [N, N] numpy arrays (the layers whose RDMs were kept)
    res.plot()                                          # a matplotlib Figure of the table
    run = res.save()                                    # a run folder in the store: `priorlab runs` lists it
    priorlab.run("compare", model=MyCNN(), stimuli=x)   # any experiment, objects for `model` / `stimuli`

Objects are handed to the experiment under `memory:` specs (``priorlab.nets.zoo.register_model``,
``priorlab.data.sequences.register_arrays``) for the length of the call, so the computation is the experiment's own:
nothing here re-implements it. A model object is the reference with its own weights (they are written beside the
run as ``reference.safetensors``); the random network is the same architecture re-drawn by ``priorlab.randomize``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from priorlab.errors import UserError

__all__ = ["Result", "compare", "run"]

TABLE_COLUMNS = ["layer", "network", "measure", "value", "ci_low", "ci_high", "p", "p_corrected"]


# ---------------------------------------------------------------------------------------------- objects → specs
def _is_model(obj) -> bool:
    from torch import nn

    return isinstance(obj, nn.Module)


def _is_data(obj) -> bool:
    import torch
    from torch.utils.data import DataLoader, Dataset

    return isinstance(obj, torch.Tensor | np.ndarray | Dataset | DataLoader)


def _as_arrays(obj, labels=None):
    """(x, labels) from a tensor/array, a Dataset (items x or (x, y)) or a DataLoader (batches x or (x, y, …))."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    if isinstance(obj, torch.Tensor | np.ndarray):
        return obj, labels
    if isinstance(obj, Dataset) and not isinstance(obj, DataLoader):
        obj = DataLoader(obj, batch_size=256, shuffle=False)
    xs, ys = [], []
    for batch in obj:
        if isinstance(batch, list | tuple):
            xs.append(torch.as_tensor(batch[0]))
            if len(batch) > 1:
                ys.append(torch.as_tensor(batch[1]).reshape(-1))
        else:
            xs.append(torch.as_tensor(batch))
    if not xs:
        raise UserError("stimuli: the Dataset/DataLoader gave no items")
    found = torch.cat(ys).tolist() if ys and len(ys) == len(xs) else None
    return torch.cat(xs), (labels if labels is not None else found)


def _stimuli_spec(stimuli) -> str:
    """A stimulus spec from a path: a folder → images:, .npz/.npy of [N, T, F] → sequences:, [N, F]/.csv → table:."""
    text = str(stimuli)
    if ":" in text.split("/")[0] and not Path(text).exists():  # already a spec (digits, images:<dir>, …)
        return text
    if text in ("digits", "samples"):
        return text
    p = Path(text).expanduser()
    if p.is_dir():
        return f"images:{p}"
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return f"table:{p}"
    if suffix == ".npz":
        return f"sequences:{p}"
    if suffix == ".npy" and p.is_file():
        try:
            ndim = np.load(p, mmap_mode="r", allow_pickle=False).ndim
        except ValueError:
            ndim = 3
        return f"{'table' if ndim == 2 else 'sequences'}:{p}"
    raise UserError(
        f"stimuli: '{text}' is not a folder of images, a .npy/.npz/.csv file, or a spec "
        "(digits | samples | images:<folder> | sequences:<file> | table:<file>)"
    )


@dataclass
class _Held:
    """Specs registered for one call, let go afterwards."""

    models: list[str] = field(default_factory=list)
    arrays: list[str] = field(default_factory=list)

    def model(self, obj) -> str:
        from priorlab.nets.zoo import register_model

        self.models.append(register_model(obj))
        return self.models[-1]

    def data(self, obj, labels=None) -> tuple[str, int]:
        from priorlab.data.sequences import register_arrays

        x, labels = _as_arrays(obj, labels)
        self.arrays.append(register_arrays(x, labels))
        return self.arrays[-1], len(x)

    def release(self) -> None:
        from priorlab.data.sequences import forget_arrays
        from priorlab.nets.zoo import forget_model

        for s in self.models:
            forget_model(s)
        for s in self.arrays:
            forget_arrays(s)


def _specs(experiment: str, values: dict[str, Any], held: _Held) -> dict[str, Any]:
    """Config values with objects replaced by `memory:` specs (a model object also gives its weights, the stimuli
    object its number of items, unless those keys are set)."""
    from priorlab.experiments import load

    fields = load(experiment).Config.model_fields
    out = dict(values)
    labels = out.pop("labels", None) if "labels" not in fields else None
    for key, v in values.items():
        if _is_model(v):
            out[key] = held.model(v)
            if key == "model" and "weights" in fields and out.get("weights") is None:
                out["weights"] = out[key]
        elif _is_data(v):
            out[key], n = held.data(v, labels)
            if key == "stimuli" and "n_stimuli" in fields and "n_stimuli" not in values:
                out["n_stimuli"] = n
    return out


def run(experiment: str, **values: Any):
    """``priorlab.run(experiment, **config)``: :func:`priorlab.runner.run` where config values may be objects —
    an ``nn.Module`` for `model` (with its own weights), a tensor/array, Dataset or DataLoader for `stimuli`
    (with ``labels=`` when the experiment has no labels key). Returns the finished :class:`priorlab.runner.Run`."""
    from priorlab import runner

    held = _Held()
    try:
        return runner.run(experiment, **_specs(experiment, values, held))
    finally:
        held.release()


# ---------------------------------------------------------------------------------------------- compare
def compare(
    model,
    stimuli,
    *,
    weights: str | None = None,
    labels=None,
    layers: list[str] | None = None,
    measures: list[str] | None = None,
    seed: int = 0,
    device: str = "auto",
    quiet: bool = True,
    **config: Any,
) -> Result:
    """Layer by layer, a network against its random-weight self: the `compare` experiment on your objects.

    model: an ``nn.Module`` (the reference, with its weights as they are) or a zoo spec (``lenet``,
    ``torchvision:resnet18``, ``module:file.py:make``; then `weights` is a local file, see
    ``priorlab.nets.load_weights``). stimuli: a tensor/array [N, ...], a Dataset/DataLoader (items ``x`` or
    ``(x, label)``), a folder of images, a ``.npy``/``.npz``/``.csv`` file, or a stimulus spec. labels: N category
    labels (sorted stimuli make block RDMs). layers: module paths (default: the natural blocks); their RDMs are kept
    in :attr:`Result.rdms`. measures: further similarity measures (procrustes, cca, svcca, pwcca, shape). Any other
    key of ``priorlab run compare --help`` may be given (``init=``, ``timesteps=``, ``n_stimuli=``, …).

    The run is computed in a temporary folder; :meth:`Result.save` puts it in the store.
    """
    from priorlab import runner

    values: dict[str, Any] = {"model": model, "stimuli": stimuli, "seed": seed, **config}
    if weights is not None:
        values["weights"] = str(weights)
    if layers is not None:
        values["layers"] = list(layers)
        values.setdefault("heatmap_layers", list(layers))
    if measures is not None:
        values["measures"] = list(measures)
    if not _is_data(stimuli):
        values["stimuli"] = _stimuli_spec(stimuli)
        if labels is not None:
            raise UserError("labels: give labels with a tensor or array of stimuli; files and folders carry their own")
    held = _Held()
    stage = Path(tempfile.mkdtemp(prefix="priorlab-compare-"))
    try:
        if _is_data(stimuli):
            values["labels"] = labels
        specs = _specs("compare", values, held)
        done = runner.run("compare", root=stage, device=device, quiet=quiet, argv=["priorlab.compare(...)"], **specs)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        held.release()
    if done.status != "done":
        raise RuntimeError(f"compare {done.status} (traceback in {done.path / 'traceback.txt'})")
    if _is_model(model):
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
        save_file(state, str(done.path / "reference.safetensors"))
    return Result(done, stage)


class Result:
    """The outcome of :func:`compare`: a finished run (staged in a temporary folder until :meth:`save`)."""

    def __init__(self, run, stage: Path | None = None):
        self.run = run
        self._stage = stage
        self._saved = None
        if stage is not None:
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(stage), True)

    def __repr__(self) -> str:
        return f"Result({len(self.layers)} layers, metrics {self.metrics}, at {self.run.path})"

    @property
    def metrics(self) -> dict[str, float]:
        return self.run.metrics

    @property
    def layers(self) -> list[str]:
        return [str(n) for n in self.run.arrays().get("layers", [])]

    @property
    def table(self):
        """pandas DataFrame, one row per layer × network × measure: ``layer, network, measure, value, ci_low,
        ci_high, p, p_corrected`` (the run's layers.csv when it has one; otherwise from its arrays, with the
        network ``reference``, ``random`` or ``reference vs random`` and NaN where there is no interval or p)."""
        import pandas as pd

        csv = self.run.path / "layers.csv"
        arrays = self.run.arrays()
        if not csv.exists():
            return pd.DataFrame(_rows(arrays, self.run.config), columns=TABLE_COLUMNS)
        table = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        # further measures (config.measures) the experiment keeps only in its arrays: reference vs random rows
        extra = [m for m in self.run.config.get("measures") or [] if m not in set(table["measure"]) and m in arrays]
        names = [str(n) for n in arrays.get("layers", [])]
        nan = float("nan")
        rows = [dict(layer=n, network="reference vs random", measure=m, value=float(arrays[m][i]), ci_low=nan,
                     ci_high=nan, p=nan, p_corrected=nan) for m in extra for i, n in enumerate(names)]
        return pd.concat([table, pd.DataFrame(rows, columns=TABLE_COLUMNS)], ignore_index=True) if rows else table

    @property
    def rdms(self) -> dict[str, Any]:
        """``{"input": [N, N], "reference": {layer: [N, N]}, "random": {layer: [N, N]}, "labels": [...]}`` (numpy),
        for the layers whose RDMs the run kept (`layers` when given, else 4 spread over depth)."""
        arrays = self.run.arrays()
        out: dict[str, Any] = {"reference": {}, "random": {}}
        for k, v in arrays.items():
            net, _, layer = k.partition("/")
            if layer and net in ("rdm_reference", "rdm_random"):
                out[net.removeprefix("rdm_")][layer] = v
        out["input"] = arrays.get("rdm_input", arrays.get("input_rdm"))
        if "labels" in arrays:
            out["labels"] = [str(s) for s in arrays["labels"]]
        return out

    @property
    def figures(self) -> list[Path]:
        return self.run.figures

    def plot(self, measures: list[str] | None = None):
        """A matplotlib Figure: every measure of :attr:`table` across the layers, one line per network."""
        from priorlab.viz.tidy import plot_layer_table

        model = str(self.run.config.get("model", ""))
        if model.startswith("memory:"):  # a model object: its class name
            model = model.removeprefix("memory:").rpartition("-")[0]
        return plot_layer_table(self.table, measures, title=f"{model}: layer by layer")

    def save(self, path: str | Path | None = None, *, root: str | Path | None = None):
        """Move the run into the store (``<runs root>/compare/<id>``, or exactly `path`) and index it, so that
        ``priorlab runs`` lists it; returns the :class:`priorlab.runner.Run`. A second call returns the same run."""
        from priorlab.runner import load_run
        from priorlab.store import Store

        if self._saved is not None:
            if path is None or Path(path).resolve() == self._saved.path:
                return self._saved
            raise UserError(f"this result is already saved at {self._saved.path}")
        store = Store(root)
        dest = Path(path).resolve() if path is not None else store.root / self.run.experiment / self.run.id
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise UserError(f"path: '{dest}' exists and is not empty")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest.rmdir()
        partial = dest.parent / f".partial-{self.run.id}"
        store.begin(self.run.id, self.run.experiment, partial, self.run.config, self.run.config.get("seed"))
        shutil.copytree(self.run.path, partial)  # after the row: recovery never takes it for an orphan
        metrics = json.loads((partial / "metrics.json").read_text())
        store.finish(self.run.id, "done", dest, metrics)  # commit before the rename (docs/reliability.md)
        partial.rename(dest)
        self._saved = load_run(dest)
        return self._saved


def _rows(arrays: dict[str, np.ndarray], config: dict[str, Any]) -> list[dict[str, Any]]:
    """The tidy rows of a compare run from its arrays (layers, rdm_vs_input_*, cka, rdm_reference_vs_random, …)."""
    names = [str(n) for n in arrays.get("layers", [])]
    series = [
        ("reference", "rdm_vs_input", "rdm_vs_input_reference"),
        ("random", "rdm_vs_input", "rdm_vs_input_random"),
        ("reference vs random", "cka", "cka"),
        ("reference vs random", "rdm_correlation", "rdm_reference_vs_random"),
    ] + [("reference vs random", m, m) for m in config.get("measures") or [] if m != "cka"]
    nan = float("nan")
    rows = []
    for i, layer in enumerate(names):
        for network, measure, key in series:
            if key in arrays:
                rows.append(dict(layer=layer, network=network, measure=measure, value=float(arrays[key][i]),
                                 ci_low=nan, ci_high=nan, p=nan, p_corrected=nan))
    return rows
