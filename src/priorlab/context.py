"""What an experiment may use of its run: :class:`RunContext` (seed, device, progress, sinks for figures,
arrays, tables, notes and weights). The runner makes one per run; tests and the Python API may make their own.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FIGURE_MODES = ("all", "summary", "none")


@contextmanager
def shared_time(ctxs: list[RunContext], phase: str):
    """Time a block that serves several runs at once (a group trained together) and split its seconds evenly over
    their contexts, marked as shared (``env.json`` says which phases were split and over how many runs)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        dt = time.perf_counter() - t0
        for c in ctxs:
            c.add_seconds(phase, dt / max(1, len(ctxs)), group=len(ctxs))


class Progress:
    """A rich progress bar that stays silent under --quiet or when stdout is not a terminal."""

    def __init__(self, quiet: bool):
        self.enabled = (not quiet) and sys.stdout.isatty()

    def __call__(self, iterable=None, total: int | None = None, description: str = ""):
        if iterable is None:
            iterable = range(total or 0)
        if not self.enabled:
            yield from iterable
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        if total is None:
            try:
                total = len(iterable)
            except TypeError:
                total = None
        with RichProgress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as prog:
            task = prog.add_task(description, total=total)
            for item in iterable:
                yield item
                prog.advance(task)


@dataclass
class RunContext:
    """What an experiment's ``run(config, ctx)`` gets: where to write and how to report."""

    folder: Path
    seed: int
    device: Any  # torch.device
    quiet: bool = False
    figure_format: str = "png"
    figures: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    figure_mode: str = "all"  # all | summary (the key figure only) | none
    key_figure: str | None = None  # the experiment's KEY_FIGURE (what `summary` keeps)
    seconds: dict[str, float] = field(default_factory=dict)  # per-phase seconds: train_s, measure_s, figures_s, …
    shared: dict[str, int] = field(default_factory=dict)  # phase -> size of the group whose time was split evenly

    def __post_init__(self):
        self.folder = Path(self.folder)
        self.progress = Progress(self.quiet)
        self._depth = 0
        if self.figure_mode not in FIGURE_MODES:
            raise ValueError(f"figure_mode must be one of {FIGURE_MODES}, not {self.figure_mode!r}")
        (self.folder / "figures").mkdir(parents=True, exist_ok=True)

    def draws(self, name: str) -> bool:
        """Whether the figure ``name`` (a file stem, e.g. ``fit`` or ``fit_cos3``) is drawn under this run's
        ``figure_mode``: every figure under ``all``, the key figure (and its per-network variants) under
        ``summary``, none under ``none``. Experiments ask before drawing, so a skipped figure costs nothing."""
        if self.figure_mode == "all":
            return True
        if self.figure_mode == "none" or not self.key_figure:
            return False
        return name == self.key_figure or name.startswith(self.key_figure + "_")

    @contextmanager
    def timed(self, phase: str):
        """Add the seconds of the block to this run's ``phase`` (``train``, ``measure``, ``figures``, ``io``). A block
        inside another timed block counts for the outer one only."""
        if self._depth:
            yield
            return
        self._depth += 1
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._depth -= 1
            self.add_seconds(phase, time.perf_counter() - t0)

    def add_seconds(self, phase: str, seconds: float, group: int = 1) -> None:
        key = phase if phase.endswith("_s") else f"{phase}_s"
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        if group > 1:
            self.shared[key] = max(group, self.shared.get(key, 0))

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr)

    def save_figure(self, name: str, fig) -> Path | None:
        """Write ``fig`` as ``figures/<name>.png`` (and .svg) and close it; under a ``figure_mode`` that does not draw
        ``name`` the figure is only closed (None is returned)."""
        import matplotlib.pyplot as plt

        if not self.draws(name):
            plt.close(fig)
            return None
        path = self.folder / "figures" / f"{name}.png"
        with self.timed("figures"):
            fig.savefig(path, dpi=110, bbox_inches="tight")
            if self.figure_format == "svg":
                fig.savefig(path.with_suffix(".svg"), bbox_inches="tight")
            plt.close(fig)
        self.figures.append(path.name)
        return path

    def figure_path(self, filename: str) -> Path:
        """A path for a figure the experiment writes itself (e.g. a GIF); ask :meth:`draws` first."""
        self.figures.append(filename)
        return self.folder / "figures" / filename

    def save_arrays(self, **arrays) -> None:
        for k, v in arrays.items():
            self.arrays[k] = np.asarray(v)

    def save_model(self, model_or_state, name: str = "model") -> Path:
        from safetensors.torch import save_file

        state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
        flat = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
        path = self.folder / f"{name}.safetensors"
        save_file(flat, str(path))
        return path

    def save_table(self, name: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
        """A tidy table in the run folder as `<name>.csv` and `<name>.parquet` (one dict per row)."""
        import pandas as pd

        frame = pd.DataFrame(rows, columns=columns)
        path = self.folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        frame.to_parquet(self.folder / f"{name}.parquet", index=False)
        return path

    def table(self, title: str, rows: list[dict[str, Any]]) -> None:
        self.tables.append((title, rows))

    def note(self, text: str) -> None:
        self.notes.append(text)
