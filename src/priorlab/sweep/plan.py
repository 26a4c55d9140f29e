"""Planning a sweep: parse ``--grid`` and ``--seeds``, expand the grid into trials with stable keys, and group the
trials an experiment can train together."""

from __future__ import annotations

import json
import math
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from priorlab.config import UserError, clip, parse_value

MAX_GROUP = 256  # trials trained together in one run_many call at most
MAX_TRIALS = 100_000  # a sweep's size at most, unless --max-trials raises it


@dataclass
class Trial:
    key: str
    values: dict[str, Any]  # the full config values of this trial (base + grid point + seed)


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside [...] or {...} (so list values can be gridded: widths=[1,2],[3])."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_grid(items: list[str] | None) -> dict[str, list[Any]]:
    """``["key=v1,v2", ...]`` (the ``--grid`` options) -> ``{key: [v1, v2]}``, values parsed like ``--set`` values."""
    grid: dict[str, list[Any]] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--grid expects key=v1,v2,..., got '{clip(item)}'")
        if key == "seed":
            raise UserError("grid the seed with --seeds (e.g. --seeds 0-9), not --grid seed=...")
        vals = [parse_value(p) for p in _split_top(raw)]
        if not vals:
            raise UserError(f"--grid {key}= has no values")
        if key in grid:
            raise UserError(f"--grid {key} given twice")
        grid[key] = vals
    return grid


def parse_seeds(text: str | None, limit: int = MAX_TRIALS) -> list[int] | None:
    """'0-9', '0,3,5' or '0-4,10' -> sorted unique seeds (at most ``limit``, checked before a range is expanded)."""
    if text is None:
        return None
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                if b - a + 1 + len(seeds) > limit:
                    raise UserError(f"invalid --seeds '{clip(text)}': more than {limit:,} seeds "
                                    "(raise the cap with --max-trials)")
                seeds.update(range(a, b + 1))
            elif part:
                seeds.add(int(part))
    except UserError:
        raise
    except ValueError:
        raise UserError(f"invalid --seeds '{clip(text)}' (allowed: a range 0-9, a list 0,3,5, or both)") from None
    if not seeds or min(seeds) < 0 or max(seeds) > 2**31 - 1:
        raise UserError(f"invalid --seeds '{clip(text)}' (allowed: integers in 0..{2**31 - 1})")
    return sorted(seeds)


def _fmt(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def trial_key(point: dict[str, Any]) -> str:
    """A grid point's stable key: ``k=v`` pairs in key order (``hidden=3,seed=1``)."""
    return ",".join(f"{k}={_fmt(point[k])}" for k in sorted(point))


def check_size(grid: dict[str, list[Any]], seeds: list[int] | None, max_trials: int = MAX_TRIALS) -> int:
    """The number of trials of a grid × seeds, refused (UserError) above ``max_trials`` before anything is expanded."""
    n = len(seeds) if seeds is not None else 1
    for vals in grid.values():
        n *= len(vals)
        if n > max_trials:
            break
    if n > max_trials:
        raise UserError(f"the sweep has more than {max_trials:,} trials (raise the cap with --max-trials)")
    return n


def expand(base: dict[str, Any], grid: dict[str, list[Any]], seeds: list[int] | None) -> list[Trial]:
    """Every combination of the grid values (in grid order), times every seed."""
    points: list[dict[str, Any]] = [{}]
    for key, vals in grid.items():
        points = [{**p, key: v} for p in points for v in vals]
    seeds = seeds if seeds is not None else [int(base.get("seed", 0))]
    trials = []
    for p in points:
        for s in seeds:
            point = {**p, "seed": s}
            trials.append(Trial(trial_key(point), {**base, **point}))
    return trials


def new_sweep_id() -> str:
    return "sw-" + time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def group_trials(experiment: str, trials: list[Trial], workers: int, batch: bool = True) -> list[list[Trial]]:
    """Trials an experiment can train together (it defines run_many) share a group; others run alone."""
    from priorlab.experiments import load

    module = load(experiment)
    if not batch or not hasattr(module, "run_many"):
        return [[t] for t in trials]
    free = set(getattr(module, "BATCH_KEYS", ("seed",)))
    by_arch: dict[str, list[Trial]] = defaultdict(list)
    for t in trials:
        fixed = {k: v for k, v in t.values.items() if k not in free}
        by_arch[json.dumps(fixed, sort_keys=True, default=str)].append(t)
    # split large groups so that every worker gets work
    size = max(1, min(MAX_GROUP, math.ceil(len(trials) / max(1, workers))))
    groups = []
    for ts in by_arch.values():
        groups += [ts[i : i + size] for i in range(0, len(ts), size)]
    return groups
