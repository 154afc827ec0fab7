"""moons, circles, swissroll, spiral: finite samples drawn once from a seed, equal to the
generators they name (scikit-learn's, or the spiral's own formula), with a held-out split."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import datasets as skd

from gankit.config import build_config
from gankit.data import DATASETS
from gankit.errors import ConfigError
from gankit.metrics.defaults import default_metrics


def _sorted_rows(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    a = x if y is None else np.c_[x, y]
    return a[np.lexsort(a.T[::-1])]


def _union(src) -> tuple[np.ndarray, np.ndarray | None]:
    x = torch.cat([src.x, src.test_x]).double().numpy()
    y = None if src.y is None else torch.cat([src.y, src.test_y]).numpy()
    return x, y


@pytest.mark.parametrize("name, make, options", [
    ("moons", lambda: skd.make_moons(n_samples=500, noise=0.1, random_state=4), {"noise": 0.1}),
    ("circles", lambda: skd.make_circles(n_samples=500, noise=0.02, factor=0.3, random_state=4),
     {"noise": 0.02, "factor": 0.3}),
    ("swissroll", lambda: (skd.make_swiss_roll(n_samples=500, noise=0.5, random_state=4)[0][:, [0, 2]], None), {}),
])
def test_the_points_are_scikit_learn_s(name, make, options):
    src = DATASETS.build(name, {"n": 500, "seed": 4, **options})
    x_ref, y_ref = make()
    x, y = _union(src)
    np.testing.assert_allclose(_sorted_rows(x, y), _sorted_rows(x_ref.astype(np.float32).astype(np.float64), y_ref))
    assert (len(src), len(src.test_x), src.kind, src.shape) == (450, 50, "points", (2,))
    assert src.num_classes == (0 if y_ref is None else 2)
    again = DATASETS.build(name, {"n": 500, "seed": 4, **options})
    torch.testing.assert_close(again.x, src.x)
    other = DATASETS.build(name, {"n": 500, "seed": 5, **options})
    assert not torch.equal(other.x, src.x)


def test_spiral_points_lie_on_their_arm():
    arms, turns = 3, 2.0
    src = DATASETS.build("spiral", {"n": 3000, "arms": arms, "turns": turns, "noise": 0.0})
    x, arm = _union(src)
    r = np.hypot(x[:, 0], x[:, 1])
    angle = np.arctan2(x[:, 1], x[:, 0])
    # angle = 2 pi (turns r + k / arms) modulo 2 pi
    want = 2 * math.pi * (turns * r + arm / arms)
    gap = np.angle(np.exp(1j * (angle - want)))
    np.testing.assert_allclose(gap, 0, atol=1e-5)
    assert np.bincount(arm).tolist() == [1000] * 3 and src.class_names == ["arm 0", "arm 1", "arm 2"]
    assert 0 <= r.min() and r.max() <= 1
    # r = t ~ U(0, 1): the radii's mean and variance are those of the uniform
    assert abs(r.mean() - 0.5) < 4 * math.sqrt(1 / 12 / 3000)
    noisy = DATASETS.build("spiral", {"n": 3000, "arms": arms, "turns": turns, "noise": 0.05})
    res = _union(noisy)[0] - x  # the same t and arms, plus N(0, 0.05^2) per coordinate
    assert abs(res.std() - 0.05) < 0.003 and abs(res.mean()) < 0.003


def test_toy_sets_are_scored_by_the_two_sample_metric():
    for name in ("moons", "circles", "swissroll", "spiral"):
        assert default_metrics(DATASETS.build(name, {"n": 100})) == ["twosample"]
    assert default_metrics(DATASETS.build("ring", {})) == ["modes", "energy"]


@pytest.mark.parametrize("section, message", [
    ({"name": "moons", "n": 3}, "data.n must be in [4, 10000000], got 3"),
    ({"name": "moons", "n": 10**9}, "data.n must be in [4, 10000000]"),
    ({"name": "moons", "noise": -0.1}, "data.noise must be >= 0, got -0.1"),
    ({"name": "circles", "factor": 1.0}, "data.factor must be in (0, 1), got 1"),
    ({"name": "swissroll", "seed": -2}, "data.seed must be in [0, 4294967295]"),
    ({"name": "spiral", "arms": 0}, "data.arms must be in [1, 100], got 0"),
    ({"name": "spiral", "turns": 0}, "data.turns must be > 0, got 0"),
    ({"name": "spiral", "test_fraction": 1}, "data.test_fraction must be in [0, 1), got 1"),
])
def test_options_are_checked(section, message):
    with pytest.raises(ConfigError) as e:
        build_config({"data": section})
    assert message in str(e.value)
