"""The sweep page: the plan, every metric against every gridded key, the table of trials.

Takes the sweep's rows as data (one dict per trial: grid values, ``seed``, ``status``, metrics, ``run``); reading
them from the index is the sweep package's job.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from priorlab.viz.report import html_table, write_page

__all__ = ["metric_figures", "write_sweep_page"]


def _numeric(vals: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)


def _spread(series) -> float:
    vals = [v for s in series.values() for vs in s.values() for v in vs]
    return max(vals) / min(vals) if vals and min(vals) > 0 else 0.0


def metric_figures(rows: list[dict[str, Any]], grid: dict[str, list[Any]], metrics: list[str]):
    """(title, figure) pairs: each metric against each gridded parameter, one line per combination of the other
    gridded parameters, mean over seeds with a band from min to max and ±1 SD error bars."""
    import matplotlib.pyplot as plt
    import numpy as np

    done = [r for r in rows if r["status"] == "done"]
    keys = list(grid)
    figs = []
    for x_key in keys or [None]:
        others = [k for k in keys if k != x_key]
        xs = grid[x_key] if x_key else [None]
        numeric = x_key is not None and _numeric(xs)
        for m in metrics:
            series: dict[tuple, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in done:
                v = r.get(m)
                if v is None or not math.isfinite(v):
                    continue
                series[tuple(r.get(k) for k in others)][r.get(x_key) if x_key else None].append(v)
            if not series:
                continue
            fig, ax = plt.subplots(figsize=(6.4, 4))
            fig.subplots_adjust(left=0.14, right=0.97, bottom=0.12, top=0.91)  # fixed margins: one draw per save
            def order(kv, others=others):  # the grid's own order of the other keys' values
                return [grid[k].index(v) if v in grid[k] else 0 for k, v in zip(others, kv[0])]

            for i, (label, by_x) in enumerate(sorted(series.items(), key=order)):
                pos = [x for x in xs if x in by_x]
                at = np.array(pos, dtype=float) if numeric else np.array([xs.index(x) for x in pos], dtype=float)
                vals = [np.array(by_x[x]) for x in pos]
                mean = np.array([v.mean() for v in vals])
                sd = np.array([v.std() for v in vals])
                name = ", ".join(f"{k}={v}" for k, v in zip(others, label)) or m
                ax.errorbar(at, mean, yerr=sd, marker="o", capsize=3, color=f"C{i % 10}", label=name)
                ax.fill_between(at, [v.min() for v in vals], [v.max() for v in vals], color=f"C{i % 10}", alpha=0.15)
            n_seeds = max((len(v) for s in series.values() for v in s.values()), default=0)
            positive = all(v > 0 for s in series.values() for vs in s.values() for v in vs)
            if positive and _spread(series) > 50:
                ax.set_yscale("log")
            if numeric and min(xs) > 0 and max(xs) / min(xs) >= 20:
                ax.set_xscale("log")
            if not numeric:
                ax.set_xticks(range(len(xs)), [str(x) for x in xs])
            ax.set(xlabel=x_key or "", ylabel=m)
            ax.set_title(f"{m} vs {x_key or 'trial'} (mean ± SD over {n_seeds} seeds; band: min–max)", fontsize=10)
            if len(series) > 1 or others:
                ax.legend(fontsize=8)
            figs.append((f"{m} vs {x_key}", fig))
    return figs


def _figure_tag(title: str, fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)  # margins fixed by metric_figures (a tight bbox draws twice)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return (f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(title)}'>"
            f"<figcaption>{html.escape(title)}</figcaption></figure>")


def write_sweep_page(path: Path, sweep: dict[str, Any], rows: list[dict[str, Any]], metrics: list[str]) -> Path:
    """The sweep's report page at ``path``: progress, figures of every metric vs every gridded key, the table.

    ``sweep``: ``id``, ``experiment``, ``grid`` ({key: values}), ``base`` (fixed keys) and ``seeds``; ``rows``: one
    per trial (see the module docstring); ``metrics``: the metric columns of ``rows``.
    """
    import matplotlib

    matplotlib.use("Agg")

    done = sum(r["status"] == "done" for r in rows)
    failed = sum(r["status"].startswith("failed") for r in rows)
    parts = [
        f"<h1>priorlab sweep · {html.escape(sweep['experiment'])}</h1>",
        (
            f"<p class='sub'>Sweep <code>{html.escape(sweep['id'])}</code> · {done}/{len(rows)} trials done"
            f"{f' · {failed} failed' if failed else ''} · seeds {html.escape(str(sweep.get('seeds')))}</p>"
        ),
        "<h2>Plan</h2>",
        html_table([{"key": k, "values": ", ".join(map(str, v))} for k, v in sweep["grid"].items()]
                   + [{"key": f"{k} (fixed)", "values": str(v)} for k, v in sweep["base"].items()]),
    ]
    figs = metric_figures(rows, sweep["grid"], metrics)
    if figs:
        parts.append("<h2>Metrics vs parameters</h2><div class='grid'>")
        parts += [_figure_tag(title, fig) for title, fig in figs]
        parts.append("</div>")
    parts.append("<h2>Trials</h2><p>Each trial is an ordinary run: <code>priorlab show RUN</code> "
                 "or its report page under the runs root.</p>")
    parts.append(html_table(rows))
    return write_page(path, f"priorlab sweep {sweep['id']}", "\n".join(parts))
