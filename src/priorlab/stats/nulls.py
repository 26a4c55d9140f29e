"""Random-weight baselines as distributions: the same architecture under K random draws, layer by layer.

    null = null_distribution(lambda: torchvision.models.resnet18(weights=None), images, n=50)
    null.values            # [K, L]: spearman(layer RDM, input RDM) of draw k at layer l
    t = compare_to_null(trained_values, null)      # per layer: p (+1 corrected) and the 2.5-97.5% band
    t.p, t.band_low, t.band_high

Draw k is `randomize(model_factory(), init=init, seed=seeds[k])`. The factory is called once: before every draw
the model's buffers are restored to their initial values (a forward pass changes no parameter, but may change
buffers such as running statistics) and the model is re-initialised in place, which gives the same weights as a
fresh model without building K of them. The default measure is the Spearman correlation of each layer's RDM (metric
`metric`, default correlation distance) with the target RDM (default: the RDM of the inputs themselves); `measure`
may name another `priorlab.probe.compare` method or be a callable `measure(layer_output, target) -> float`.
A layer whose RDM is undefined (a constant output under correlation distance) gives NaN for that draw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats
import torch
from torch import nn

from priorlab.errors import UserError
from priorlab.probe.capture import capture
from priorlab.probe.rdm import METRICS, compare, rdm
from priorlab.randomization import INITS, randomize
from priorlab.stats import checks
from priorlab.stats.resampling import TOLERANCE, empirical_p, prepared, upper_indices

DEFAULT_DRAWS = 100


@dataclass(frozen=True)
class NullDistribution:
    """`values[k, l]`: the measure at layer `layers[l]` under random draw `seeds[k]`."""

    values: np.ndarray
    layers: tuple[str, ...]
    seeds: tuple[int, ...]
    measure: str
    init: str

    def band(self, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Per layer, the central `confidence` percentile band of the draws."""
        tail = 100 * (1 - checks.level(confidence)) / 2
        low, high = np.percentile(self.values, [tail, 100 - tail], axis=0)
        return low, high


def _n_items(inputs) -> int:
    first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
    if not isinstance(first, torch.Tensor) or first.ndim < 1:
        raise UserError("inputs: expected a tensor [N, ...] (or a tuple of them) of N stimuli")
    return first.shape[0]


def _device(inputs) -> torch.device:
    return (inputs[0] if isinstance(inputs, (tuple, list)) else inputs).device


def _seeds(n, seeds) -> list[int]:
    if seeds is None:
        return list(range(DEFAULT_DRAWS if n is None else checks.count(n, "n", 2)))
    seeds = [checks.seed(s) for s in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise UserError(f"seeds: need at least 2 distinct seeds, got {seeds!r}")
    if n is not None and checks.count(n, "n", 2) != len(seeds):
        raise UserError(f"n and seeds disagree: n = {n} but {len(seeds)} seeds given")
    return seeds


def _scorer(measure, target, metric: str, device: torch.device) -> tuple[str, Callable[[torch.Tensor], float]]:
    """(name, function of one layer output) for the measure against the target."""
    if callable(measure):
        return getattr(measure, "__name__", "custom"), lambda out: float(measure(out, target))
    method = checks.method(measure)
    target = checks.rdm_matrix(target, "target", device=device)
    checks.check_comparable(target, "target", method)
    i, j = upper_indices(target.shape[0], target.device)
    if method == "kendall_a":
        return method, lambda out: compare(rdm(out, metric), target, method)
    reference = prepared(target[i, j], method)

    def score(out: torch.Tensor) -> float:
        d = rdm(out, metric).to(torch.float64)
        v = d[i, j]
        undefined = bool((v == 0).all()) if method == "cosine" else bool((v == v[0]).all())
        if undefined or not bool(torch.isfinite(v).all()):
            return float("nan")
        return float(prepared(v, method) @ reference)

    return method, score


def null_distribution(
    model_factory: Callable[[], nn.Module],
    inputs,
    n: int | None = None,
    init: str = "torch-default",
    seeds: Sequence[int] | None = None,
    layers: Sequence[str] | str | None = None,
    measure: str | Callable = "spearman",
    target=None,
    metric: str = "correlation",
    gain: float | None = None,
    batch_size: int | None = None,
    mode: str = "eval",
    progress: Callable[[int, int, str], None] | None = None,
) -> NullDistribution:
    """Per-layer values of `measure` for K random draws of the architecture `model_factory()` builds.

    n: number of draws (default 100; seeds 0..n-1), or `seeds`: the draws' seeds. layers: module paths (None =
    the natural blocks; tuple outputs become name.0, name.1, ...). target: the [N, N] RDM the layers are compared
    with (default: the inputs' own RDM under `metric`). mode: "eval" or "train" (the module mode of the forward
    pass). batch_size: run the inputs through the model in batches. progress(k, K, description) after each draw."""
    if isinstance(model_factory, nn.Module) or not callable(model_factory):
        raise UserError(
            f"model_factory: expected a callable that returns an nn.Module, got {type(model_factory).__name__}"
        )
    n_items = _n_items(inputs)
    if n_items < 3:
        raise UserError(f"inputs: a null distribution of RDM comparisons needs N >= 3 stimuli, got N = {n_items}")
    draws = _seeds(n, seeds)
    init = checks.choice(init, "init", INITS)
    metric = checks.choice(metric, "metric", METRICS)
    mode = checks.choice(mode, "mode", ("eval", "train"))
    if target is None:
        if isinstance(inputs, (tuple, list)):
            raise UserError("target: give a target RDM when the inputs are a tuple of tensors")
        target = rdm(inputs, metric)
    elif not callable(measure):
        t = torch.as_tensor(target)
        if t.ndim == 2 and t.shape[0] == t.shape[1] and t.shape[0] != n_items:
            raise UserError(f"target: an RDM of {t.shape[0]} stimuli, but the inputs hold {n_items}")
    name, score = _scorer(measure, target, metric, _device(inputs))
    model = model_factory()
    if not isinstance(model, nn.Module):
        raise UserError(f"model_factory: returned {type(model).__name__}, not an nn.Module")
    model.to(_device(inputs)).train(mode == "train")
    rows, names = [], None
    for k, _ in enumerate(random_draws(model, draws, init, gain)):
        outputs = capture(model, inputs, layers, batch_size=batch_size)
        if names is None:
            names = tuple(outputs)
        rows.append([score(outputs[layer]) for layer in names])
        if progress is not None:
            progress(k + 1, len(draws), "random draws")
    return NullDistribution(np.array(rows, dtype=np.float64), names, tuple(draws), name, init)


def random_draws(model: nn.Module, seeds: Sequence[int], init: str = "torch-default", gain: float | None = None):
    """Re-initialise `model` in place once per seed, yielding the seed after each draw (the model is then draw k).

    Before every draw the buffers are restored to their values at the first call (a forward pass may change
    running statistics, never parameters), so draw k equals `randomize(fresh_model, init, seeds[k], gain)`."""
    buffers = {path: b.detach().clone() for path, b in model.named_buffers()}
    for seed in seeds:
        with torch.no_grad():
            for path, saved in buffers.items():
                model.get_buffer(path).copy_(saved)
        randomize(model, init=init, seed=seed, gain=gain)
        yield seed


@dataclass(frozen=True)
class NullTest:
    """Per layer: the observed value, its empirical p against the null draws, and the null's percentile band."""

    layers: tuple[str, ...]
    observed: np.ndarray
    p: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray
    null_mean: np.ndarray
    alternative: str
    n_null: int


def _null_values(null) -> tuple[np.ndarray, tuple[str, ...]]:
    if isinstance(null, NullDistribution):
        values, layers = null.values, null.layers
    else:
        values = np.asarray(null.detach().cpu() if isinstance(null, torch.Tensor) else null, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        layers = tuple(str(i) for i in range(values.shape[1])) if values.ndim == 2 else ()
    if values.ndim != 2 or values.shape[0] < 2:
        raise UserError(f"null: expected draws x layers [K, L] with K >= 2, got shape {values.shape}")
    bad = [layers[c] for c in range(values.shape[1]) if not np.isfinite(values[:, c]).all()]
    if bad:
        raise UserError(f"null: NaN or infinite values at layer(s) {', '.join(bad)} (an undefined RDM?)")
    return values, layers


def _observed_values(observed, layers: tuple[str, ...]) -> np.ndarray:
    if isinstance(observed, Mapping):
        missing = [layer for layer in layers if layer not in observed]
        if missing:
            raise UserError(f"observed: no value for layer(s) {', '.join(missing)}")
        observed = [observed[layer] for layer in layers]
    values = np.atleast_1d(np.asarray(observed, dtype=np.float64))
    if values.shape != (len(layers),):
        raise UserError(f"observed: expected {len(layers)} values (one per layer), got shape {values.shape}")
    if not np.isfinite(values).all():
        raise UserError("observed: contains NaN or infinite values")
    return values


TESTS = ("empirical", "gaussian")


def gaussian_p(values: np.ndarray, observed: np.ndarray, alternative: str) -> np.ndarray:
    """p of a new observation against K draws under a normal null: t = (obs − mean) / (sd·√(1 + 1/K)), K − 1 df.

    This is the prediction-interval test: exact when the draws and the observation are i.i.d. normal under the
    null. A layer whose draws are all equal gives p = 1 where the observation equals them, else 0."""
    k = values.shape[0]
    mean, sd = values.mean(0), values.std(0, ddof=1)
    scale = sd * np.sqrt(1 + 1 / k)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (observed - mean) / scale
    tol = TOLERANCE * np.maximum(1.0, np.abs(observed))
    flat = ~(scale > 0)
    t = np.where(flat, np.where(np.abs(observed - mean) <= tol, 0.0, np.copysign(np.inf, observed - mean)), t)
    if alternative == "greater":
        p = scipy.stats.t.sf(t, k - 1)
    elif alternative == "less":
        p = scipy.stats.t.cdf(t, k - 1)
    else:
        p = np.minimum(1.0, 2 * scipy.stats.t.sf(np.abs(t), k - 1))
    return np.where(flat & (t == 0), 1.0, p)


def compare_to_null(
    observed, null, alternative: str = "two-sided", confidence: float = 0.95, test: str = "empirical"
) -> NullTest:
    """Per layer p-values and percentile bands of the null draws.

    observed: {layer: value} or one value per layer; null: a NullDistribution or an array [K, L] (or [K]).
    test: "empirical" ((1 + #draws at least as extreme) / (1 + K); never below 1/(K + 1) one-sided, 2/(K + 1)
    two-sided) or "gaussian" (the t prediction-interval test of `gaussian_p`, which can go lower with few draws)."""
    alternative = checks.alternative(alternative)
    confidence = checks.level(confidence)
    test = checks.choice(test, "test", TESTS)
    values, layers = _null_values(null)
    obs = _observed_values(observed, layers)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail], axis=0)
    if test == "gaussian":
        p = gaussian_p(values, obs, alternative)
    else:
        p = np.asarray(empirical_p(values, obs, alternative), dtype=np.float64)
    return NullTest(layers, obs, p, low, high, values.mean(0), alternative, values.shape[0])
