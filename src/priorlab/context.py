"""What an experiment may use of its run: :class:`RunContext` (seed, device, progress, sinks for figures,
arrays, tables, notes and weights). The runner makes one per run; tests and the Python API may make their own.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


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

    def __post_init__(self):
        self.folder = Path(self.folder)
        self.progress = Progress(self.quiet)
        (self.folder / "figures").mkdir(parents=True, exist_ok=True)

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr)

    def save_figure(self, name: str, fig) -> Path:
        import matplotlib.pyplot as plt

        path = self.folder / "figures" / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        if self.figure_format == "svg":
            fig.savefig(path.with_suffix(".svg"), bbox_inches="tight")
        plt.close(fig)
        self.figures.append(path.name)
        return path

    def figure_path(self, filename: str) -> Path:
        """A path for a figure the experiment writes itself (e.g. a GIF)."""
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
