"""Fold counts on hand-made piecewise-linear maps, and dead points."""

import math

import pytest
import torch

from priorlab.probe.folding import dead_fraction, dead_mask, fold_count, mean_folds


def polyline(vertices, per_segment=37):
    """A densely sampled polyline through the vertices (many collinear pieces per segment)."""
    v = torch.tensor(vertices, dtype=torch.float64)
    parts = [
        v[i] + torch.linspace(0, 1, per_segment)[:-1, None] * (v[i + 1] - v[i]) for i in range(len(v) - 1)
    ]
    return torch.cat(parts + [v[-1:]])


def test_straight_line_has_no_folds_however_finely_sampled():
    assert fold_count(polyline([[0, 0], [1, 2]], per_segment=500)) == 0
    assert fold_count(polyline([[0, 0], [1, 1], [2, 2], [3, 3]])) == 0  # collinear vertices


def test_zigzag_folds_counted_once_each():
    # the tent map applied twice folds the unit interval 3 times: image of a line is a zigzag with 3 reversals
    t = torch.linspace(0, 1, 1001, dtype=torch.float64)
    tent = lambda u: 1 - (2 * u - 1).abs()
    curve = torch.stack([t, tent(tent(t))], 1)
    assert fold_count(curve) == 3
    # pure reversal along one axis (a 1-D fold, 180 degrees)
    assert fold_count(polyline([[0, 0], [2, 0], [1, 0], [3, 0]])) == 2


def test_relu_map_of_a_line():
    # a hand-made 2-D ReLU layer: the line from (-1, 1) to (1, -1) is mapped to the y axis, then the x axis
    t = torch.linspace(-1, 1, 401, dtype=torch.float64)
    line = torch.stack([t, -t], 1)
    assert fold_count(torch.relu(line)) == 1
    # shifted so that it stays in the positive quadrant: no fold
    assert fold_count(torch.relu(line + 2)) == 0


def test_angle_tolerance():
    turn = lambda deg: polyline(
        [[0, 0], [1, 0], [1 + math.cos(math.radians(deg)), math.sin(math.radians(deg))]]
    )
    assert fold_count(turn(30), angle_tol=20) == 1
    assert fold_count(turn(10), angle_tol=20) == 0
    # a smooth quarter circle turns 90 degrees: one fold per 20 degrees of accumulated turning
    a = torch.linspace(0, math.pi / 2, 2000, dtype=torch.float64)
    assert fold_count(torch.stack([a.cos(), a.sin()], 1), angle_tol=20) == 4


def test_collapsed_stretches_are_skipped():
    # ReLU collapses a stretch onto one point: go right, stay put for a while, then go up
    stay = [[1.0, 0.0]] * 50
    curve = torch.tensor([[0.0, 0.0], [0.5, 0.0]] + stay + [[1.0, 1.0]], dtype=torch.float64)
    assert fold_count(curve) == 1
    assert fold_count(torch.zeros(10, 2)) == 0


def test_works_in_higher_dimensions_and_mean():
    c3 = polyline([[0, 0, 0], [1, 0, 0], [1, 0, 1], [1, 1, 1]])
    assert fold_count(c3) == 2
    assert mean_folds(torch.stack([c3, c3.flip(0)])) == 2
    with pytest.raises(ValueError, match="curve"):
        fold_count(torch.zeros(1, 2))


def test_dead_points():
    h = torch.tensor([[0.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    assert dead_fraction(h) == 0.5
    a = torch.tensor([[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]])
    b = torch.tensor([[[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]])
    assert dead_mask([a, b]).tolist() == [[True, True, False]]
