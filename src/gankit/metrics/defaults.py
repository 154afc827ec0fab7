"""Which metrics an evaluation computes when ``eval.metrics`` names none.

Each metric says where it is registered which kinds of data it is a default for
(``default_for={"modes": 0}``: the first default of mixtures with known modes); a default
whose declared needs the data cannot meet (:class:`gankit.metrics.needs.Need.default`) is
left out. A recipe's own ``default_metrics`` wins over these (:func:`metrics_to_compute`).
"""

from __future__ import annotations

from gankit.capabilities import Generates, KnownModes
from gankit.data.base import DataSource
from gankit.metrics.base import METRICS

# The kinds of data that metrics declare themselves defaults for.
DEFAULT_KINDS = ("images", "1d", "modes", "points")


def inception_usable(data: DataSource, inception: str | None, num_samples: int | None) -> bool:
    """Whether image metrics can use Inception features: weights given or installed
    (``gankit[inception]``) and at least 2048 images on each side (FID's covariance)."""
    from gankit.metrics import inception as inc

    if inception is not None:
        return True
    found = inc.find_weights(None)
    n = num_samples if num_samples is not None else 0
    n = min(n, data.x.shape[0]) if data.x is not None else n
    return found is not None and found.is_file() and n >= inc.FEATURE_DIM


def default_kind(data: DataSource) -> str:
    """The kind of ``data`` for defaults: images, a 1-D mixture, a mixture with known modes,
    or other points (no known modes)."""
    if data.kind == "images":
        return "images"
    if isinstance(data, KnownModes):
        return "1d" if data.dim == 1 else "modes"
    return "points"


def default_metrics(data: DataSource, inception: str | None = None, num_samples: int | None = None) -> list[str]:
    """The metrics declared defaults for ``data``'s kind, in their declared order, less those
    whose needs the data cannot meet (image metrics without labels or Inception features)."""
    kind = default_kind(data)
    chosen = []
    for entry in METRICS:
        position = entry.meta.get("default_for", {}).get(kind)
        if position is None:
            continue
        if all(need.default is None or need.default(data, inception, num_samples)
               for need in entry.meta.get("needs", ())):
            chosen.append((position, entry.name))
    return [name for _, name in sorted(chosen)]


def metrics_to_compute(chosen: list[str] | None, recipe: Generates | None, data: DataSource,
                       inception: str | None, num_samples: int | None) -> list[str]:
    """``eval.metrics`` when given (``[]``: none), else the recipe's declared
    ``default_metrics``, else the data's defaults."""
    if chosen is not None:
        return list(chosen)
    own = recipe.default_metrics if recipe is not None else None
    return list(own or default_metrics(data, inception, num_samples))
