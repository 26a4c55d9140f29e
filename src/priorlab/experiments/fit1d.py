"""fit1d: what a one-hidden-layer network actually does when it fits a 1-D function (STUDIES.md §2)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from priorlab.config import BaseConfig, Steps
from priorlab.context import RunContext, shared_time
from priorlab.data.functions import Samples, TargetExpr, dominant_fourier_terms, sample_target
from priorlab.errors import Diverged
from priorlab.nets.onehidden import ACTIVATIONS, PERIODIC, OneHidden, combined_terms, fourier_terms, strongest_term
from priorlab.stats.claims import Claim
from priorlab.train import loop
from priorlab.train.ensemble import Ensemble, from_modules
from priorlab.viz import curves

DESCRIPTION = "one hidden layer fitted to a 1-D function: unit contributions, extrapolation, Fourier reading"
ORDER = 10
CITATION = (
    "A computational neuroscience lab's blog post 'What neural networks actually do' (curve fitting with one "
    "hidden layer: sigmoid 10 units, ReLU ~100 units, cosine 3 units; priors decide generalisation)."
)
FIGURES = {
    "fit": "The fit over the training range with the noisy samples.",
    "contributions": "Each unit's contribution v_i·h_i(x) (thin lines) and their total plus offset (black).",
    "extrapolation": "The fit over the extended range: pale yellow = the training range, grey = outside it.",
    "loss": "Training loss (MSE) per iteration.",
    "compare": "The study's networks side by side over the extended range (blog preset: sigmoid 10, ReLU 100, "
    "cosine 3 and 1, saw 3).",
}
DEMO = [{"preset": "blog"}]
QUESTION = (
    "What does a one-hidden-layer network do when it fits y = sin(x), and does the activation's prior decide whether "
    "it extrapolates beyond the training range?"
)
KEY_FIGURE = "compare"
SOURCE = "the curve-fitting blog post (STUDIES.md §2)"
HUGE = 1e6  # an open upper end of an expected range

DEFAULT_LR = {"sigmoid": 0.05, "tanh": 0.05, "relu": 0.05, "cos": 0.01, "sin": 0.01, "saw": 0.01}

Activation = Literal["sigmoid", "tanh", "relu", "cos", "sin", "saw"]


class Config(BaseConfig):
    target: TargetExpr = Field("sin", description="sin|square|abs|poly3 or an expression in x, e.g. 'sin(2*x)+0.3*x'")
    n_samples: int = Field(50, ge=2, le=100_000, description="training samples, uniform in the range")
    x_min: float = Field(-2 * math.pi, ge=-1e4, le=1e4, description="training range start")
    x_max: float = Field(2 * math.pi, ge=-1e4, le=1e4, description="training range end")
    extrap_margin: float = Field(
        2 * math.pi, gt=0, le=1e4, description="width of the extrapolation bands on either side of the range"
    )
    noise: float = Field(0.1, ge=0, le=10, description="SD of Gaussian noise on the training targets")
    activation: Activation = Field("sigmoid", description="hidden-unit non-linearity")
    hidden: int = Field(10, ge=1, le=4096, description="hidden units")
    steps: Steps = Field(1000, description="full-batch optimizer steps")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="optimizer")
    lr: float | None = Field(
        None, gt=0, le=10, description="learning rate (default per activation: 0.05 sigmoid/tanh/relu, 0.01 cos/sin/saw)"
    )
    networks: list[str] | None = Field(
        None, description="several networks in one run, as activation:hidden[:lr] (e.g. sigmoid:10,relu:100,cos:1:0.1)"
    )
    frames: int = Field(60, ge=2, le=200, description="frames of the training animation")
    n_eval: int = Field(400, ge=10, le=100_000, description="fresh noiseless points for interp/extrap errors")

    PRESETS: ClassVar[dict] = {"blog": {"networks": ["sigmoid:10", "relu:100", "cos:3", "cos:1:0.1", "saw:3"]}}
    RENAMED: ClassVar[dict] = {"iterations": "steps"}

    @field_validator("networks")
    @classmethod
    def _networks_ok(cls, v):
        if v is None:
            return v
        if isinstance(v, str):
            v = [v]
        for spec in v:
            act, n, *lr = str(spec).split(":")
            if act not in ACTIVATIONS or not n.isdigit() or not 1 <= int(n) <= 4096 or len(lr) > 1 or not (
                not lr or _positive(lr[0])
            ):
                raise ValueError(f"'{spec}' is not activation:hidden[:lr] with activation in {ACTIVATIONS}, "
                                 "1 ≤ hidden ≤ 4096, 0 < lr ≤ 10")
        return [str(s) for s in v]

    @model_validator(mode="after")
    def _range_ok(self):
        if self.x_max <= self.x_min:
            raise ValueError("x_max must be greater than x_min")
        return self


def _positive(text: str) -> bool:
    return text.replace(".", "", 1).isdigit() and 0 < float(text) <= 10


def setup(cfg: Config) -> str:
    nets = ", ".join(f"{a} × {h}" + (f" (lr {lr:g})" if lr else "") for a, h, lr in networks_of(cfg))
    data = f"y = {cfg.target} from {cfg.n_samples} samples with noise SD {cfg.noise:g}"
    where = f"[{cfg.x_min:.3g}, {cfg.x_max:.3g}]"
    errors = f"{cfg.n_eval} fresh points inside the range and {cfg.n_eval} in bands of {cfg.extrap_margin:.3g} beside it"
    training = f"{cfg.steps} full-batch {cfg.optimizer} steps (seed {cfg.seed})"
    return f"One network per line — {nets} — fitted to {data} on {where} for {training}; errors on {errors}."


def claims(cfg: Config) -> list[Claim]:
    """The post's claims for each network of this run that the post describes (sigmoid 10, ReLU 100, cosine 3 and
    1, saw); they are for the post's target, sin(x) on [−2π, 2π]."""
    post = cfg.target == "sin" and (cfg.x_min, cfg.x_max) == (-2 * math.pi, 2 * math.pi)
    applies = True if post else "the post's claims are for y = sin(x) on [−2π, 2π]"
    many = cfg.networks is not None
    key = lambda metric, name: f"{metric}_{name}" if many else metric
    out = []
    for act, hidden, _ in networks_of(cfg):
        name = f"{act}{hidden}"
        k = lambda metric, name=name: key(metric, name)
        if (act, hidden) in (("sigmoid", 10), ("relu", 100)):
            what = "sigmoid, 10 units" if act == "sigmoid" else "ReLU, ~100 units (dead units)"
            out += [Claim(f"{what}: a good fit inside the training range (interp MSE ≤ 0.08)", SOURCE,
                          k("interp_mse"), (0.0, 0.08), applies=applies),
                    Claim(f"{what}: no extrapolation outside it (extrap MSE ≥ 0.3)", SOURCE, k("extrap_mse"),
                          (0.3, HUGE), applies=applies)]
        if (act, hidden) == ("relu", 100):
            out.append(Claim("ReLU: some units are dead (output 0 over the whole range)", SOURCE, k("dead_units"),
                             (1.0, 100.0), applies=applies))
        if act == "cos" and hidden in (1, 3):
            out.append(Claim(f"cosine, {hidden} unit{'s' if hidden > 1 else ''}: extrapolates (extrap MSE ≤ 0.05)",
                             SOURCE, k("extrap_mse"), (0.0, 0.05), applies=applies))
            out += [Claim(f"cosine, {hidden}: the weights read as Fourier analysis — strongest term (units of one "
                          f"frequency combined) {what} {value:.3g}, as the target's 1·cos(x − π/2)", SOURCE,
                          k(f"fourier_{what}"), value, tol, applies=applies)
                    for what, value, tol in (("frequency", 1.0, 0.03), ("amplitude", 1.0, 0.05),
                                             ("phase", -math.pi / 2, 0.05))]
        if act == "saw":
            out.append(Claim("saw (the post's open question): the frequency of a periodic ReLU gets a gradient and "
                             "moves in training (largest |Δω| ≥ 0.05)", SOURCE, k("frequency_moved"), (0.05, HUGE)))
    if not out:
        out.append(Claim("the post describes sigmoid 10, ReLU 100, cosine 3 and 1, and saw networks", SOURCE,
                         k("interp_mse") if not many else "interp_mse", (0.0, 0.08),
                         applies=f"no network of this run ({', '.join(f'{a}:{h}' for a, h, _ in networks_of(cfg))}) "
                         "is one the post describes"))
    return out


def make_data(cfg: Config, seed: int) -> Samples:
    """The run's samples of the target: training points, and fresh points inside and outside the range."""
    return sample_target(
        cfg.target, cfg.n_samples, cfg.x_min, cfg.x_max, cfg.extrap_margin, cfg.noise, cfg.n_eval, seed
    )


@dataclass
class Fit:
    name: str
    model: OneHidden
    losses: np.ndarray
    snapshots: np.ndarray  # [frames, grid]
    snapshot_steps: list[int]
    metrics: dict[str, float]


def snapshot_steps(cfg: Config) -> list[int]:
    """The steps (number of updates done) at which the animation takes a frame: 0 … ``steps``."""
    return sorted(set(np.linspace(0, cfg.steps, cfg.frames).round().astype(int).tolist()))


def train_one(cfg: Config, data: Samples, activation: str, hidden: int, seed: int, grid: torch.Tensor, ctx,
              lr: float | None = None) -> Fit:
    torch.manual_seed(seed)  # the same init as a standalone run with this seed
    model = OneHidden(hidden, activation)
    start = model.hidden.weight.detach().clone()
    snap_at = snapshot_steps(cfg)

    def frame() -> np.ndarray:
        with torch.no_grad():
            return model(grid).numpy().copy()

    snapshots = [frame()]  # snap_at[0] == 0: before training

    def record(step: int, _loss: float) -> None:  # called after update `step`: the state after step + 1 updates
        if step + 1 in snap_at:
            snapshots.append(frame())

    with ctx.timed("train"):
        history = loop.fit(
            model,
            lambda _: torch.mean((model(data.x) - data.y) ** 2),
            cfg.steps,
            optimizer=cfg.optimizer,
            lr=lr or (cfg.lr if cfg.lr is not None else DEFAULT_LR[activation]),
            callback=record,
            progress=ctx.progress,
            description=f"{activation}{hidden}",
        )
    metrics = fit_metrics(cfg, data, model, start)
    return Fit(f"{activation}{hidden}", model, history.losses, np.stack(snapshots), snap_at, metrics)


def fit_metrics(cfg: Config, data: Samples, model: OneHidden, start: torch.Tensor) -> dict[str, float]:
    """The metrics of a fit network (as train_one computes them); ``start``: its input weights before training."""
    with torch.no_grad():
        metrics = {
            "train_mse": torch.mean((model(data.x) - data.y) ** 2).item(),
            "interp_mse": torch.mean((model(data.x_interp) - data.f(data.x_interp)) ** 2).item(),
            "extrap_mse": torch.mean((model(data.x_extrap) - data.f(data.x_extrap)) ** 2).item(),
        }
        if model.activation == "relu":
            inside = torch.linspace(cfg.x_min, cfg.x_max, 2001)
            metrics["dead_units"] = float((model.units(inside).amax(0) <= 0).sum().item())
        if model.activation in ("cos", "sin"):
            term = strongest_term(model)
            metrics.update(fourier_frequency=term["frequency"], fourier_amplitude=term["amplitude"],
                           fourier_phase=term["phase"])
        if model.activation == "saw":  # the open question: does a saw unit's frequency get a gradient?
            metrics["frequency_moved"] = (model.hidden.weight.abs() - start.abs()).abs().max().item()
    return metrics


def fourier_rows(fit: Fit, data: Samples, cfg: Config) -> list[dict]:
    """Read a periodic network's units as Fourier terms a·cos(ω x + φ), units of one frequency combined (their
    phasors summed), beside the target's terms."""
    rows = fourier_terms(fit.model)
    rows += combined_terms(rows)
    rows.append({"term": "offset c", "frequency": 0.0, "phase": 0.0, "amplitude": fit.model.out.bias.item()})
    for j, t in enumerate(dominant_fourier_terms(data.f, cfg.x_min, cfg.x_max)):
        rows.append({"term": f"target term {j + 1}", **t})
    return rows


def report_fit(ctx: RunContext, cfg: Config, data: Samples, grid: torch.Tensor, fits: list[Fit]) -> None:
    """Tables, weights and the arrays every figure is drawn from (:func:`draw`)."""
    for fit in fits:
        if fit.model.activation in PERIODIC:
            title = f"Fourier reading of {fit.name} (a·cos(ω x + φ)) beside the target's"
            ctx.table(title, fourier_rows(fit, data, cfg))
    if len(fits) > 1 or cfg.networks is not None:
        ctx.save_model({f"{f.name}.{k}": v for f in fits for k, v in f.model.state_dict().items()})
    else:
        ctx.save_model(fits[0].model)
    ctx.table(
        "Networks",
        [{"network": f.name, "parameters": sum(p.numel() for p in f.model.parameters()), **f.metrics} for f in fits],
    )
    ctx.save_arrays(x_train=data.x.numpy(), y_train=data.y.numpy(), grid=grid.numpy(),
                    snapshot_steps=np.asarray(fits[0].snapshot_steps), **{
                        f"{what}_{f.name}": a for f in fits for what, a in (
                            ("snapshots", f.snapshots), ("losses", f.losses), ("net", f.model.to_array()),
                            ("mse", np.array([f.metrics["interp_mse"], f.metrics["extrap_mse"]])))})


def key_figure(cfg: Config) -> str:
    return "compare" if cfg.networks is not None else "fit"


def draw(cfg: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure of a run from its arrays: per network the fit, contributions, extrapolation, loss and training
    animation (names suffixed by the network with several), and the networks side by side."""
    data = make_data(cfg, cfg.seed)
    nets = [curves.Drawn(f"{a}{h}", OneHidden.from_array(arrays[f"net_{a}{h}"], a), arrays[f"losses_{a}{h}"],
                         *arrays[f"mse_{a}{h}"].tolist(), arrays[f"snapshots_{a}{h}"]) for a, h, _ in networks_of(cfg)]
    curves.draw_fits(ctx, nets, data.f, data.x, data.y, (cfg.x_min, cfg.x_max, cfg.extrap_margin),
                     torch.from_numpy(arrays["grid"]), arrays["snapshot_steps"].tolist(), cfg.networks is not None)


def networks_of(cfg: Config) -> list[tuple[str, int, float | None]]:
    """(activation, hidden, lr or None for the default) per network."""
    if cfg.networks:
        return [(p[0], int(p[1]), float(p[2]) if len(p) > 2 else None) for p in (s.split(":") for s in cfg.networks)]
    return [(cfg.activation, cfg.hidden, None)]


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    data = make_data(cfg, cfg.seed)
    grid = torch.linspace(cfg.x_min, cfg.x_max, 300)
    if cfg.networks is None:
        fit = train_one(cfg, data, cfg.activation, cfg.hidden, cfg.seed, grid, ctx)
        report_fit(ctx, cfg, data, grid, [fit])
        return fit.metrics
    fits = [train_one(cfg, data, act, hidden, cfg.seed, grid, ctx, lr) for act, hidden, lr in networks_of(cfg)]
    report_fit(ctx, cfg, data, grid, fits)
    return {f"{k}_{f.name}": v for f in fits for k, v in f.metrics.items()}


BATCH_KEYS = ("seed", "hidden")  # a sweep's trials that differ only in these are fit together by the engine


def train_many(cfgs: list[Config], datas: list[Samples], grid: torch.Tensor, device) -> list[Fit | Exception]:
    """train_one for K configs of one activation at once (widths padded); a diverged member gives Diverged."""
    cfg0, act = cfgs[0], cfgs[0].activation
    models = []
    for cfg in cfgs:
        torch.manual_seed(cfg.seed)  # the same init as train_one
        models.append(OneHidden(cfg.hidden, act).to(device))
    fwd, params, frozen, masks = from_modules(models)
    x = torch.stack([d.x for d in datas]).to(device)
    y = torch.stack([d.y for d in datas]).to(device)
    ens = Ensemble(
        lambda p, x, y: torch.mean((fwd(p, x) - y) ** 2),
        params, frozen=frozen, masks=masks, batch_dims=(0, 0), optimizer=cfg0.optimizer,
        lr=[c.lr if c.lr is not None else DEFAULT_LR[act] for c in cfgs],
    )
    snap_at = snapshot_steps(cfg0)
    g = grid.to(device)
    snapshots, losses, diverged, done = [], [], torch.full((len(cfgs),), -1), 0
    for step in snap_at:
        if step > done:
            res = ens.train(step - done, x, y)
            losses.append(res.losses.cpu())
            d = res.diverged_at.cpu()
            diverged = torch.where((diverged < 0) & (d >= 0), d + done, diverged)
            done = step
        snapshots.append(ens.evaluate(fwd, g).cpu())
    losses_all = torch.cat(losses).numpy() if losses else np.empty((0, len(cfgs)))
    snaps = torch.stack(snapshots, 1).numpy()  # [K, frames, grid]
    fits: list[Fit | Exception] = []
    for k, (cfg, data) in enumerate(zip(cfgs, datas)):
        if diverged[k] >= 0:
            fits.append(Diverged(int(diverged[k])))
            continue
        model = OneHidden(cfg.hidden, act)
        model.load_state_dict({n: t.cpu() for n, t in ens.member(k).items()})
        metrics = fit_metrics(cfg, data, model, models[k].hidden.weight.detach().cpu())
        fits.append(Fit(f"{act}{cfg.hidden}", model, losses_all[:, k], snaps[k], snap_at, metrics))
    return fits


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Several single-network trials of one activation (seeds and widths may differ), fit as one ensemble; yields
    each trial's metrics (or its exception) in order. Trials of several networks each run one by one."""
    if cfgs[0].networks is not None:
        yield from loop.one_by_one(run, cfgs, ctxs)
        return
    datas = [make_data(cfg, cfg.seed) for cfg in cfgs]
    grid = torch.linspace(cfgs[0].x_min, cfgs[0].x_max, 300)
    with shared_time(ctxs, "train"):
        fits = train_many(cfgs, datas, grid, ctxs[0].device)
    for cfg, ctx, data, fit in zip(cfgs, ctxs, datas, fits):
        if isinstance(fit, Exception):
            yield fit
            continue
        report_fit(ctx, cfg, data, grid, [fit])
        yield fit.metrics
