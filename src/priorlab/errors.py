"""The errors every layer shares: the only thing library code imports from "above" the library.

- :class:`UserError` — bad input from the user (a ``ValueError``): printed as one line, exit code 2, nothing written.
- :class:`Diverged` — training code found a NaN/inf loss; the run ends ``failed: diverged at step N``.
- :func:`check_finite` — raise :class:`Diverged` for a non-finite loss.
"""

from __future__ import annotations

import math


class UserError(ValueError):
    """Bad input from the user: printed as one line, exit code 2, nothing written."""


class Diverged(RuntimeError):
    """Raised by training code when the loss becomes NaN/inf."""

    def __init__(self, step: int, what: str = "loss"):
        super().__init__(f"diverged at step {step}")
        self.step = step
        self.what = what


def check_finite(loss: float, step: int) -> None:
    """Raise :class:`Diverged` at ``step`` when ``loss`` is NaN or infinite."""
    if not math.isfinite(loss):
        raise Diverged(step)
