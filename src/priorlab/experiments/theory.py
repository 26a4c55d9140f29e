"""Signal propagation in deep random networks: simulation vs the mean-field correlation map.

Two inputs with mean squared entry q0 and uncentred correlation c0 go through `repeats` random fully connected
networks (width × depth, weights N(0, σ_w²/width), biases N(0, σ_b²)). At every weight layer we measure the
uncentred correlation of their pre-activations and set it beside `priorlab.theory.correlation_map`.
The phase diagram shows the order/chaos boundary χ₁ = 1 and where Guest & Love's two weight scales sit:
N(0, 1) entries at width 100 are σ_w = 10 in fan-in units (deep in the chaotic phase, where nearby inputs
decorrelate: the loss of smoothness in `smoothness`), N(0, 1/100) entries and the blog toy's 0.1·N(0, 1) are
σ_w = 1 (the boundary for tanh without bias).

All (σ_w, σ_b) settings of one activation share each network's weights, scaled per setting, and all input pairs
go through together. A layer's weight matrix is only ever applied to those few vectors, so instead of drawing the
width × width matrix we draw its products with them directly, from their exact joint Gaussian distribution
(`gaussian_matmul`): width 2000 costs no more than width 100 per vector. The draws are made in a fixed order
(network by network) and then all networks go through each layer together (`propagate`); `run_many` adds the
networks of several seeds to the batches and computes the mean-field map once. `draw` makes both figures.
"""

from __future__ import annotations

import itertools
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from priorlab.config import BaseConfig, unique_list
from priorlab.context import RunContext, shared_time
from priorlab.stats.claims import Claim
from priorlab.train.loop import one_by_one

DESCRIPTION = (
    "Mean-field theory vs simulation: per-layer correlation in random nets, and the order/chaos phase diagram"
)
ORDER = 22
CITATION = (
    "Poole, B. et al. (2016). Exponential expressivity in deep neural networks through transient chaos. NeurIPS; "
    "Schoenholz, S. S. et al. (2017). Deep information propagation. ICLR."
)
FIGURES = {
    "correlation_map": "Uncentred correlation of two inputs' pre-activations at each weight layer: mean over random "
    "networks (markers, bars = SD) vs the mean-field correlation map (lines), per activation and (σ_w, σ_b).",
    "phase_diagram": "The order/chaos boundary χ₁ = 1 in the (σ_w, σ_b) plane (tanh: line, ReLU: dashed), χ₁ for tanh "
    "in colour, and where Guest & Love's weight scales sit (σ_w in fan-in units).",
}
DEMO = [{}]
QUESTION = (
    "Does the mean-field correlation map predict how two inputs' correlation evolves through random networks, and "
    "does it place Guest & Love's two weight scales in the chaotic and the critical phase?"
)
KEY_FIGURE = "correlation_map"
SOURCES = {
    "map": "Poole et al. 2016; Schoenholz et al. 2017 (STUDIES.md §1)",
    "gl": "Guest & Love 2017, Fig. 2A, r at k = 19 of the 8-layer net (STUDIES.md §1)",
}
Activation = Literal["tanh", "relu", "linear", "sigmoid", "erf", "sin"]
GL_WIDTH = 100  # Guest & Love's layer width
MAX_DRAWS = 2**23  # random numbers drawn ahead for one batch of networks, at most


class Config(BaseConfig):
    activations: unique_list(Activation) = Field(["tanh", "relu"], description="activations compared")
    sigma_ws: unique_list(float, gt=0, le=50) = Field(
        [1.0, 1.5, 2.5], description="weight scales σ_w (weights N(0, σ_w²/width))"
    )
    sigma_bs: unique_list(float, ge=0, le=10) = Field([0.0, 0.3], description="bias scales σ_b (biases N(0, σ_b²))")
    c0s: unique_list(float, ge=-1, le=1) = Field([0.5, 0.9], description="input correlations c0")
    q0: float = Field(1.0, gt=0, le=100, description="mean squared entry of the inputs")
    width: int = Field(500, ge=2, le=8192, description="units per layer (and input dimension)")
    depth: int = Field(20, ge=1, le=200, description="weight layers")
    repeats: int = Field(8, ge=1, le=1000, description="independent random networks averaged")

    FULL: ClassVar[dict] = {"width": 2000, "repeats": 16}
    RENAMED: ClassVar[dict] = {"nets": "repeats"}


def setup(config: Config) -> str:
    pairs = len(config.c0s)
    return (
        f"{config.repeats} random networks per activation ({', '.join(config.activations)}), {config.depth} layers "
        f"of {config.width} units, each run at {len(config.sigma_ws) * len(config.sigma_bs)} (σ_w, σ_b) settings "
        f"on {pairs} input pair{'s' if pairs > 1 else ''} (c0 = {', '.join(f'{c:g}' for c in config.c0s)}); "
        "the mean-field correlation map computed beside."
    )


def claims(config: Config) -> list[Claim]:
    return [
        Claim("simulated correlations follow the mean-field correlation map at every layer (largest |deviation| of "
              "the mean over networks)", SOURCES["map"], "max_abs_dev", 0.0, 0.1),
        Claim("Guest & Love's N(0, 1) weights at width 100 (σ_w = 10) are in the chaotic phase: χ₁ > 1",
              SOURCES["map"], "gl_unit_chi1", (1.0, 100.0)),
        Claim("their fan-in weights N(0, 1/100) (σ_w = 1) sit on the order/chaos boundary χ₁ = 1", SOURCES["map"],
              "gl_fanin_chi1", 1.0, 0.01),
        Claim("theory after 8 tanh layers at N(0, 1) weights: correlation ≈ 0.04 (the study's 8-layer net)",
              SOURCES["gl"], "gl_unit_c_layer8", 0.04, 0.04),
        Claim("theory after 8 tanh layers at fan-in weights: correlation ≈ 0.67 (the study's 8-layer net)",
              SOURCES["gl"], "gl_fanin_c_layer8", 0.67, 0.04),
    ]


def input_pair(c0: float, q0: float, width: int, gen: torch.Generator) -> torch.Tensor:
    """[2, width]: two vectors with mean squared entry q0 and uncentred correlation exactly c0."""
    u, v = torch.linalg.qr(torch.randn(width, 2, generator=gen, dtype=torch.float64))[0].T
    scale = (q0 * width) ** 0.5
    return torch.stack([u, c0 * u + (1 - c0**2) ** 0.5 * v]) * scale


def uncentred_corr(h: torch.Tensor) -> torch.Tensor:
    """h: [..., 2, width] -> the cosine between the two rows: [...]."""
    return (h[..., 0, :] * h[..., 1, :]).sum(-1) / (h[..., 0, :].norm(dim=-1) * h[..., 1, :].norm(dim=-1))


def gaussian_matmul(v: torch.Tensor, gen: torch.Generator | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
    """W v for every row v of v [..., M, width], with one fresh W of N(0, 1/width) entries shared by the M rows
    (one W per leading index).

    Row i of W is independent of the others, so the M numbers (W v_m)_i are jointly Gaussian with covariance
    G = V Vᵀ / width. Drawing them as L z, with G = L Lᵀ and z ~ N(0, I_M), is exact in distribution and costs
    M·width normal draws instead of width² (M is small: settings × pairs × 2). Rows are scaled to unit norm
    first (W is linear), so that vectors of very different lengths (ReLU nets grow) keep their precision.
    z: the standard normal draws [..., M, width] (drawn from ``gen`` when not given)."""
    norm = v.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    unit = v / norm
    s, u = torch.linalg.eigh(unit @ unit.mT / v.shape[-1])
    ell = u * s.clamp_min(0).sqrt()[..., None, :]
    if z is None:
        z = torch.randn(v.shape[-2], v.shape[-1], generator=gen, dtype=v.dtype)
    return norm * (ell @ z)


def network_draws(config: Config, rows: int, gen: torch.Generator):
    """The random numbers of one network, in the order a run draws them: its input pairs [pairs, 2, width], then per
    activation and layer the products' draws [rows, width] and the bias draws [width]: (x, {activation: (z, beta)})
    with z [depth, rows, width] and beta [depth, width]."""
    x = torch.stack([input_pair(c0, config.q0, config.width, gen) for c0 in config.c0s])
    noise = {}
    for act in config.activations:
        z, beta = [], []
        for _ in range(config.depth):
            z.append(torch.randn(rows, config.width, generator=gen, dtype=torch.float64))
            beta.append(torch.randn(config.width, generator=gen, dtype=torch.float64))
        noise[act] = (torch.stack(z), torch.stack(beta))
    return x, noise


def propagate(activation: str, sigma_ws, sigma_bs, x: torch.Tensor, z: torch.Tensor, beta: torch.Tensor):
    """B random networks, every (σ_w, σ_b) at once: [B, len(σ_w)·len(σ_b), pairs, depth] correlations.

    x: [B, pairs, 2, width] input pairs; z: [depth, B, rows, width] and beta: [depth, B, width] standard normal
    draws. h^1 = W x + b, h^{l+1} = W φ(h^l) + b with W = σ_w · Z (Z entries N(0, 1/width), its products with the
    layer's inputs drawn by `gaussian_matmul` from z) and b = σ_b · β; Z and β are shared by all settings."""
    from priorlab.theory.meanfield import activation_fn

    phi = activation_fn(activation)
    b, width = x.shape[0], x.shape[-1]
    grid = list(itertools.product(sigma_ws, sigma_bs))
    sw = torch.tensor([a for a, _ in grid], dtype=torch.float64)[:, None, None, None]
    sb = torch.tensor([c for _, c in grid], dtype=torch.float64)[:, None, None, None]
    h = x[:, None].expand(b, len(grid), *x.shape[1:])
    out = []
    for layer in range(z.shape[0]):
        inp = h if layer == 0 else torch.from_numpy(phi(h.numpy()))
        zv = gaussian_matmul(inp.reshape(b, -1, width), z=z[layer]).reshape(inp.shape)
        h = sw * zv + sb * beta[layer][:, None, None, None]
        out.append(uncentred_corr(h))
    return torch.stack(out, -1)


def simulate(activation: str, sigma_ws: list[float], sigma_bs: list[float], x: torch.Tensor, depth: int,
             gen: torch.Generator) -> torch.Tensor:
    """One random network, every (σ_w, σ_b) at once: [len(σ_w)·len(σ_b), pairs, depth] correlations; x: [pairs, 2,
    width] input pairs, the network's draws from ``gen`` (see `propagate`)."""
    rows, width = len(sigma_ws) * len(sigma_bs) * x.shape[0] * 2, x.shape[-1]
    z, beta = [], []
    for _ in range(depth):
        z.append(torch.randn(rows, width, generator=gen, dtype=torch.float64))
        beta.append(torch.randn(width, generator=gen, dtype=torch.float64))
    return propagate(activation, sigma_ws, sigma_bs, x[None], torch.stack(z)[:, None], torch.stack(beta)[:, None])[0]


def run(config: Config, ctx: RunContext) -> dict[str, float]:
    [empirical] = simulate_all(config, [ctx.seed], ctx.progress)  # [activation, setting, c0, net, layer]
    return report(config, ctx, empirical, mean_field(config), _guest_love())


def mean_field(config: Config) -> np.ndarray:
    """[activation, setting, c0, layer]: the mean-field correlation map of every simulated network."""
    from priorlab.theory.meanfield import correlation_map

    settings = list(itertools.product(config.sigma_ws, config.sigma_bs))
    return np.array([[[correlation_map(act, sw, sb, config.depth, c0, config.q0) for c0 in config.c0s]
                      for sw, sb in settings] for act in config.activations])


def report(config: Config, ctx: RunContext, empirical: np.ndarray, theory: np.ndarray, gl) -> dict[str, float]:
    """Arrays, tables and metrics of one run from its simulated correlations (empirical [a, s, c, net, layer]),
    the mean-field map (theory [a, s, c, layer]) and Guest & Love's rows and metrics (gl)."""
    settings = list(itertools.product(config.sigma_ws, config.sigma_bs))
    dev = np.abs(empirical.mean(3) - theory)  # [a, s, c, layer]
    ctx.save_arrays(
        empirical=empirical,
        theory=theory,
        settings=np.array(settings),
        c0s=np.array(config.c0s),
        activations=np.array(config.activations),
    )
    rows = [
        {"activation": act, "σ_w": sw, "σ_b": sb, "c0": c0, "theory, last layer": theory[a, s, c, -1],
         "simulation, last layer": empirical[a, s, c, :, -1].mean(), "max |dev| over layers": dev[a, s, c].max()}
        for (a, act), (s, (sw, sb)), (c, c0) in itertools.product(
            enumerate(config.activations), enumerate(settings), enumerate(config.c0s))
    ]
    ctx.table(f"Simulation ({config.repeats} nets, width {config.width}) vs mean-field theory", rows)
    gl_rows, gl_metrics = gl
    ctx.table("Where Guest & Love's weight scales sit (tanh, no bias, width 100)", gl_rows)
    ctx.note(
        "σ_w is in fan-in units: weights N(0, σ_w²/width). Guest & Love's N(0, 1) entries at width 100 are σ_w = 10; "
        "their fan-in variant N(0, 1/100) and the blog toy's 0.1·N(0, 1) are σ_w = 1."
    )
    metrics = {"max_abs_dev": dev.max(), "mean_abs_dev": dev.mean()}
    for a, act in enumerate(config.activations):
        metrics[f"max_abs_dev_{act}"] = dev[a].max()
    metrics.update(gl_metrics)
    return metrics


def simulate_all(config: Config, seeds: list[int], progress=None) -> list[np.ndarray]:
    """Per seed [activation, setting, c0, net, layer]: simulated correlations. Each seed has one generator, drawn
    in the order of a run of that seed alone (network by network: its input pairs, then per activation its
    layers); the networks of all seeds go through `propagate` together, as many per batch as MAX_DRAWS allows."""
    shape = (len(config.activations), len(config.sigma_ws) * len(config.sigma_bs), len(config.c0s))
    rows = shape[1] * shape[2] * 2
    per_batch = max(1, MAX_DRAWS // (shape[0] * config.depth * (rows + 1) * config.width))
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    empirical = np.zeros((len(seeds), *shape, config.repeats, config.depth))
    jobs = [(k, n) for k in range(len(seeds)) for n in range(config.repeats)]  # each seed's networks in order
    batches = [jobs[i : i + per_batch] for i in range(0, len(jobs), per_batch)]
    for batch in progress(batches, description="networks") if progress else batches:
        draws = [network_draws(config, rows, gens[k]) for k, _ in batch]
        x = torch.stack([d[0] for d in draws])
        for a, act in enumerate(config.activations):
            z = torch.stack([d[1][act][0] for d in draws], 1)
            beta = torch.stack([d[1][act][1] for d in draws], 1)
            out = propagate(act, config.sigma_ws, config.sigma_bs, x, z, beta).numpy()  # [B, s, c, layer]
            for j, (k, n) in enumerate(batch):
                empirical[k, a, :, :, n] = out[j]
    return list(empirical)


def _guest_love() -> tuple[list[dict], dict[str, float]]:
    """χ₁ and the predicted correlation after 8 tanh layers at Guest & Love's two weight scales (width 100)."""
    from priorlab.theory.meanfield import chi1, correlation_map

    # Guest & Love's smoothness setting: inputs at distortion level 19 correlate 1/sqrt(1 + 0.95²) = 0.725
    c0 = 1 / np.sqrt(1 + 0.95**2)
    rows, metrics = [], {}
    for name, sw in (("unit", GL_WIDTH**0.5), ("fan-in", 1.0)):
        c8 = correlation_map("tanh", sw, 0.0, 8, c0, q0=1.0)[-1]
        x1 = chi1("tanh", sw, 0.0)
        rows.append(
            {
                "weights": name,
                "σ_w": sw,
                "χ₁": x1,
                "phase": "chaotic" if x1 > 1 else "ordered / critical",
                "predicted correlation after 8 layers (c0 = 0.725)": c8,
            }
        )
        metrics[f"gl_{name.replace('-', '')}_chi1"] = x1
        metrics[f"gl_{name.replace('-', '')}_c_layer8"] = c8
    return rows, metrics


def draw(config: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Both figures: the simulated correlations beside the map (from the run's arrays), and the phase diagram
    (recomputed: it depends on the simulated settings only)."""
    from priorlab.theory.meanfield import chi1, critical_sigma_w
    from priorlab.viz.theory import plot_correlation_maps, plot_phase_diagram

    settings = list(itertools.product(config.sigma_ws, config.sigma_bs))
    if ctx.draws("correlation_map"):
        title = (f"Random nets (width {config.width}, {config.repeats} nets, q0={config.q0:g}) vs the mean-field "
                 "correlation map")
        ctx.save_figure("correlation_map", plot_correlation_maps(
            config.activations, settings, config.c0s, arrays["empirical"], arrays["theory"], title))
    if ctx.draws("phase_diagram"):
        sws = np.geomspace(0.5, 14, 36)
        sbs = np.linspace(0, 1.5, 16)
        chi = np.array([[chi1("tanh", sw, sb) for sw in sws] for sb in sbs])
        sb_line = np.linspace(0, 1.5, 31)
        tanh_line = np.array([critical_sigma_w("tanh", sb) for sb in sb_line])
        ctx.save_figure("phase_diagram", plot_phase_diagram(sws, sbs, chi, sb_line, tanh_line, settings))


# ----------------------------------------------------------------------------------------------
# sweeps: trials that differ only in the seed share the mean-field map and simulate their networks together

BATCH_KEYS = ("seed",)


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Trials of one config and several seeds: the mean-field map and Guest & Love's numbers once, every seed's
    networks through `propagate` in shared batches. Yields each trial's metrics (or its exception) in order."""
    if any(c.model_copy(update={"seed": cfgs[0].seed}) != cfgs[0] for c in cfgs):
        yield from one_by_one(run, cfgs, ctxs)
        return
    with shared_time(ctxs, "measure"):
        theory, gl = mean_field(cfgs[0]), _guest_love()
        empirical = simulate_all(cfgs[0], [ctx.seed for ctx in ctxs], ctxs[0].progress)
    for cfg, ctx, emp in zip(cfgs, ctxs, empirical):
        try:
            yield report(cfg, ctx, emp, theory, gl)
        except Exception as exc:  # noqa: BLE001 - recorded for this trial alone
            yield exc
