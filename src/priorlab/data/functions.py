"""1-D target functions, including safe user expressions in x (parsed with `ast`, never `eval`), and noisy samples
of them (:func:`sample_target`)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import torch
from pydantic import AfterValidator

from priorlab.config import UserError, clip


class ExpressionError(UserError):
    """A target expression that is not allowed; `reason` is the message without the key's name."""

    def __init__(self, text: str, reason: str):
        super().__init__(f"invalid value '{clip(text)}' for 'target': {reason}")
        self.reason = reason


NAMED: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = {
    "sin": ("sin(x)", torch.sin),
    "square": ("sign(sin(x))", lambda x: torch.sign(torch.sin(x))),
    "abs": ("|x| / pi", lambda x: x.abs() / math.pi),
    "poly3": ("(x/pi)^3 - x/pi", lambda x: (x / math.pi) ** 3 - x / math.pi),
}

_FUNCS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "exp": torch.exp, "log": torch.log,
    "sqrt": torch.sqrt, "abs": torch.abs, "tanh": torch.tanh, "sign": torch.sign, "sinh": torch.sinh,
    "cosh": torch.cosh, "arctan": torch.atan, "floor": torch.floor, "relu": torch.relu,
    "sigmoid": torch.sigmoid,
}
_CONSTS = {"pi": math.pi, "e": math.e}
_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.Mod: operator.mod,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


MAX_LENGTH = 1000  # characters of a target expression at most
MAX_DEPTH = 200  # nesting of its operations at most


def _depth(tree: ast.AST) -> int:
    """Nesting depth of an expression tree (iterative: a deep tree cannot overflow the stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            break
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(node))
    return deepest


def parse_expression(text: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Compile an arithmetic expression in `x` to a function of a tensor.

    Allowed: numbers, x, pi, e, + - * / ** % (and ^ as power), unary minus, and the functions
    sin cos tan exp log sqrt abs tanh sign sinh cosh arctan floor relu sigmoid. Anything else is refused.
    """
    if len(text) > MAX_LENGTH:
        raise ExpressionError(text, f"longer than {MAX_LENGTH} characters ({len(text)})")
    src = text.replace("^", "**")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError:
        raise ExpressionError(text, "not an expression in x") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(text, f"nested more than {MAX_DEPTH} levels") from None
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(text, f"nested more than {MAX_DEPTH} levels")
    allowed = ", ".join(_FUNCS)

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            check(node.body)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            check(node.operand)
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS) or node.keywords or len(node.args) != 1:
                raise ExpressionError(text, f"only one-argument calls of {allowed}")
            check(node.args[0])
        elif isinstance(node, ast.Name):
            if node.id != "x" and node.id not in _CONSTS:
                raise ExpressionError(text, f"unknown name '{node.id}' (use x, pi, e)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            pass
        else:
            raise ExpressionError(text, f"'{type(node).__name__}' is not allowed")

    check(tree)
    if not any(isinstance(n, ast.Name) and n.id == "x" for n in ast.walk(tree)):
        raise ExpressionError(text, "the expression must use x")

    def evaluate(node: ast.AST, x: torch.Tensor):
        if isinstance(node, ast.Expression):
            return evaluate(node.body, x)
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](evaluate(node.left, x), evaluate(node.right, x))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](evaluate(node.operand, x))
        if isinstance(node, ast.Call):
            arg = evaluate(node.args[0], x)
            return _FUNCS[node.func.id](torch.as_tensor(arg, dtype=x.dtype))
        if isinstance(node, ast.Name):
            return x if node.id == "x" else _CONSTS[node.id]
        return float(node.value)  # floats overflow quickly instead of building huge integers

    def f(x: torch.Tensor) -> torch.Tensor:
        try:
            y = evaluate(tree, x)
        except (OverflowError, ZeroDivisionError, ValueError) as exc:
            raise ExpressionError(text, f"{exc}") from None
        return torch.as_tensor(y, dtype=x.dtype).expand_as(x).clone()

    return f


def target_function(name: str) -> tuple[str, Callable[[torch.Tensor], torch.Tensor]]:
    """(formula, function) for a named target or a user expression in x."""
    if name in NAMED:
        return NAMED[name]
    return name, parse_expression(name)


def dominant_fourier_terms(
    f: Callable[[torch.Tensor], torch.Tensor], lo: float, hi: float, k: int = 3, n: int = 4096
) -> list[dict[str, float]]:
    """The k largest terms a·cos(ω x + φ) of f's Fourier series on [lo, hi) (period hi − lo)."""
    x = torch.linspace(lo, hi, n + 1, dtype=torch.float64)[:-1]
    c = torch.fft.rfft(f(x)) / n
    j = torch.arange(len(c), dtype=torch.float64)
    amp = c.abs() * torch.where(j == 0, 1.0, 2.0)
    omega = 2 * math.pi * j / (hi - lo)
    raw = torch.atan2(c.imag, c.real) - omega * lo
    phase = raw - 2 * math.pi * torch.round(raw / (2 * math.pi))
    order = torch.argsort(-amp, stable=True)[:k]
    return [{"frequency": omega[i].item(), "phase": phase[i].item(), "amplitude": amp[i].item()}
            for i in order.tolist() if amp[i].item() > 1e-6]


def _check_target(v: str) -> str:
    try:
        target_function(v)[1](torch.linspace(-1.0, 1.0, 3))
    except ExpressionError as exc:  # a field error, so the message names the config key that holds it
        raise ValueError(exc.reason) from None
    return v


# A config field holding a target: a named target or a safe expression in x, checked when the config is built.
TargetExpr = Annotated[str, AfterValidator(_check_target)]


@dataclass
class Samples:
    """Noisy training samples ``(x, y)`` of ``f`` on [lo, hi], fresh points inside the range (``x_interp``) and in
    the extrapolation bands on either side (``x_extrap``); ``f`` is the noiseless target."""

    x: torch.Tensor
    y: torch.Tensor
    x_interp: torch.Tensor
    x_extrap: torch.Tensor
    f: Callable[[torch.Tensor], torch.Tensor]


def sample_target(
    target: str, n: int, lo: float, hi: float, margin: float, noise: float, n_eval: int, seed: int
) -> Samples:
    """``n`` points uniform in [lo, hi] with y = f(x) + N(0, noise²); ``n_eval`` uniform points in [lo, hi] and
    ``n_eval`` in [lo − margin, lo) ∪ (hi, hi + margin], all drawn from one generator seeded with ``seed``."""
    _, f = target_function(target)
    g = torch.Generator().manual_seed(seed)
    x = lo + (hi - lo) * torch.rand(n, generator=g)
    y = f(x) + noise * torch.randn(n, generator=g)
    x_interp = lo + (hi - lo) * torch.rand(n_eval, generator=g)
    side = torch.rand(n_eval, generator=g)
    x_extrap = torch.where(side < 0.5, lo - margin * (2 * side), hi + margin * (2 * side - 1))
    return Samples(x, y, x_interp, x_extrap, f)
