"""Seeded families of point files shaped like the ones users bring (``gankit bench generalise --set family=users``).

Users' point files are small, elongated, non-Gaussian and 2- to 10-D, in their own units; the
default recipe was chosen on 2-D Gaussian mixtures of 100,000 points. A member of the
``users`` family is such a file: 2,000-7,000 rows, 2-10 columns, 2-6 clusters of unequal
weights, each with its own rotated, anisotropic spread (axis lengths differing by a factor
3-10) and its own shape (Gaussian, a curved banana, uniform in a box, or heavy-tailed
Student t with 3 degrees of freedom; the first cluster is never Gaussian), every column then in
its own units (a scale log-uniform in [0.1, 1000] and an offset). It is written as a ``.npy``
(even members) or ``.csv`` (odd members) file that ``data=points:PATH`` reads, so a bench run
is exactly what a user's file gets, held-out split included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROWS = (2000, 7000)
DIMS = (2, 10)
CLUSTERS = (2, 6)
ANISOTROPY = (3.0, 10.0)  # longest over shortest axis of a cluster's spread, before its units
UNITS = (0.1, 1000.0)
SHAPES = ("gaussian", "banana", "box", "student-t")


@dataclass
class UsersMember:
    """One member: the points ``x (N, d)`` in their units, which cluster each row came from
    (``labels``, not written to the file), the clusters' shapes, weights and designed
    anisotropy, and the per-column ``scales`` and ``offsets`` that put the points in units
    (``x = z * scales + offsets`` with ``z`` the points before their units)."""

    x: np.ndarray
    labels: np.ndarray
    shapes: list[str]
    weights: np.ndarray
    anisotropy: np.ndarray
    scales: np.ndarray
    offsets: np.ndarray
    suffix: str = field(default=".npy")


def _rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A uniformly random orthogonal matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def _cluster(rng: np.random.Generator, shape: str, n: int, axes: np.ndarray) -> np.ndarray:
    """``n`` points of one cluster, centred, along the coordinate axes with lengths ``axes``."""
    d = axes.shape[0]
    if shape == "gaussian":
        return rng.normal(size=(n, d)) * axes
    if shape == "box":  # uniform in a box, scaled to the Gaussian's variance per axis
        return rng.uniform(-np.sqrt(3), np.sqrt(3), size=(n, d)) * axes
    if shape == "student-t":  # multivariate t, 3 degrees of freedom: one radial factor per row
        return rng.normal(size=(n, d)) * axes / np.sqrt(rng.chisquare(3, size=(n, 1)) / 3)
    # banana: the second axis bent by a parabola of the first (bend of one shortest axis length)
    z = rng.normal(size=(n, d)) * axes
    z[:, 1] += axes[1] * (z[:, 0] ** 2 / axes[0] ** 2 - 1)
    return z


def users_member(seed: int) -> UsersMember:
    """The member of the ``users`` family drawn from ``seed`` (the same seed, the same points)."""
    rng = np.random.default_rng([20_251, seed])
    n = int(rng.integers(ROWS[0], ROWS[1] + 1))
    d = int(rng.integers(DIMS[0], DIMS[1] + 1))
    k = int(rng.integers(CLUSTERS[0], CLUSTERS[1] + 1))
    weights = np.maximum(rng.dirichlet(np.ones(k)), 0.3 / k)
    weights /= weights.sum()
    counts = np.floor(weights * n).astype(int)
    counts[: n - counts.sum()] += 1
    shapes = [str(rng.choice(SHAPES[1:]))] + [str(rng.choice(SHAPES)) for _ in range(k - 1)]
    ratios = rng.uniform(*ANISOTROPY, size=k)
    parts, labels = [], []
    for j in range(k):
        longest = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
        # axis lengths from the longest down to longest / ratio, the rest log-uniform in between
        axes = longest * np.exp(-rng.uniform(0, np.log(ratios[j]), size=d))
        axes[0], axes[1] = longest, longest / ratios[j]
        centre = rng.normal(scale=4.0, size=d)
        parts.append(_cluster(rng, shapes[j], int(counts[j]), axes) @ _rotation(rng, d).T + centre)
        labels.append(np.full(int(counts[j]), j))
    order = rng.permutation(n)
    z = np.concatenate(parts)[order]
    scales = np.exp(rng.uniform(np.log(UNITS[0]), np.log(UNITS[1]), size=d))
    offsets = rng.normal(scale=3.0, size=d) * scales
    return UsersMember(x=z * scales + offsets, labels=np.concatenate(labels)[order], shapes=shapes,
                       weights=counts / n, anisotropy=ratios, scales=scales, offsets=offsets,
                       suffix=".npy" if seed % 2 == 0 else ".csv")


def write_users_member(seed: int, directory: str | Path) -> Path:
    """Write member ``seed`` to ``directory/users-<seed>.npy`` (even seeds) or ``.csv`` with a
    header row (odd seeds), as a user would, and return the path."""
    m = users_member(seed)
    path = Path(directory) / f"users-{seed}{m.suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if m.suffix == ".npy":
        np.save(path, m.x)
    else:
        header = ",".join(f"x{i}" for i in range(m.x.shape[1]))
        np.savetxt(path, m.x, delimiter=",", header=header, comments="", fmt="%.9g")
    return path
