"""Self-contained HTML pages: one per run (figures embedded) and an index of all runs.

The pieces other pages are built from (the sweep page, :mod:`priorlab.viz.sweep`): :func:`html_table` (rows of
dicts), :func:`fmt_num`, :func:`html_page` (the page around a body, with the stylesheet) and :func:`write_page`
(written atomically).
"""

from __future__ import annotations

import base64
import html
import os
import time
from pathlib import Path
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee} figcaption{color:#555;font-size:.9em}
.status-done{color:#176f2c;font-weight:600} .status-failed{color:#b00020;font-weight:600}
.cite{background:#f8f8f8;border-left:3px solid #bbb;padding:.4em .8em;font-size:.92em}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1em}
"""


def _esc(x: Any) -> str:
    return html.escape(str(x))


def fmt_num(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e4 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    return _esc(v)


def _img_tag(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}[path.suffix]
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:{mime};base64,{data}" alt="{_esc(path.stem)}">'


def html_table(rows: list[dict[str, Any]]) -> str:
    """An HTML table of ``rows`` (the union of their keys as columns, numbers right-aligned and formatted)."""
    if not rows:
        return "<p>(empty)</p>"
    cols = list(rows[0])
    for r in rows[1:]:
        cols += [c for c in r if c not in cols]
    out = ["<table><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in cols) + "</tr>"]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            cls = ' class="num"' if isinstance(v, int | float) else ""
            cells.append(f"<td{cls}>{fmt_num(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def html_page(title: str, body: str) -> str:
    """A complete HTML document around ``body`` (the shared stylesheet inlined)."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{_esc(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )


def write_page(path: Path, title: str, body: str) -> Path:
    """Write the page ``title`` with ``body`` to ``path`` through a temporary file (never half-written)."""
    path = Path(path)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html_page(title, body))
    os.replace(tmp, path)
    return path


def write_run_report(folder: Path, module, config: dict, metrics: dict, env: dict, ctx) -> Path:
    status = env.get("status", "")
    scls = "status-done" if status == "done" else "status-failed"
    name = env.get("experiment", "")
    parts = [
        f"<h1>priorlab · {_esc(name)}</h1>",
        f"<p class='sub'>{_esc(getattr(module, 'DESCRIPTION', ''))}</p>",
        f"<p>Run <code>{_esc(env.get('run_id'))}</code> · status <span class='{scls}'>{_esc(status)}</span>"
        f" · seed {_esc(env.get('seed'))} · device {_esc(env.get('device'))}"
        f" · {_esc(env.get('start'))} · {fmt_num(env.get('seconds'))} s</p>",
    ]
    cite = getattr(module, "CITATION", "")
    if cite:
        parts.append(f"<div class='cite'><b>Source study.</b> {_esc(cite)}</div>")
    for n in ctx.notes:
        parts.append(f"<p>{_esc(n)}</p>")
    parts.append("<h2>Metrics</h2>")
    parts.append(html_table([{"metric": k, "value": v} for k, v in metrics.items()]))
    for title, rows in ctx.tables:
        parts.append(f"<h2>{_esc(title)}</h2>")
        parts.append(html_table(rows))
    figs = [folder / "figures" / f for f in ctx.figures if (folder / "figures" / f).exists()]
    if figs:
        parts.append("<h2>Figures</h2><div class='grid'>")
        captions = getattr(module, "FIGURES", {})
        for f in figs:
            cap = _caption(captions, f)
            parts.append(f"<figure>{_img_tag(f)}<figcaption>{_esc(cap)}</figcaption></figure>")
        parts.append("</div>")
    parts.append("<h2>Config</h2>")
    parts.append(html_table([{"key": k, "value": _short(v)} for k, v in config.items()]))
    parts.append("<h2>Environment</h2>")
    keep = ("priorlab", "python", "torch", "numpy", "torch_threads", "device", "git_commit", "command")
    parts.append(html_table([{"key": k, "value": _short(env.get(k))} for k in keep]))
    return write_page(folder / "report.html", f"priorlab {name} {env.get('run_id')}", "\n".join(parts))


def _caption(captions: dict[str, str], f: Path) -> str:
    """The caption of a figure stem, or of its longest prefix before a '_' suffix (fit_cos3 -> fit)."""
    if f.stem in captions:
        return captions[f.stem]
    keys = [k for k in captions if f.stem.startswith(k + "_")]
    if keys:
        k = max(keys, key=len)
        return f"{captions[k]} ({f.stem[len(k) + 1:]})"
    return f.name


def _short(v: Any) -> str:
    if isinstance(v, list):
        s = ", ".join(str(x) for x in v)
    else:
        s = str(v)
    return s if len(s) < 300 else s[:297] + "…"


def headline(metrics: dict[str, float], n: int = 4) -> str:
    items = list(metrics.items())[:n]
    return ", ".join(f"{k}={fmt_num(v)}" for k, v in items)


def write_index(root: Path, runs: list[dict[str, Any]], sweeps: list[dict[str, Any]] | None = None) -> Path:
    """index.html in the runs root: every run with experiment, key config, headline metrics, link."""
    root = Path(root)
    rows = []
    for r in reversed(runs):
        path = Path(r["path"])
        rel = os.path.relpath(path / "report.html", root)
        status = r["status"]
        scls = "status-done" if status == "done" else "status-failed"
        link = f"<a href='{_esc(rel)}'>report</a>" if (path / "report.html").exists() else "—"
        cfg = r["config"]
        key = ", ".join(
            f"{k}={_short(v)}" for k, v in cfg.items() if k not in ("scale", "seed") and v not in (None, "")
        )
        rows.append(
            f"<tr><td>{_esc(r['experiment'])}</td><td><code>{_esc(r['id'])}</code></td>"
            f"<td class='{scls}'>{_esc(status)}</td><td>{_esc(r.get('seed'))}</td>"
            f"<td>{_esc(_short(key)[:160])}</td><td>{_esc(headline(r['metrics']))}</td><td>{link}</td></tr>"
        )
    body = [
        "<h1>priorlab runs</h1>",
        f"<p class='sub'>{len(runs)} runs in <code>{_esc(root)}</code> · written {_esc(time.strftime('%Y-%m-%d %H:%M'))}</p>",
    ]
    if sweeps:
        body.append("<h2>Sweeps</h2><table><tr><th>sweep</th><th>experiment</th><th>trials</th><th>page</th></tr>")
        for s in sweeps:
            rel = os.path.relpath(Path(s["page"]), root) if s.get("page") else ""
            link = f"<a href='{_esc(rel)}'>sweep report</a>" if rel else "—"
            body.append(
                f"<tr><td><code>{_esc(s['id'])}</code></td><td>{_esc(s['experiment'])}</td>"
                f"<td>{_esc(s.get('progress', ''))}</td><td>{link}</td></tr>"
            )
        body.append("</table>")
    body.append(
        "<h2>Runs</h2><table><tr><th>experiment</th><th>run</th><th>status</th><th>seed</th>"
        "<th>config</th><th>headline metrics</th><th>page</th></tr>"
    )
    body.extend(rows)
    body.append("</table>")
    root.mkdir(parents=True, exist_ok=True)
    return write_page(root / "index.html", "priorlab runs", "\n".join(body))
