"""Training sessions of the playground: one network, its optimizer, data and loss history per id.

A :class:`Session` is built from a validated playground config with the experiments' own pieces (fit1d's data and
``OneHidden`` network, or ``nets.deep`` for deeper ones; ``data.planes`` for the 2-D tasks; ``regimes.apply``) and
trains with ``train.loop.fit`` on a persistent optimizer, a bounded number of steps per call. A NaN/inf loss stops
that session with a message; nothing in one session touches another's tensors. The :class:`Manager` holds the
sessions (a limit, idle expiry) and the uploaded datasets.
"""

from __future__ import annotations

import csv
import io
import math
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from priorlab.config import describe_error
from priorlab.data.functions import dominant_fourier_terms
from priorlab.data.planes import grid_lines, plane
from priorlab.errors import Diverged, UserError
from priorlab.experiments import fit1d
from priorlab.nets.deep import deep
from priorlab.nets.onehidden import PERIODIC, OneHidden, combined_terms, fourier_terms
from priorlab.probe import capture
from priorlab.regimes import apply as apply_regime
from priorlab.regimes.core import tensors
from priorlab.serve.configs import PLAYGROUND, Fit1dPlay, FoldPlay
from priorlab.train.loop import fit, make_optimizer, trainable
from priorlab.viz.planes import HI, LO, projector

MAX_STEPS_PER_CALL = 500
MAX_TOTAL_STEPS = 100_000  # fold's steps field allows 100 000
MAX_CSV_BYTES = 2_000_000
MAX_CSV_ROWS = 20_000
MAX_DATASETS = 256
GRID_1D = 240
GRID_2D = 48
_BUILD = threading.Lock()  # seeding the global RNG and drawing the initial weights happen under one lock


class NotFound(LookupError):
    """An unknown session or dataset id (HTTP 404)."""


class Stopped(RuntimeError):
    """The session was stopped (divergence, step limit) and trains no more (HTTP 409)."""


class Busy(RuntimeError):
    """The session limit is reached (HTTP 503)."""


def _num(v: float, digits: int = 5) -> float | None:
    v = float(v)
    return float(f"{v:.{digits}g}") if math.isfinite(v) else None


def _nums(t) -> Any:
    """A tensor as (nested) lists of floats rounded to 5 significant digits, non-finite values as null."""
    a = torch.as_tensor(t).detach().double().numpy()
    finite = np.isfinite(a)
    mag = np.where(finite & (a != 0), np.floor(np.log10(np.abs(np.where(finite & (a != 0), a, 1.0)))), 0)
    r = np.where(finite, np.round(a * 10.0 ** (4 - mag)) / 10.0 ** (4 - mag), 0.0).astype(object)
    r[~finite] = None
    return r.tolist()


# ----------------------------------------------------------------------------------------------
# uploaded 2-D datasets


@dataclass
class Dataset:
    id: str
    x: torch.Tensor  # [n, 2], scaled into [-1, 1]²
    y: torch.Tensor  # [n] int64, 0 … classes − 1
    labels: list[str]
    centre: list[float]
    scale: float

    @property
    def classes(self) -> int:
        return len(self.labels)


def parse_csv(raw: bytes) -> tuple[torch.Tensor, torch.Tensor, list[str], list[float], float]:
    """Rows ``x,y,label`` (a header row allowed) → points scaled into [-1, 1]², labels 0 … k − 1 (2 ≤ k ≤ 5).
    Raises UserError with one line naming the row and column."""
    if len(raw) > MAX_CSV_BYTES:
        raise UserError(f"CSV too large: over {MAX_CSV_BYTES // 1_000_000} MB (at most {MAX_CSV_ROWS} rows)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("CSV is not UTF-8 text") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]  # a header
    if len(rows) > MAX_CSV_ROWS:
        raise UserError(f"CSV has {len(rows)} rows; at most {MAX_CSV_ROWS}")
    if len(rows) < 10:
        raise UserError(f"CSV has {len(rows)} data rows; need at least 10 rows of x,y,label")
    xs, names = [], []
    for i, r in enumerate(rows, 1):
        if len(r) != 3:
            raise UserError(f"CSV row {i}: {len(r)} fields, expected 3 (x,y,label)")
        for col, v in zip(("x", "y"), r[:2]):
            if not _is_number(v) or not math.isfinite(float(v)):
                raise UserError(f"CSV row {i}: column {col} is '{v.strip()[:20]}', not a finite number")
        xs.append((float(r[0]), float(r[1])))
        names.append(r[2].strip())
    labels = sorted(set(names), key=lambda s: (not _is_number(s), float(s) if _is_number(s) else 0.0, s))
    if not 2 <= len(labels) <= 5:
        raise UserError(f"CSV has {len(labels)} class{'es' if len(labels) != 1 else ''} in column label; need 2–5")
    x = torch.tensor(xs, dtype=torch.float32)
    lo, hi = x.amin(0), x.amax(0)
    centre = (lo + hi) / 2
    scale = max((hi - lo).max().item() / 2, 1e-12)
    index = {name: k for k, name in enumerate(labels)}
    y = torch.tensor([index[n] for n in names], dtype=torch.int64)
    return (x - centre) / scale, y, labels, centre.tolist(), scale


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------------------------
# one session


class _DeepCurve:
    """A deep 1-D network seen the way fit1d's figures see ``OneHidden``: ``model(x)`` for x [N], ``units``,
    ``contributions`` (of the last hidden layer), ``activation``, ``hidden.out_features``."""

    def __init__(self, net, activation: str, width: int):
        self.net, self.activation, self.hidden = net, activation, SimpleNamespace(out_features=width)
        self.last = f"layer{len(net.blocks)}"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, None])[:, 0]

    def units(self, x: torch.Tensor) -> torch.Tensor:
        return capture(self.net, x[:, None], layers=[self.last])[self.last]

    def contributions(self, x: torch.Tensor) -> torch.Tensor:
        return self.units(x) * self.net.readout.weight[0]


class Session:
    """One network training in the page. Every public method holds the session's lock."""

    def __init__(self, sid: str, experiment: str, config, dataset: Dataset | None = None):
        self.id, self.experiment, self.config, self.dataset = sid, experiment, config, dataset
        self.module = PLAYGROUND[experiment][0]
        self.lock = threading.Lock()
        self.losses: list[float] = []
        self.stopped: str | None = None
        self.last_used = time.monotonic()
        self._target_terms = None
        with _BUILD:
            if experiment == "fit1d":
                self._build_fit1d(config)
            else:
                self._build_fold(config)
        self.opt = make_optimizer(trainable(self.model), config.optimizer, lr=self.lr)

    # -- building (the experiments' data and networks)
    def _build_fit1d(self, cfg: Fit1dPlay) -> None:
        self.data = fit1d.make_data(cfg, cfg.seed)
        torch.manual_seed(cfg.seed)  # as fit1d.train_one: the same init as `priorlab run fit1d` with this seed
        if cfg.depth == 1:
            self.model = OneHidden(cfg.hidden, cfg.activation)
            self.curve = self.model
        else:
            self.model = deep(cfg.hidden, cfg.depth, cfg.activation, bias=True, init="torch-default",
                              in_features=1, out_features=1)
            self.curve = _DeepCurve(self.model, cfg.activation, cfg.hidden)
        apply_regime(self.model, cfg.regime)
        self.start = next(t for t in [getattr(m, n) for _, m, n in tensors(self.model, "weight")]).detach().clone()
        self.lr = cfg.lr if cfg.lr is not None else fit1d.DEFAULT_LR[cfg.activation]
        x, y = self.data.x, self.data.y
        self.loss_fn = lambda _: torch.mean((self.curve(x) - y) ** 2)

    def _build_fold(self, cfg: FoldPlay) -> None:
        if self.dataset is not None:
            self.x, self.y, self.classes = self.dataset.x, self.dataset.y, self.dataset.classes
        else:
            self.x, self.y = plane(cfg.task, cfg.n_points, cfg.noise, seed=cfg.seed, classes=cfg.classes)
            self.classes = cfg.classes
        torch.manual_seed(cfg.seed)
        self.model = deep(cfg.width, cfg.hidden_layers, cfg.activation, bias=True, init="torch-default",
                          in_features=2, out_features=self.classes)
        apply_regime(self.model, cfg.regime)
        self.lr = cfg.lr
        x, y = self.x, self.y
        self.loss_fn = lambda _: torch.nn.functional.cross_entropy(self.model(x), y)

    # -- training
    @property
    def step_count(self) -> int:
        return len(self.losses)

    def step(self, n: int) -> dict[str, Any]:
        """Train ``n`` full-batch steps (1 ≤ n ≤ MAX_STEPS_PER_CALL) with the training loop; losses before each
        update. Divergence stops the session (Stopped)."""
        if not 1 <= n <= MAX_STEPS_PER_CALL:
            raise UserError(f"'steps' must be 1–{MAX_STEPS_PER_CALL}, got {n}")
        with self.lock:
            self.last_used = time.monotonic()
            if self.stopped:
                raise Stopped(self.stopped)
            n = min(n, MAX_TOTAL_STEPS - self.step_count)
            first = self.step_count
            try:
                fit(self.model, self.loss_fn, n, optimizer=self.opt, callback=lambda _s, v: self.losses.append(v))
            except Diverged:
                self.stopped = (f"diverged at step {self.step_count + 1}: the loss is not finite; lower the "
                                "learning rate and reset")
            if self.step_count >= MAX_TOTAL_STEPS and not self.stopped:
                self.stopped = f"reached the playground's limit of {MAX_TOTAL_STEPS} steps"
            new = self.losses[first:]
            return {"id": self.id, "step": self.step_count, "loss": _num(new[-1]) if new else None,
                    "losses": [_num(v) for v in new], "stopped": self.stopped}

    # -- views
    def state(self, layers: bool = False) -> dict[str, Any]:
        with self.lock:
            self.last_used = time.monotonic()
            out = {"id": self.id, "experiment": self.experiment, "config": self.config.model_dump(mode="json"),
                   "step": self.step_count, "loss": _num(self.losses[-1]) if self.losses else None,
                   "losses": self._loss_curve(), "stopped": self.stopped}
            with torch.no_grad():
                out.update(self._fit1d_view() if self.experiment == "fit1d" else self._fold_view(layers))
            return out

    def _loss_curve(self, points: int = 400) -> dict[str, list]:
        n = len(self.losses)
        idx = list(range(n)) if n <= points else sorted({round(i * (n - 1) / (points - 1)) for i in range(points)})
        return {"step": idx, "loss": [_num(self.losses[i]) for i in idx]}

    def _fit1d_view(self) -> dict[str, Any]:
        cfg, d = self.config, self.data
        grid = torch.linspace(cfg.x_min - cfg.extrap_margin, cfg.x_max + cfg.extrap_margin, GRID_1D)
        contrib = self.curve.contributions(grid)
        view = {
            "x": _nums(grid), "target": _nums(d.f(grid)), "output": _nums(self.curve(grid)),
            "contributions": _nums(contrib.T), "offset": _num(self._readout_bias()),
            "samples": {"x": _nums(d.x), "y": _nums(d.y)}, "train_range": [cfg.x_min, cfg.x_max],
            "metrics": {k: _num(v) for k, v in self.metrics().items()}, "fourier": None,
        }
        if cfg.depth == 1 and cfg.activation in PERIODIC:
            rows = fourier_terms(self.model)  # as fit1d.fourier_rows, the target's terms computed once
            rows += combined_terms(rows)
            rows.append({"term": "offset c", "frequency": 0.0, "phase": 0.0, "amplitude": self.model.out.bias.item()})
            if self._target_terms is None:
                self._target_terms = [{"term": f"target term {j + 1}", **t}
                                      for j, t in enumerate(dominant_fourier_terms(d.f, cfg.x_min, cfg.x_max))]
            rows += self._target_terms
            view["fourier"] = [{k: (_num(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
        return view

    def _readout_bias(self) -> float:
        out = self.model.out if self.config.depth == 1 else self.model.readout
        return out.bias.item()

    def metrics(self) -> dict[str, float]:
        """fit1d: the experiment's metrics (train/interp/extrap MSE, dead units, Fourier term); fold: loss and
        training accuracy."""
        with torch.no_grad():
            if self.experiment == "fold":
                logits = self.model(self.x)
                return {"train_loss": torch.nn.functional.cross_entropy(logits, self.y).item(),
                        "train_acc": (logits.argmax(1) == self.y).float().mean().item()}
            if self.config.depth == 1:
                return fit1d.fit_metrics(self.config, self.data, self.model, self.start)
            d, f = self.data, self.curve
            return {"train_mse": torch.mean((f(d.x) - d.y) ** 2).item(),
                    "interp_mse": torch.mean((f(d.x_interp) - d.f(d.x_interp)) ** 2).item(),
                    "extrap_mse": torch.mean((f(d.x_extrap) - d.f(d.x_extrap)) ** 2).item()}

    def _fold_view(self, layers: bool) -> dict[str, Any]:
        g = torch.linspace(LO, HI, GRID_2D)
        xx, yy = torch.meshgrid(g, g, indexing="xy")
        p = torch.softmax(self.model(torch.stack([xx, yy], -1).reshape(-1, 2)), -1)
        conf, cls = p.max(-1)
        view = {"points": _nums(self.x), "labels": self.y.tolist(), "classes": self.classes,
                "labels_names": self.dataset.labels if self.dataset else [str(c) for c in range(self.classes)],
                "window": [LO, HI], "grid": GRID_2D, "region": cls.tolist(), "confidence": _nums(conf),
                "metrics": {k: _num(v) for k, v in self.metrics().items()}, "layers": None}
        if layers:
            view["layers"] = self._layer_view()
        return view

    def _layer_view(self) -> list[dict[str, Any]]:
        """Each stage (input, every layer's affine map and non-linearity, the readout) of the data points and of
        straight grid lines, drawn in the stage's own two units or its two principal components."""
        depth = len(self.model.blocks)
        names = [n for l in range(1, depth + 1) for n in (f"layer{l}.linear", f"layer{l}")] + ["readout"]
        lines = grid_lines(LO, HI, lines=9, points=40)
        pts = {"input": self.x, **capture(self.model, self.x, layers=names)}
        lns = {"input": lines.reshape(-1, 2), **capture(self.model, lines.reshape(-1, 2), layers=names)}
        out = []
        for name in ["input", *names]:
            h = pts[name]
            f, axes = projector(h, "pca", [0, 1])
            act = name.startswith("layer") and "." not in name
            dead = (h == 0).all(-1) if act else torch.zeros(len(h), dtype=torch.bool)
            label = {"input": "input"}.get(name, name.replace(".linear", " affine").replace("readout", "output"))
            if act:
                label += f" {self.config.activation}"
            out.append({"name": label, "axes": list(axes), "units": h.shape[-1],
                        "points": _nums(f(h)), "lines": _nums(f(lns[name]).reshape(len(lines), -1, 2)),
                        "dead": dead.nonzero()[:, 0].tolist(), "dead_fraction": _num(dead.float().mean().item())})
        return out

    def weights(self) -> dict[str, torch.Tensor]:
        """The network's effective tensors (a regime's masks applied) under their plain module paths, so they
        load into the same network built without a regime."""
        with self.lock:
            out = {}
            for kind in ("weight", "bias"):
                for path, module, name in tensors(self.model, kind):
                    out[f"{path}.{name}" if path else name] = getattr(module, name).detach().contiguous().clone()
            return dict(sorted(out.items()))


# ----------------------------------------------------------------------------------------------
# the manager


class Manager:
    """Sessions by id (at most ``max_sessions``; idle ones expire after ``idle_s`` seconds) and uploaded datasets."""

    def __init__(self, max_sessions: int = 64, idle_s: float = 1800.0):
        self.max_sessions, self.idle_s = max_sessions, idle_s
        self.sessions: dict[str, Session] = {}
        self.datasets: OrderedDict[str, Dataset] = OrderedDict()
        self.lock = threading.Lock()

    def expire(self) -> None:
        now = time.monotonic()
        with self.lock:
            for sid in [s for s, v in self.sessions.items() if v is not None and now - v.last_used > self.idle_s]:
                del self.sessions[sid]

    def create(self, experiment: str, values: dict[str, Any]) -> Session:
        if experiment not in PLAYGROUND:
            raise UserError(f"experiment: unknown '{experiment}' (allowed: {', '.join(PLAYGROUND)})")
        cls = PLAYGROUND[experiment][1]
        if not isinstance(values, dict):
            raise UserError("config: must be an object of config keys")
        try:
            config = cls.model_validate(values)
        except ValidationError as err:
            raise UserError(describe_error(cls, err)) from None
        dataset = None
        if getattr(config, "dataset", None):
            dataset = self.datasets.get(config.dataset)
            if dataset is None:
                raise UserError(f"invalid value '{config.dataset}' for 'dataset': no uploaded dataset with this id "
                                "(upload the CSV again)")
        self.expire()
        with self.lock:
            if len(self.sessions) >= self.max_sessions:
                raise Busy(f"too many sessions ({self.max_sessions} open); close one or try again later")
            sid = uuid.uuid4().hex[:16]
            self.sessions[sid] = None  # reserved while the network is built
        try:
            session = Session(sid, experiment, config, dataset)
        except BaseException:
            with self.lock:
                self.sessions.pop(sid, None)
            raise
        with self.lock:
            self.sessions[sid] = session
        return session

    def get(self, sid: str) -> Session:
        self.expire()
        with self.lock:
            session = self.sessions.get(sid)
        if session is None:
            raise NotFound(f"no session '{sid[:40]}' (it may have expired)")
        return session

    def delete(self, sid: str) -> None:
        with self.lock:
            if self.sessions.get(sid) is None:
                raise NotFound(f"no session '{sid[:40]}' (it may have expired)")
            del self.sessions[sid]

    def add_dataset(self, raw: bytes) -> Dataset:
        x, y, labels, centre, scale = parse_csv(raw)
        ds = Dataset(uuid.uuid4().hex[:12], x, y, labels, centre, scale)
        with self.lock:
            self.datasets[ds.id] = ds
            while len(self.datasets) > MAX_DATASETS:
                self.datasets.popitem(last=False)
        return ds
