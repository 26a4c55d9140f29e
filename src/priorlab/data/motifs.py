"""Motif tasks: sequences with a planted motif, and images of the letters "C" and "D" at random positions and sizes.

- :func:`motif_sequences`: Gaussian noise sequences; class 1 has ``motif`` added at a uniformly random position.
- :func:`letters`: thin (one pixel, 8-connected) strokes of "C" (an open arc: two endpoints) and "D" (a bar closed by a
  half-round: two right-angled corners, no endpoints) on a blank canvas. ``region="left"`` keeps each letter inside
  the canvas's left half, ``"right"`` inside the right half, so a model trained on one half can be tested at
  positions it never saw.
"""

from __future__ import annotations

import numpy as np
import torch

MOTIF = (1.0, -1.0, 1.0, 1.0, -1.0)


def motif_sequences(
    n: int, length: int = 32, motif=MOTIF, amplitude: float = 2.0, noise: float = 1.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences [n, length] (float32) and labels [n] (class 1 = motif planted at a random position)."""
    k = len(motif)
    if length < k:
        raise ValueError(f"length ({length}) must be at least the motif's length ({k})")
    rng = np.random.default_rng(seed)
    x = rng.normal(0, noise, (n, length))
    y = np.arange(n) % 2
    rng.shuffle(y)
    starts = rng.integers(0, length - k + 1, n)
    for i in np.flatnonzero(y):
        x[i, starts[i] : starts[i] + k] += amplitude * np.asarray(motif)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


# ----------------------------------------------------------------------------------------------
# letters


def _thin_path(points: np.ndarray) -> list[tuple[int, int]]:
    """Pixels (row, col) of a densely sampled curve, as a minimal 8-connected path (no doubled 'L' steps)."""
    path: list[tuple[int, int]] = []
    for r, c in np.rint(points).astype(int):
        p = (int(r), int(c))
        if path and path[-1] == p:
            continue
        # drop the previous pixel when the new one already touches the one before it
        if len(path) >= 2 and max(abs(path[-2][0] - p[0]), abs(path[-2][1] - p[1])) <= 1:
            path.pop()
        if p not in path[-2:]:
            path.append(p)
    return path


def _c_curve(top: float, left: float, h: float) -> list[np.ndarray]:
    """An arc of a circle of diameter h, open on the right (from 50° round to 310°)."""
    r = (h - 1) / 2
    a = np.radians(np.linspace(50, 310, 2000))
    return [np.stack([top + r - r * np.sin(a), left + r + r * np.cos(a)], 1)]


def _d_curve(top: float, left: float, h: float) -> list[np.ndarray]:
    """A closed 'D': bar down the left, bottom edge, half-round back up, top edge back to the start (drawn piece by
    piece, so that the two corners keep their corner pixel)."""
    r = (h - 1) / 2
    flat = max(1.0, round(r / 2))
    bottom = top + h - 1
    t = np.linspace(0, 1, 500)[:, None]
    bar = np.hstack([top + t * (h - 1), np.full_like(t, left)])
    low = np.hstack([np.full_like(t, bottom), left + t * flat])
    a = np.radians(np.linspace(-90, 90, 2000))[:, None]
    arc = np.hstack([top + r - r * np.sin(a), left + flat + r * np.cos(a)])
    high = np.hstack([np.full_like(t, top), left + flat - t * flat])
    return [bar, low, arc, high]


def letter_width(letter: str, h: int) -> int:
    """Columns a letter of height ``h`` occupies."""
    r = (h - 1) / 2
    return int(h if letter == "C" else max(1.0, round(r / 2)) + r + 1)


def letters(
    n: int,
    height: int = 20,
    width: int = 40,
    sizes: tuple[int, int] = (7, 11),
    region: str = "any",
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images [n, 1, height, width] (float32, strokes = 1) and labels [n] (0 = "C", 1 = "D").

    Letter heights are uniform in ``sizes`` (inclusive); positions uniform over the ``region`` ("left", "right" or
    "any") with the whole letter inside it.
    """
    if region not in ("left", "right", "any"):
        raise ValueError(f"unknown region '{region}' (allowed: left, right, any)")
    lo, hi = {"left": (0, width // 2), "right": (width // 2, width), "any": (0, width)}[region]
    if sizes[1] + 1 > min(height, hi - lo):
        raise ValueError(f"letters up to {sizes[1]} pixels do not fit a {height}×{hi - lo} region")
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, height, width), dtype=np.float32)
    y = np.arange(n) % 2
    rng.shuffle(y)
    for i in range(n):
        h = int(rng.integers(sizes[0], sizes[1] + 1))
        letter = "CD"[y[i]]
        w = letter_width(letter, h)
        top = int(rng.integers(0, height - h + 1))
        left = int(rng.integers(lo, hi - w + 1))
        for piece in (_c_curve if letter == "C" else _d_curve)(top, left, h):
            for r, c in _thin_path(piece):
                x[i, 0, r, c] = 1.0
    return torch.from_numpy(x), torch.tensor(y, dtype=torch.int64)
