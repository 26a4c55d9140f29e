"""Self-contained HTML pages: one per run (figures embedded) and an index of all runs.

The pieces other pages are built from (the sweep page, :mod:`priorlab.viz.sweep`): :func:`html_table` (rows of
dicts), :func:`fmt_num`, :func:`html_page` (the page around a body, with the stylesheet) and :func:`write_page`
(written atomically).
"""

from __future__ import annotations

import base64
import html
import json
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
.grid{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
figure{max-width:100%} figure.key{margin-top:1.2em}
.block{margin:.4em 0} .block h2{margin-top:1em}
.v-reproduces{color:#176f2c;font-weight:600} .v-differs{color:#b00020;font-weight:600}
.v-not{color:#8a6d00;font-weight:600}
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


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in pixels of a PNG or GIF, read from its header; None for other files."""
    head = Path(path).read_bytes()[:32]
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head[:3] == b"GIF" and len(head) >= 10:
        return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
    return None


def _img_tag(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}[path.suffix]
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:{mime};base64,{data}" alt="{_esc(path.stem)}">'


def _figure(path: Path, caption: str, cls: str = "") -> str:
    """A figure shown at its own pixel width (never squeezed below it unless the page is narrower)."""
    size = image_size(path)
    style = f" style='width:{size[0]}px'" if size else ""
    klass = f" class='{cls}'" if cls else ""
    return f"<figure{klass}{style}>{_img_tag(path)}<figcaption>{_esc(caption)}</figcaption></figure>"


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


VERDICT_CLASS = {"reproduces": "v-reproduces", "differs": "v-differs", "not tested at this scale": "v-not"}


def _verdict_span(v: str) -> str:
    return f"<span class='{VERDICT_CLASS.get(v, 'v-not')}'>{_esc(v)}</span>"


def fmt_expected(expected: Any, tolerance: float | None = None) -> str:
    """"0.725 ± 0.02" or "[0, 0.1]" (a range, widened by its tolerance when there is one)."""
    if isinstance(expected, list | tuple):
        text = f"[{fmt_num(expected[0])}, {fmt_num(expected[1])}]"
        return text + (f" ± {fmt_num(tolerance)}" if tolerance else "")
    return fmt_num(expected) + (f" ± {fmt_num(tolerance)}" if tolerance else "")


def fmt_ours(row: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The run's number for a claim, with its 95% CI when the metrics carry ``<metric>_ci_low/_ci_high`` and its n
    when they carry ``<metric>_n``."""
    ours = row.get("ours")
    if ours is None:
        return "—"
    lo, hi = metrics.get(f"{row.get('metric')}_ci_low"), metrics.get(f"{row.get('metric')}_ci_high")
    ci = f" [95% CI {fmt_num(lo)}, {fmt_num(hi)}]" if lo is not None and hi is not None else ""
    n = metrics.get(f"{row.get('metric')}_n")  # how many seeds / trials the number is over
    return fmt_num(ours) + ci + (f" (n = {int(n)})" if n is not None else "")


def verdict_summary(rows: list[dict[str, Any]]) -> str:
    """One sentence computed from the verdicts: how many claims reproduce, which differ."""
    if not rows:
        return "This experiment declares no claims of its study."
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICT_CLASS}
    parts = [f"{counts['reproduces']} of {len(rows)} claims reproduce"]
    if counts["differs"]:
        parts.append(f"{counts['differs']} differ ({'; '.join(r['claim'] for r in rows if r['verdict'] == 'differs')})")
    if counts["not tested at this scale"]:
        parts.append(f"{counts['not tested at this scale']} not tested at this scale")
    return ", ".join(parts) + "."


def _study_blocks(module, config_obj, config: dict, metrics: dict, verdicts: list[dict[str, Any]]) -> list[str]:
    """Question, Setup, Expected, Ours, Verdict: what the study asked and found, what we ran and found."""
    question = getattr(module, "QUESTION", None) or getattr(module, "DESCRIPTION", "")
    setup_fn = getattr(module, "setup", None)
    if setup_fn is not None and config_obj is not None:
        setup = setup_fn(config_obj)
    else:
        setup = "Config: " + ", ".join(f"{k}={_short(v)}" for k, v in config.items() if v not in (None, ""))
    cite = getattr(module, "CITATION", "")
    out = [
        "<section class='block' id='question'><h2>Question</h2>"
        f"<p>{_esc(question)}</p>" + (f"<div class='cite'><b>Source study.</b> {_esc(cite)}</div>" if cite else "")
        + "</section>",
        f"<section class='block' id='setup'><h2>Setup</h2><p>{_esc(setup)}</p></section>",
    ]
    if verdicts:
        expected = "".join(
            f"<li>{_esc(r['claim'])}: <b>{fmt_expected(r['expected'], r.get('tolerance'))}</b>"
            f" ({_esc(r['metric'])}; {_esc(r['source'])})</li>" for r in verdicts
        )
        ours = html_table([{"claim": r["claim"], "metric": r["metric"], "ours": fmt_ours(r, metrics)} for r in verdicts])
        table = "<table><tr><th>claim</th><th>expected</th><th>ours</th><th>verdict</th></tr>" + "".join(
            f"<tr><td>{_esc(r['claim'])}</td><td>{fmt_expected(r['expected'], r.get('tolerance'))}</td>"
            f"<td class='num'>{fmt_ours(r, metrics)}</td><td>{_verdict_span(r['verdict'])}"
            + (f" <small>({_esc(r['note'])})</small>" if r.get("note") else "") + "</td></tr>"
            for r in verdicts
        ) + "</table>"
    else:
        expected = "<li>This experiment declares no claims of its study.</li>"
        ours = "<p>See the metrics below.</p>"
        table = ""
    out += [
        f"<section class='block' id='expected'><h2>Expected</h2><ul>{expected}</ul></section>",
        f"<section class='block' id='ours'><h2>Ours</h2>{ours}</section>",
        f"<section class='block' id='verdict'><h2>Verdict</h2><p>{_esc(verdict_summary(verdicts))}</p>{table}"
        "</section>",
    ]
    return out


def read_verdicts(folder: Path) -> list[dict[str, Any]]:
    p = Path(folder) / "verdict.json"
    if not p.exists():
        return []
    try:
        rows = json.loads(p.read_text())
    except (OSError, ValueError):
        return []
    return rows if isinstance(rows, list) else []


def write_run_report(folder: Path, module, config: dict, metrics: dict, env: dict, ctx, config_obj=None) -> Path:
    """report.html: the five study blocks, the key figure at full width, then metrics, tables and the other figures."""
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
    parts += _study_blocks(module, config_obj, config, metrics, read_verdicts(folder))
    figs = [folder / "figures" / f for f in ctx.figures if (folder / "figures" / f).exists()]
    captions = getattr(module, "FIGURES", {})
    key = getattr(ctx, "key_figure", None) or getattr(module, "KEY_FIGURE", None)
    first = next((f for f in figs if f.stem == key), figs[0] if figs else None)
    if first is not None:
        parts.append(_figure(first, _caption(captions, first), "key"))
    for n in ctx.notes:
        parts.append(f"<p>{_esc(n)}</p>")
    parts.append("<h2>Metrics</h2>")
    parts.append(html_table([{"metric": k, "value": v} for k, v in metrics.items()]))
    for title, rows in ctx.tables:
        parts.append(f"<h2>{_esc(title)}</h2>")
        parts.append(html_table(rows))
    rest = [f for f in figs if f != first]
    if rest:
        parts.append("<h2>Figures</h2><div class='grid'>")
        parts.extend(_figure(f, _caption(captions, f)) for f in rest)
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


def dashboard_summary(claims: list[dict[str, Any]]) -> str:
    if not claims:
        return "No run with claims yet."
    n_exp = len({c["experiment"] for c in claims})
    counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICT_CLASS}
    return (f"{len(claims)} claims of {n_exp} experiments (latest run of each): {counts['reproduces']} reproduce, "
            f"{counts['differs']} differ, {counts['not tested at this scale']} not tested at this scale.")


def headline(metrics: dict[str, float], n: int = 4) -> str:
    items = list(metrics.items())[:n]
    return ", ".join(f"{k}={fmt_num(v)}" for k, v in items)


def write_index(
    root: Path, runs: list[dict[str, Any]], sweeps: list[dict[str, Any]] | None = None,
    claims: list[dict[str, Any]] | None = None,
) -> Path:
    """index.html in the runs root: the reproduction dashboard (one row per claim of the latest run of each
    experiment, ``claims`` from :func:`priorlab.report_index.claim_rows`), sweeps, then every run with link."""
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
    if claims is not None:
        body.append(f"<section id='dashboard'><h2>Reproduction dashboard</h2><p>{_esc(dashboard_summary(claims))}</p>")
        body.append("<table><tr><th>experiment</th><th>claim</th><th>expected</th><th>ours</th><th>verdict</th>"
                    "<th>run</th></tr>")
        for c in claims:
            rel = os.path.relpath(Path(c["path"]) / "report.html", root)
            body.append(
                f"<tr><td>{_esc(c['experiment'])}</td><td>{_esc(c['claim'])}</td>"
                f"<td>{fmt_expected(c['expected'], c.get('tolerance'))}</td><td class='num'>{fmt_num(c.get('ours'))}</td>"
                f"<td>{_verdict_span(c['verdict'])}</td><td><a href='{_esc(rel)}'>{_esc(c['run'])}</a></td></tr>"
            )
        body.append("</table></section>")
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
