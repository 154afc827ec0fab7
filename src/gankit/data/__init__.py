"""Data sets: toy distributions with known densities and finite (image) data sets."""

from gankit.data.base import DATASETS, DataSource, TensorSource
from gankit.data import toy  # noqa: F401  (registers ring, grid, mixture1d)
from gankit.data import images  # noqa: F401  (registers digits, mnist, fashion-mnist, folder, npz)
from gankit.data import archive  # noqa: F401  (registers archive: a prepared uint8 .npy)
from gankit.data import points, sklearn_toys  # noqa: F401  (registers points, moons, circles, swissroll, spiral)
from gankit.data import emoji, mnist5k  # noqa: F401  (registers emoji, mnist5k: offline image sets)
from gankit.data import pairs  # noqa: F401  (registers pairs, pair-task, domains, fashion-domains)
from gankit.data.points import PointsSource
from gankit.data.toy import GaussianMixture

__all__ = ["DATASETS", "DataSource", "GaussianMixture", "PointsSource", "TensorSource"]
