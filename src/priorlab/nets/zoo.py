"""The model zoo: a network from a spec string, and weights from a local file.

    built = build("lenet")                       # or "lstm", "torchvision:resnet18", "module:mynets.py:make"
    model = built.make()                         # a fresh, untrained nn.Module; built.channels, built.image_size
    load_weights(model, "resnet18.safetensors")  # safetensors, or a torch state_dict/checkpoint (weights_only=True)

Specs: `lenet` (priorlab.nets.lenet), `lstm` (:class:`RowLSTM`, reading an image row by row),
`memory:<key>` (a model object handed to the Python API, :func:`register_model`; copies are built from it),
`torchvision:<name>` (built with weights=None: nothing is downloaded; auxiliary heads off),
`module:<file.py or dotted.module>:<factory>` (a function of no arguments returning an nn.Module; the module's
`input_shape` attribute, (C, H, W), is used when present). Bad specs and files raise UserError naming `model`,
`weights` or `image_size`.

Weights (:func:`load_weights`, public as `priorlab.nets.load_weights`): safetensors, or torch files read with
``weights_only=True`` — a state_dict, or a checkpoint holding it under ``state_dict``, ``model_state_dict``, ``model``
or ``net``; ``module.``/``model.`` key prefixes are stripped when that makes the keys fit. A whole pickled model is
refused with how to save a state_dict (``torch.save(model.state_dict(), path)``).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from priorlab.errors import UserError

__all__ = ["Built", "RowLSTM", "build", "check_input", "forget_model", "load_weights", "min_image_size", "register_model"]

TORCHVISION_EXTRA = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}
TORCHVISION_SIZE = {"inception_v3": 299}
TORCHVISION_MIN_SIZE = {"inception_v3": 75}


@dataclass
class Built:
    """A network builder and what it expects as input."""

    make: Callable[[], nn.Module]  # a fresh, untrained model per call
    channels: int
    image_size: int
    description: str


class Rows(nn.Module):
    """[N, C, H, W] images -> [N, H, C·W] sequences: one row per time step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 1, 3).flatten(2)


class LastStep(nn.Module):
    """The LSTM's output sequence [N, T, H] -> its last step [N, H]."""

    def forward(self, out) -> torch.Tensor:
        return out[0][:, -1] if isinstance(out, tuple) else out[:, -1]


class RowLSTM(nn.Module):
    """Two single-layer LSTMs reading an image row by row, and a linear readout of the last step."""

    def __init__(self, image_size: int = 8, channels: int = 1, hidden: int = 64, n_classes: int = 10):
        super().__init__()
        self.rows = Rows()
        self.lstm1 = nn.LSTM(channels * image_size, hidden, batch_first=True)
        self.lstm2 = nn.LSTM(hidden, hidden, batch_first=True)
        self.last = LastStep()
        self.readout = nn.Linear(hidden, n_classes)
        self.input_shape = (channels, image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm1(self.rows(x))
        h, _ = self.lstm2(h)
        return self.readout(self.last(h))


def build(spec: str, image_size: int | None = None) -> Built:
    """Parse a model spec into a builder; raises UserError naming `model` (or `image_size`)."""
    if spec == "lenet":
        from priorlab.nets.lenet import lenet

        size = image_size or 8
        return Built(lambda: lenet(image_size=size), 1, size, f"LeNet for {size}×{size} grey images")
    if spec == "lstm":
        size = image_size or 8
        return Built(lambda: RowLSTM(size), 1, size, f"2-layer LSTM reading {size}×{size} images row by row")
    if spec.startswith("torchvision:"):
        return _torchvision(spec.removeprefix("torchvision:"), image_size)
    if spec.startswith(MEMORY):
        model = _registered(spec, "model")
        channels, size = _input_shape(model)
        size = image_size or size
        name = type(model).__name__
        return Built(lambda: copy.deepcopy(model), channels, size, f"{name} (a model object)")
    if spec.startswith("module:"):
        path, sep, factory_name = spec.removeprefix("module:").rpartition(":")
        if not sep or not path or not factory_name:
            raise UserError(f"model: expected module:<file.py or dotted.module>:<factory>, got '{spec}'")
        factory = _load_factory(path, factory_name)
        channels, size = _input_shape(_call_factory(factory, spec))
        size = image_size or size
        return Built(lambda: _call_factory(factory, spec), channels, size, f"{factory_name} from {path}")
    raise UserError(
        f"invalid model '{spec}' (allowed: lenet, lstm, torchvision:<name>, module:<path>:<factory>)"
    )


# ----------------------------------------------------------------------------------------------
# model objects handed to the Python API (priorlab.compare, priorlab.run): held by key for the length of a run

MEMORY = "memory:"
_MODELS: dict[str, nn.Module] = {}
_COUNTER = itertools.count()


def register_model(model: nn.Module) -> str:
    """Hold `model` under a `memory:<key>` spec that :func:`build` (a deep copy per call) and :func:`load_weights`
    (its state_dict) accept; :func:`forget_model` lets it go. Only the process that registered it can use it."""
    if not isinstance(model, nn.Module):
        raise UserError(f"model: expected an nn.Module, got {type(model).__name__}")
    key = f"{MEMORY}{type(model).__name__}-{next(_COUNTER)}"
    _MODELS[key] = model
    return key


def forget_model(spec: str) -> None:
    _MODELS.pop(spec, None)


def _registered(spec: str, what: str) -> nn.Module:
    if spec not in _MODELS:
        raise UserError(
            f"{what}: '{spec}' names no model object of this process (memory: specs come from the Python API)"
        )
    return _MODELS[spec]


def _input_shape(model: nn.Module) -> tuple[int, int]:
    """(channels, image size) from the model's `input_shape` attribute (C, H, W), else (3, 224)."""
    if hasattr(model, "input_shape"):
        return int(model.input_shape[0]), int(model.input_shape[-1])
    return 3, 224


def min_image_size(spec: str) -> int:
    """The smallest input size the spec's network accepts (inception_v3: 75; 0 when any size works)."""
    return TORCHVISION_MIN_SIZE.get(spec.removeprefix("torchvision:"), 0) if spec.startswith("torchvision:") else 0


def _torchvision(name: str, image_size: int | None) -> Built:
    import torchvision

    if name not in torchvision.models.list_models():
        raise UserError(
            f"model: torchvision has no model '{name}' (e.g. googlenet, inception_v3, resnet18, alexnet)"
        )
    size = image_size or TORCHVISION_SIZE.get(name, 224)
    if size < min_image_size(f"torchvision:{name}"):
        raise UserError(f"image_size: {name} needs at least {TORCHVISION_MIN_SIZE[name]}, got {size}")
    kw = TORCHVISION_EXTRA.get(name, {})
    return Built(
        lambda: torchvision.models.get_model(name, weights=None, **kw),
        3,
        size,
        f"torchvision {name} (weights=None)",
    )


def _load_factory(path: str, name: str):
    try:
        if path.endswith(".py"):
            file = Path(path).expanduser()
            if not file.is_file():
                raise UserError(f"model: no such file '{path}'")
            spec = importlib.util.spec_from_file_location(f"priorlab_user_{file.stem}", file)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(path)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code: any failure is the user's input
        raise UserError(f"model: cannot import '{path}' ({exc.__class__.__name__}: {exc})") from None
    if not callable(getattr(module, name, None)):
        raise UserError(f"model: '{path}' has no function '{name}'")
    return getattr(module, name)


def _call_factory(factory, spec: str) -> nn.Module:
    model = factory()
    if not isinstance(model, nn.Module):
        raise UserError(f"model: the factory in '{spec}' returned {type(model).__name__}, not an nn.Module")
    return model


def check_input(model: nn.Module, x: torch.Tensor, description: str) -> None:
    """One forward of two items of `x` in eval mode (the model's mode is restored), so that a model/stimulus mismatch
    is a one-line UserError naming `stimuli` before any work."""
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(x[:2])
    except Exception as exc:  # noqa: BLE001 - user model and user data: any failure is a mismatch
        first = (str(exc).splitlines() or [""])[0][:200]
        raise UserError(
            f"stimuli: {description} cannot take these stimuli ({list(x.shape[1:])} per item): "
            f"{exc.__class__.__name__}: {first}"
        ) from None
    finally:
        model.train(was_training)


CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net")  # where checkpoints keep the weights
PREFIXES = ("module.", "model.")  # added by DataParallel/DistributedDataParallel and by Lightning-style wrappers
SAVE_HINT = "torch.save(model.state_dict(), path)"


def load_weights(model: nn.Module, path: str) -> None:
    """Load a local weights file into `model`; every problem is a one-line UserError naming `weights`.

    Reads safetensors, or a torch file with ``torch.load(weights_only=True)`` (nothing in it is executed): a
    state_dict, or a checkpoint dict holding one under ``state_dict``, ``model_state_dict``, ``model`` or ``net``
    (nested too). Key prefixes ``module.`` (DataParallel) and ``model.`` are stripped when that makes the keys match
    the model's. A whole pickled model (``torch.save(model)``) is refused with how to save its state_dict instead.
    ``path`` may also be a `memory:` spec (:func:`register_model`): that model object's weights.

        model = torchvision.models.resnet18()
        priorlab.nets.load_weights(model, "resnet18_checkpoint.pt")   # {'state_dict': {'module.conv1.weight': …}}
    """
    if str(path).startswith(MEMORY):
        state = _registered(str(path), "weights").state_dict()
        _load_state(model, dict(state), path)
        return
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"weights: no such file '{path}'")
    _load_state(model, _unwrap(_read(file, path), path), path)


def _load_state(model: nn.Module, state: dict, path) -> None:
    state = _strip_prefixes(state, set(model.state_dict()))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        lines = str(exc).splitlines() or [""]
        detail = lines[min(1, len(lines) - 1)].strip()[:200]  # e.g. 'Missing key(s) in state_dict: "conv1.weight", …'
        hint = ""
        if any(".parametrizations." in k for k in state):
            hint = "; it was saved with parametrizations (a regime): bake them first with priorlab.regimes.remove"
        raise UserError(f"weights: '{path}' does not fit the model ({detail}){hint}") from None


def _read(file: Path, path: str):
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(file))
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file is bad user input
        if _holds_a_module(file):
            raise UserError(
                f"weights: '{path}' holds a whole pickled model, which cannot be loaded safely (weights_only); "
                f"save its weights instead: {SAVE_HINT}"
            ) from None
        raise UserError(
            f"weights: cannot read '{path}' as safetensors or a weights-only torch file "
            f"({exc.__class__.__name__})"
        ) from None


def _holds_a_module(file: Path) -> bool:
    """Whether a torch zip file pickles an nn.Module: its pickle names a module's `_modules` and `_parameters`
    (read with pickletools, nothing is executed)."""
    import pickletools
    import zipfile

    try:
        with zipfile.ZipFile(file) as z:
            data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
        strings = {arg for _, arg, _ in pickletools.genops(data) if isinstance(arg, str)}
    except Exception:  # noqa: BLE001 - not a torch zip file: not a pickled module either
        return False
    return {"_modules", "_parameters"} <= strings


def _is_state(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _unwrap(obj, path: str) -> dict:
    """The state_dict inside a checkpoint dict (under one of CHECKPOINT_KEYS, at any depth)."""
    while isinstance(obj, dict) and not _is_state(obj):
        inner = next((obj[k] for k in CHECKPOINT_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, dict):
        raise UserError(f"weights: '{path}' does not hold a state_dict (got {type(obj).__name__})")
    if not _is_state(obj):
        keys = ", ".join(map(str, list(obj)[:6]))
        raise UserError(
            f"weights: '{path}' holds a dict that is not a state_dict and has none under "
            f"{', '.join(CHECKPOINT_KEYS)} (keys: {keys})"
        )
    return obj


def _strip_prefixes(state: dict, wanted: set[str]) -> dict:
    """`state` with module./model. prefixes removed (up to 3 deep, e.g. module.model.) when that makes more of its
    keys match `wanted`; the fewest removals win a tie."""
    candidates, frontier = [state], [state]
    for _ in range(3):
        frontier = [
            stripped
            for s in frontier
            for prefix in PREFIXES
            if any(k.startswith(prefix) for k in s)
            and len(stripped := {k.removeprefix(prefix): v for k, v in s.items()}) == len(s)
        ]
        candidates += frontier
    return max(candidates, key=lambda s: len(wanted & set(s)))
