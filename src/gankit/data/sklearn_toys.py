"""The common 2-D toy sets by name: ``moons``, ``circles``, ``swissroll``, ``spiral``.

Each is a finite sample of ``n`` points drawn once from ``seed`` (scikit-learn's generators
for the first three, a seeded numpy generator for the spiral), held as a
:class:`~gankit.data.points.PointsSource` with the same seeded test split as a points file
(``test_fraction``, 10 %). They have no known modes, so a run on them is scored by the
``twosample`` metric (energy distance and MMD² to the held-out points, each next to the
training split's own value). Coordinates are in the generators' units (the swiss roll spans
about [-10, 13]); the ``default`` preset's ``train.standardize=true`` trains on standardised
points and samples back in these units.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np

from gankit.data.base import DATASETS
from gankit.data.points import PointsSource, split_points
from gankit.registry import Bounds, Fraction, NonNegative, Positive, Seed

MAX_POINTS = 10_000_000  # 80 MB of float32 pairs; a typo such as n=1e12 is refused, not allocated
Size = Annotated[int, Bounds(ge=4, le=MAX_POINTS)]
Arms = Annotated[int, Bounds(ge=1, le=100)]


def _source(x: np.ndarray, y: np.ndarray | None, names: list[str], name: str, test_fraction: float,
            seed: int) -> PointsSource:
    # the split's seed is the data's own: one seed reproduces the points and their split
    return split_points(x, None if y is None else y.astype(np.int64), names, name=name,
                        test_fraction=test_fraction, seed=seed, where=f"data={name}")


@DATASETS.register("moons", paper="scikit-learn make_moons (Pedregosa et al. 2011)")
def moons(*, n: Size = 10_000, noise: NonNegative = 0.05, seed: Seed = 0,
          test_fraction: Fraction = 0.1) -> PointsSource:
    """Two interleaving half circles (sklearn make_moons), labels 0 upper / 1 lower.

    ``n``: points drawn once (10 % of them held out for the metrics); ``noise``: the standard
    deviation of the Gaussian noise added to each coordinate; ``seed``: the seed of the points and
    of the held-out split; ``test_fraction``: the share of points held out."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return _source(x, y, ["upper", "lower"], "moons", test_fraction, seed)


@DATASETS.register("circles", paper="scikit-learn make_circles (Pedregosa et al. 2011)")
def circles(*, n: Size = 10_000, noise: NonNegative = 0.05,
            factor: Annotated[float, Bounds(gt=0, lt=1)] = 0.5, seed: Seed = 0,
            test_fraction: Fraction = 0.1) -> PointsSource:
    """Two concentric circles, radii 1 and ``factor`` (sklearn make_circles), labels 0 outer / 1 inner.

    ``n``: points drawn once (10 % of them held out for the metrics); ``noise``: the standard
    deviation of the Gaussian noise added to each coordinate; ``seed``: the seed of the points and
    of the held-out split; ``test_fraction``: the share of points held out; ``factor``: the inner circle's radius (the outer one's is 1)."""
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    return _source(x, y, ["outer", "inner"], "circles", test_fraction, seed)


@DATASETS.register("swissroll", paper="scikit-learn make_swiss_roll (Marsland 2009)")
def swissroll(*, n: Size = 10_000, noise: NonNegative = 0.5, seed: Seed = 0,
              test_fraction: Fraction = 0.1) -> PointsSource:
    """The swiss roll's 2-D spiral: columns x and z of sklearn make_swiss_roll (t cos t, t sin t).

    ``n``: points drawn once (10 % of them held out for the metrics); ``noise``: the standard
    deviation of the Gaussian noise added to each coordinate; ``seed``: the seed of the points and
    of the held-out split; ``test_fraction``: the share of points held out."""
    from sklearn.datasets import make_swiss_roll

    x3, _ = make_swiss_roll(n_samples=n, noise=noise, random_state=seed)
    return _source(x3[:, [0, 2]], None, [], "swissroll", test_fraction, seed)


def spiral_points(n: int, *, arms: int, turns: float, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``arms`` interleaved Archimedean spirals: point ``i`` on arm ``k`` at ``r = t``,
    ``angle = 2 pi (turns t + k / arms)`` with ``t ~ U(0, 1)``, plus ``N(0, noise^2 I)``.
    Arms get ``n // arms`` points (the first ``n % arms`` one more). Returns ``x (n, 2)``, arm ``(n,)``."""
    rng = np.random.default_rng(seed)
    arm = np.arange(n) % arms
    t = rng.uniform(0.0, 1.0, n)
    angle = 2 * math.pi * (turns * t + arm / arms)
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) + noise * rng.standard_normal((n, 2))
    return x, arm


@DATASETS.register("spiral")
def spiral(*, n: Size = 10_000, arms: Arms = 2, turns: Positive = 1.5, noise: NonNegative = 0.02,
           seed: Seed = 0, test_fraction: Fraction = 0.1) -> PointsSource:
    """Interleaved 2-D spirals (r = t, angle 2 pi (turns t + k/arms)), one label per arm.

    ``n``: points drawn once (10 % of them held out for the metrics); ``noise``: the standard
    deviation of the Gaussian noise added to each coordinate; ``seed``: the seed of the points and
    of the held-out split; ``test_fraction``: the share of points held out; ``arms``: the number of spirals, one label each; ``turns``: the turns each arm makes
    from the centre to radius 1."""
    x, arm = spiral_points(n, arms=arms, turns=turns, noise=noise, seed=seed)
    return _source(x, arm, [f"arm {k}" for k in range(arms)], "spiral", test_fraction, seed)
