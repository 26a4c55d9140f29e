"""Re-initialise every parameter and buffer of any ``nn.Module``: the "same architecture, untrained" baseline.

    model = priorlab.randomize(torchvision.models.googlenet(weights=None), init="kaiming", seed=3)
    model, report = priorlab.randomize(model, init="normal", gain=0.1, report=True)

Init names (``gain`` defaults in brackets):
    torch-default  what PyTorch's own ``reset_parameters`` draws (Linear/Conv: U(±1/sqrt(fan_in)) for weight and bias;
                   RNNs: U(±1/sqrt(hidden)); Embedding: N(0, 1)); ``gain`` is ignored
    normal         N(0, gain²)                    [1]
    fan-in         N(0, gain² / fan_in)           [1]
    xavier         U(±gain·sqrt(6 / (fan_in + fan_out)))   [1]
    kaiming        N(0, gain² / fan_in)           [sqrt(2)]
    orthogonal     a (semi-)orthogonal matrix × gain, flattened as [out, in·kernel]   [1]
For every init but ``torch-default`` biases are drawn from N(0, bias_std²) (zero by default). Norm layers
(BatchNorm, LayerNorm, GroupNorm, InstanceNorm) get weight 1, bias 0 and fresh running statistics whatever the init.
Fan-in and fan-out follow ``torch.nn.init`` (fan_in = size(1) × kernel size).

Modules of other types (and known types with extra parameters) are re-initialised by their own
``reset_parameters()`` (seeded, inside ``torch.random.fork_rng`` so the caller's RNG is untouched); parameters
that nothing can re-initialise are listed in a warning. Buffers other than norm layers' running statistics
(masks, constants) are left as they are. All random numbers come from one ``torch.Generator`` seeded with ``seed`` and are drawn
on the CPU, so the result is the same on every device and the global RNG state never changes.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
from torch import nn

INITS = ("torch-default", "normal", "fan-in", "xavier", "kaiming", "orthogonal")
_DEFAULT_GAIN = {"normal": 1.0, "fan-in": 1.0, "xavier": 1.0, "kaiming": math.sqrt(2.0), "orthogonal": 1.0}

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORM = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
_RNN = (nn.RNNBase, nn.RNNCellBase)


def _fans(shape: torch.Size) -> tuple[int, int]:
    if len(shape) < 2:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _inv_sqrt(n: int) -> float:
    """1/sqrt(n), and 0 for a zero-size layer (nothing is drawn for it)."""
    return 1 / math.sqrt(n) if n > 0 else 0.0


class _Drawer:
    """Draws fresh values for tensors from one seeded CPU generator."""

    def __init__(self, init: str, seed: int, gain: float | None, bias_std: float):
        self.init = init
        self.gain = _DEFAULT_GAIN.get(init, 1.0) if gain is None else float(gain)
        self.bias_std = float(bias_std)
        self.gen = torch.Generator().manual_seed(int(seed))

    def uniform(self, shape, bound: float) -> torch.Tensor:
        return (torch.rand(shape, generator=self.gen, dtype=torch.float64) * 2 - 1) * bound

    def normal(self, shape, std: float) -> torch.Tensor:
        return torch.randn(shape, generator=self.gen, dtype=torch.float64) * std

    def orthogonal(self, shape) -> torch.Tensor:
        rows, cols = shape[0], math.prod(shape[1:])
        a = self.normal((max(rows, cols), min(rows, cols)), 1.0)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))  # a uniform (Haar) draw, as torch.nn.init.orthogonal_
        if rows < cols:
            q = q.T
        return (q * self.gain).reshape(shape)

    def weight(self, shape, default_bound: float | None = None, default_std: float | None = None):
        """A weight tensor under the chosen init; returns (values, description)."""
        fan_in, fan_out = _fans(shape)
        if math.prod(shape) == 0:
            return torch.zeros(shape, dtype=torch.float64), "empty"
        if self.init == "torch-default":
            if default_std is not None:
                return self.normal(shape, default_std), f"N(0, {default_std:.3g}²)"
            bound = _inv_sqrt(fan_in) if default_bound is None else default_bound
            return self.uniform(shape, bound), f"U(±{bound:.3g})"
        if len(shape) < 2 and self.init in ("xavier", "kaiming", "orthogonal"):
            raise ValueError(
                f"init={self.init!r} needs a weight with at least 2 dimensions, got shape {tuple(shape)}"
            )
        if self.init == "normal":
            return self.normal(shape, self.gain), f"N(0, {self.gain:.3g}²)"
        if self.init in ("fan-in", "kaiming"):
            std = self.gain * _inv_sqrt(fan_in)
            return self.normal(shape, std), f"N(0, {std:.3g}²)"
        if self.init == "xavier":
            bound = self.gain * math.sqrt(6.0 / (fan_in + fan_out))
            return self.uniform(shape, bound), f"U(±{bound:.3g})"
        return self.orthogonal(shape), f"orthogonal × {self.gain:.3g}"

    def bias(self, shape, default_bound: float):
        if self.init == "torch-default":
            return self.uniform(shape, default_bound), f"U(±{default_bound:.3g})"
        if self.bias_std == 0:
            return torch.zeros(shape, dtype=torch.float64), "0"
        return self.normal(shape, self.bias_std), f"N(0, {self.bias_std:.3g}²)"


def _slot(module: nn.Module, name: str) -> torch.Tensor | None:
    """The stored tensor behind `module.name`: the parameter, or its `original` when parametrized."""
    if torch.nn.utils.parametrize.is_parametrized(module, name):
        original = module.parametrizations[name].original
        return original if original.shape == getattr(module, name).shape else None
    return module._parameters.get(name)


def _assign(module: nn.Module, name: str, values: torch.Tensor, done: set[int]) -> bool:
    t = _slot(module, name)
    if t is None:
        return False
    with torch.no_grad():
        t.copy_(values.to(dtype=t.dtype, device=t.device))
    done.add(id(t))
    return True


def _init_module(m: nn.Module, d: _Drawer, done: set[int]) -> str | None:
    """Initialise a module of a known type; returns a description, or None when the type is unknown."""
    parts = []

    def put(name, values_desc):
        values, desc = values_desc
        if _assign(m, name, values, done):
            parts.append(f"{name} {desc}")

    if isinstance(m, (nn.Linear,) + _CONV):
        w = m.weight
        put("weight", d.weight(w.shape))
        if getattr(m, "bias", None) is not None:
            put("bias", d.bias(m.bias.shape, _inv_sqrt(_fans(w.shape)[0])))
    elif isinstance(m, _RNN):
        bound = _inv_sqrt(m.hidden_size)
        for name, p in list(m.named_parameters(recurse=False)):
            if name.startswith("weight"):
                put(name, d.weight(p.shape, default_bound=bound))
            else:
                put(name, d.bias(p.shape, bound))
    elif isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
        values, desc = d.weight(m.weight.shape, default_std=1.0)
        if getattr(m, "padding_idx", None) is not None:
            values[m.padding_idx] = 0
            desc += f", row {m.padding_idx} (padding) 0"
        put("weight", (values, desc))
    elif isinstance(m, _NORM):
        if getattr(m, "weight", None) is not None:
            put("weight", (torch.ones(m.weight.shape), "1"))
        if getattr(m, "bias", None) is not None:
            put("bias", (torch.zeros(m.bias.shape), "0"))
        if getattr(m, "running_mean", None) is not None:
            m.reset_running_stats()
            parts.append("running stats reset")
    else:
        return None
    return ", ".join(parts) if parts else "nothing to initialise"


def _reset_with_seed(m: nn.Module, seed: int, watch: dict[str, torch.Tensor]) -> list[str]:
    """Call m's reset_parameters() with a seeded RNG, restoring the caller's RNG state afterwards.

    Returns the names of the `watch`ed parameters it did not set (they are marked with NaN beforehand and
    keep their old values)."""
    old = {k: p.detach().clone() for k, p in watch.items()}
    with torch.no_grad():
        for p in watch.values():
            if p.is_floating_point():
                p.fill_(float("nan"))
    devices = sorted({p.device.index or 0 for p in m.parameters(recurse=False) if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        _reset_method(m)()
    untouched = [k for k, p in watch.items() if p.is_floating_point() and torch.isnan(p).all()]
    with torch.no_grad():
        for k in untouched:
            watch[k].copy_(old[k])
    return untouched


def _reset_method(m: nn.Module):
    """m.reset_parameters, or the private _reset_parameters some torch modules (MultiheadAttention) have."""
    for name in ("reset_parameters", "_reset_parameters"):
        if callable(getattr(m, name, None)):
            return getattr(m, name)
    return None


def _note(lines: dict[str, str], label: str, m: nn.Module, what: str) -> None:
    lines[label] = f"{lines[label]}; {what}" if label in lines else f"{type(m).__name__}: {what}"


def randomize(
    module: nn.Module,
    init: str = "torch-default",
    seed: int = 0,
    gain: float | None = None,
    report: bool = False,
    bias_std: float = 0.0,
):
    """Re-initialise `module` in place (see the module docstring for the init names) and return it.

    With ``report=True`` returns ``(module, report)``, where report maps each module path to what was done.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")
    if isinstance(gain, bool) or (gain is not None and not (isinstance(gain, numbers.Real) and 0 < gain < math.inf)):
        raise ValueError(f"gain must be a positive finite number, got {gain!r}")
    if isinstance(bias_std, bool) or not (isinstance(bias_std, numbers.Real) and 0 <= bias_std < math.inf):
        raise ValueError(f"bias_std must be a finite number >= 0, got {bias_std!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in 0..2**63-1, got {seed!r}")
    drawer = _Drawer(init, seed, gain, bias_std)
    done: set[int] = set()
    lines: dict[str, str] = {}
    unknown = []
    for name, m in module.named_modules():
        desc = _init_module(m, drawer, done)
        if desc is not None:
            lines[name or "(root)"] = f"{type(m).__name__}: {desc}"
        if any(id(p) not in done for p in m.parameters(recurse=False)):
            unknown.append((name, m))  # an unknown type, or a known one with extra parameters
    stuck = []
    for i, (name, m) in enumerate(unknown):
        label = name or "(root)"
        left = {k: p for k, p in m.named_parameters(recurse=False) if id(p) not in done}
        unchanged = list(left)
        if _reset_method(m) is not None:
            unchanged = _reset_with_seed(m, (seed * 1_000_003 + i) % 2**63, left)
            _note(lines, label, m, "its own reset_parameters()")
        if unchanged:
            stuck.append(f"{label} ({type(m).__name__}: {', '.join(unchanged)})")
            _note(lines, label, m, f"left unchanged: {', '.join(unchanged)}")
    if stuck:
        warnings.warn(
            "randomize: nothing re-initialises these parameters (unknown module type, and its reset_parameters "
            "does not set them or it has none): " + ", ".join(stuck),
            stacklevel=2,
        )
    return (module, lines) if report else module
