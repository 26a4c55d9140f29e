"""Experiment configs: pydantic models with limits on every field, and `--set key=value` parsing.

Every experiment's Config subclasses :class:`BaseConfig`. Validation errors are turned into one line
that names the key and what is allowed (:func:`describe_error`), which the CLI prints with exit code 2.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from priorlab.errors import UserError  # re-exported: configs and front-ends raise it

__all__ = ["BaseConfig", "Fraction", "UniqueList", "UserError", "Widths", "build_config", "clip", "unique_list"]

MAX_SHOWN = 200  # characters of a user's value an error message shows at most
MAX_NODES = 100_000  # items (counted through YAML aliases) a config may hold: anchor bombs are refused
MAX_DEPTH = 50  # nesting of lists and mappings in a config value


def clip(text: Any, n: int = MAX_SHOWN) -> str:
    """``text`` as a string of at most ``n`` characters (an ellipsis marks a cut)."""
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def short_repr(value: Any, n: int = MAX_SHOWN) -> str:
    """repr() of a user's value, bounded in time and length (nested and self-referencing values included)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 3, 8, 8, 8, 8
    r.maxstring = r.maxother = r.maxlong = n
    return clip(r.repr(value), n)


def check_bounded(value: Any, what: str = "config") -> None:
    """Refuse a value with more than MAX_NODES items (counted through shared YAML aliases) or nested deeper than
    MAX_DEPTH, before anything walks it: a YAML anchor bomb expands to billions of items."""
    count = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise UserError(f"{what} is too large (more than {MAX_NODES:,} items, counting YAML aliases)")
        if depth > MAX_DEPTH:
            raise UserError(f"{what} is nested too deeply (more than {MAX_DEPTH} levels)")
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for kv in v.items() for x in kv)
        elif isinstance(v, list | tuple | set):
            stack.extend((x, depth + 1) for x in v)



class BaseConfig(BaseModel):
    """Keys every experiment has."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    scale: Literal["quick", "full"] = Field(
        "quick", description="quick: demo/test size; full: the source study's size"
    )
    preset: str | None = Field(None, description="named study configuration (overrides defaults)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="base seed; repeats use seed, seed+1, ...")

    # Experiments may define PRESETS = {"name": {key: value}}; applied before the user's keys.
    PRESETS: typing.ClassVar[dict[str, dict[str, Any]]] = {}
    # Overrides applied when scale == "full" (before the user's keys).
    FULL: typing.ClassVar[dict[str, Any]] = {}
    # Keys that were renamed: {"old": "new"}; the old name is refused with a pointer to the new one.
    RENAMED: typing.ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _wrap_scalars_for_list_keys(cls, data: Any) -> Any:
        """`--set widths=64` means `widths=[64]`: a single value for a list-valued key becomes a one-item list."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, finfo in cls.model_fields.items():
            tp, _ = _strip_optional(finfo.annotation)
            while typing.get_origin(tp) is Annotated:  # unique_list(...) | None
                tp = typing.get_args(tp)[0]
            if typing.get_origin(tp) in (list, tuple) and name in out:
                v = out[name]
                if v is not None and not isinstance(v, list | tuple):
                    out[name] = [v]
        return out


# ----------------------------------------------------------------------------------------------
# shared field types: limits declared once, shown by `priorlab run X --help`, named in errors

# A fraction in [0, 1].
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


def _distinct(v: list) -> list:
    seen = []
    for item in v:
        if item in seen:
            raise ValueError(f"values must be distinct ({item!r} is given twice)")
        seen.append(item)
    return v


def unique_list(item: Any, *, ge=None, le=None, gt=None, lt=None, min_length: int = 1, max_length: int | None = None):
    """A list of distinct items, each within the given range: ``unique_list(int, ge=1, le=65536)``."""
    bounds = {k: v for k, v in dict(ge=ge, le=le, gt=gt, lt=lt).items() if v is not None}
    element = Annotated[item, Field(**bounds)] if bounds else item
    return Annotated[
        list[element], Field(min_length=min_length, max_length=max_length), AfterValidator(_distinct)
    ]


# A list of distinct strings (e.g. regimes, tasks); Literal item types restrict the values.
UniqueList = unique_list

# A list of layer widths (a curve's x axis): distinct, each in 1..65536.
Widths = unique_list(int, ge=1, le=65536)

# The training keys of the naming table (docs/developing.md), one range each in every experiment.
Steps = Annotated[int, Field(ge=1, le=1_000_000)]  # optimizer steps
LearningRate = Annotated[float, Field(gt=0, le=10)]
BatchSize = Annotated[int, Field(ge=1, le=65_536)]


# ----------------------------------------------------------------------------------------------
# describing fields


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def type_name(tp: Any) -> str:
    tp, optional = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if origin is Literal:
        name = "|".join(str(a) for a in typing.get_args(tp))
    elif origin in (list, tuple):
        args = typing.get_args(tp)
        name = f"list[{type_name(args[0]) if args else 'any'}]"
    elif origin is Annotated:
        base, *meta = typing.get_args(tp)
        name = type_name(base)
        rng = _range_of(meta)
        if rng:
            name += f" {rng}"
        return name + (" or null" if optional else "")
    elif isinstance(tp, type):
        name = {"int": "integer", "float": "number", "str": "text", "bool": "true|false"}.get(
            tp.__name__, tp.__name__
        )
    else:
        name = str(tp)
    return name + (" or null" if optional else "")


def field_range(finfo) -> str:
    return _range_of(finfo.metadata)


def _range_of(metadata) -> str:
    lo = hi = None
    lo_op = hi_op = ""
    for m in _flat_metadata(metadata):
        for attr, op in (("ge", "≥"), ("gt", ">")):
            if getattr(m, attr, None) is not None:
                lo, lo_op = getattr(m, attr), op
        for attr, op in (("le", "≤"), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                hi, hi_op = getattr(m, attr), op
        if getattr(m, "min_length", None) is not None:
            lo, lo_op = m.min_length, "len ≥"
        if getattr(m, "max_length", None) is not None:
            hi, hi_op = m.max_length, "len ≤"
    parts = []
    if lo is not None:
        parts.append(f"{lo_op} {lo}")
    if hi is not None:
        parts.append(f"{hi_op} {hi}")
    return ", ".join(parts)


def _flat_metadata(metadata):
    for m in metadata:
        inner = getattr(m, "metadata", None)
        if isinstance(inner, list):  # a FieldInfo from Field(...) inside Annotated
            yield from inner
        else:
            yield m


def describe_fields(cls: type[BaseConfig]) -> list[dict[str, str]]:
    rows = []
    for name, finfo in cls.model_fields.items():
        default = finfo.default
        rows.append(
            {
                "key": name,
                "type": type_name(finfo.annotation),
                "default": "null" if default is None else _fmt(default),
                "range": field_range(finfo),
                "help": finfo.description or "",
            }
        )
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, list | tuple):
        return ",".join(_fmt(x) for x in v)
    return str(v)


def describe_error(cls: type[BaseConfig], err: ValidationError) -> str:
    """One line naming the first bad key and what is allowed."""
    e = err.errors()[0]
    loc = [str(p) for p in e.get("loc", ())]
    key = loc[0] if loc else "config"
    if e.get("type") == "extra_forbidden":
        return f"unknown config key '{clip(key)}' (allowed: {', '.join(cls.model_fields)})"
    finfo = cls.model_fields.get(key)
    value = e.get("input")
    msg = e.get("msg", "invalid").removeprefix("Value error, ")
    if finfo is None:
        return f"invalid config: {clip(msg)}"
    allowed = type_name(finfo.annotation)
    rng = field_range(finfo)
    if rng:
        allowed += f", {rng}"
    where = key if len(loc) == 1 else ".".join(loc)
    vs = short_repr(value) if not isinstance(value, dict) else "…"
    return f"invalid value {vs} for '{clip(where)}': {clip(msg.rstrip('.'))} (allowed: {allowed})"


# ----------------------------------------------------------------------------------------------
# building a config from CLI pieces


def parse_value(raw: str) -> Any:
    """Parse the right-hand side of key=value: YAML scalars/lists, and bare comma lists."""
    raw = raw.strip()
    if raw == "":
        return ""
    try:
        val = yaml.safe_load(raw)
    except yaml.YAMLError:
        val = raw
    except RecursionError:
        raise UserError(f"value '{clip(raw)}' is nested too deeply") from None
    check_bounded(val, f"value '{clip(raw, 60)}'")
    if isinstance(val, str) and "," in val and not raw.startswith(("'", '"')):
        return [parse_value(p) for p in raw.split(",") if p.strip() != ""]
    return val


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--set expects key=value, got '{clip(item)}'")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k:
            raise UserError(f"--set expects key=value, got '{clip(item)}'")
        out[k] = parse_value(v)
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read config file '{clip(path)}': {exc.__class__.__name__}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"config file '{clip(path)}' is not valid YAML{where}") from None
    except RecursionError:
        raise UserError(f"config file '{clip(path)}' is nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file '{clip(path)}' must hold a mapping of key: value")
    check_bounded(data, f"config file '{clip(path)}'")
    return {str(k): v for k, v in data.items()}


def _takes_bool(tp: Any) -> bool:
    """Whether a field's type admits true/false anywhere (bool, a Literal of bools, Any, an unannotated type)."""
    if tp is bool or tp is Any or tp is object:
        return True
    origin = typing.get_origin(tp)
    if origin is Literal:
        return any(isinstance(a, bool) for a in typing.get_args(tp))
    if origin is Annotated:
        return _takes_bool(typing.get_args(tp)[0])
    if origin is not None:
        return any(_takes_bool(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return not isinstance(tp, type) or not issubclass(tp, int | float | str)


def _refuse_bools(cls: type[BaseConfig], values: dict[str, Any]) -> None:
    """`hidden=true` is refused (pydantic would read it as 1); lists of numbers likewise."""
    for k, v in values.items():
        items = v if isinstance(v, list | tuple) else [v]
        if any(isinstance(x, bool) for x in items) and not _takes_bool(cls.model_fields[k].annotation):
            allowed = type_name(cls.model_fields[k].annotation)
            raise UserError(f"invalid value {short_repr(v)} for '{k}': true/false is not a value here "
                            f"(allowed: {allowed})")


def build_config(cls: type[BaseConfig], values: dict[str, Any]) -> BaseConfig:
    """Defaults < full-scale overrides < preset < user values. Raises UserError with one line."""
    check_bounded(values)
    values = {str(k): v for k, v in values.items()}
    unknown = [k for k in values if k not in cls.model_fields]
    renamed = [k for k in unknown if k in cls.RENAMED]
    if renamed:
        raise UserError(f"unknown key '{renamed[0]}' (renamed to '{cls.RENAMED[renamed[0]]}')")
    if unknown:
        raise UserError(f"unknown config key '{clip(unknown[0])}' (allowed: {', '.join(cls.model_fields)})")
    _refuse_bools(cls, values)
    merged: dict[str, Any] = {}
    if values.get("scale", cls.model_fields["scale"].default) == "full":
        merged.update(cls.FULL)
    preset = values.get("preset")
    if preset is not None:
        allowed = ", ".join(cls.PRESETS) or "none"
        if not isinstance(preset, str):
            raise UserError(f"invalid value {short_repr(preset)} for 'preset': one preset name (allowed: {allowed})")
        if preset not in cls.PRESETS:
            raise UserError(f"unknown preset '{clip(preset)}' (allowed: {allowed})")
        merged.update(cls.PRESETS[preset])
    merged.update(values)
    try:
        return cls(**merged)
    except ValidationError as err:
        raise UserError(describe_error(cls, err)) from None
