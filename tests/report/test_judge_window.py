"""The judge's scatter fills its canvas: one window for all items, square only when the
coordinates' spreads are alike."""

from __future__ import annotations

import numpy as np
import pytest

from gankit.report.judge import Items


def _items(scale_y: float) -> Items:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 5000, 2)) * np.array([10.0, scale_y])
    return Items(kind="points", x=x.astype(np.float32), real=np.array([True, False] * 2), label=np.full(4, -1))


def test_elongated_points_get_each_axis_its_range() -> None:
    (x0, x1), (y0, y1) = _items(1.0).window()          # spreads 10 and 1
    # 0.5 % to 99.5 % of uniform points on [0, 10] x [0, 1], plus 12 % on each side
    assert (x1 - x0) == pytest.approx(1.24 * 9.9, rel=0.01) and (y1 - y0) == pytest.approx(1.24 * 0.99, rel=0.01)
    assert (x0 + x1) / 2 == pytest.approx(5.0, abs=0.05) and (y0 + y1) / 2 == pytest.approx(0.5, abs=0.005)


def test_similar_spreads_keep_a_square_window() -> None:
    (x0, x1), (y0, y1) = _items(6.0).window()          # spreads 10 and 6: equal aspect
    assert (x1 - x0) == pytest.approx(y1 - y0, rel=1e-6) == pytest.approx(1.24 * 9.9, rel=0.01)
    assert (y0 + y1) / 2 == pytest.approx(3.0, abs=0.05)
