"""What a metric needs of the data set and the model, declared where it is registered:
``METRICS.register("fid", needs=(IMAGES, FEATURES), default_for={"images": 0})``.

:func:`gankit.validate.check_eval` checks every need of every metric a run will compute
before its first step, so a run that cannot be evaluated fails in one line naming the metric
and what it needs; :func:`gankit.metrics.defaults.default_metrics` leaves out a default
whose need the data cannot meet (``Need.default``). A metric with no needs needs nothing
beyond ``eval.num_samples >= 2`` (the config's own bound).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from gankit.capabilities import Classifies, Encodes, FiniteData, Generates, HasCodes, KnownModes
from gankit.data.base import DataSource
from gankit.metrics.defaults import inception_usable


@dataclasses.dataclass(frozen=True)
class Planned:
    """A metric about to be computed, and what its needs are checked against: the data, the
    model (None: samples alone, as in ``gankit eval``'s image files), the model's registry
    name for messages, and the evaluation's settings."""

    metric: str
    data: DataSource
    model: Generates | None = None
    model_name: str = ""
    num_samples: int = 2500
    inception: str | None = None
    fid_reference: str | None = None


@dataclasses.dataclass(frozen=True)
class Need:
    """One requirement of a metric: ``problem`` says what is missing (the end of a sentence
    ``metric 'fid' ...``) or None; ``default``, when given, says whether a metric declared a
    default for the data's kind is one for this data (else it is left out, not refused)."""

    what: str
    problem: Callable[[Planned], str | None]
    default: Callable[[DataSource, str | None, int | None], bool] | None = None


def labelled(data: DataSource) -> bool:
    """Whether ``data`` has labels of at least two classes."""
    return data.y is not None and data.num_classes >= 2


def _known_modes(p: Planned) -> str | None:
    if isinstance(p.data, KnownModes):
        return None
    return f"needs a mixture data set with known modes (ring, grid, mixture1d), not {p.data.name!r}"


def _one_dim(p: Planned) -> str | None:
    if isinstance(p.data, KnownModes) and p.data.dim == 1:
        return None
    return f"needs a 1-D mixture data set (mixture1d), not {p.data.name!r}"


def _enough_rows(p: Planned) -> str | None:
    # energy/mmd draw eval.num_samples examples twice, each time without replacement.
    n, data = p.num_samples, p.data
    if isinstance(data, FiniteData) and n > len(data):
        return (f"draws eval.num_samples={n} examples without replacement, but data set {data.name!r} "
                f"has {len(data)}; lower eval.num_samples")
    return None


def _images(p: Planned) -> str | None:
    return None if p.data.kind == "images" else f"needs image data, not {p.data.name!r} ({p.data.kind})"


def _no_labels(data: DataSource, how: str) -> str:
    return (f"needs class labels to train gankit's feature classifier, and data set {data.name!r} "
            f"has none (a folder needs one subfolder per class); {how}")


def _features(p: Planned) -> str | None:
    if labelled(p.data) or inception_usable(p.data, p.inception, p.num_samples):
        return None
    return _no_labels(p.data, "use Inception features: pip install \"gankit[inception]\" and eval.num_samples >= 2048 "
                              "(as many images), or drop it from eval.metrics")


def _labels(p: Planned) -> str | None:
    return None if labelled(p.data) else _no_labels(p.data, "drop it from eval.metrics")


def _neighbours(p: Planned) -> str | None:
    from gankit.metrics.base import METRICS

    k = METRICS.entry(p.metric).defaults(METRICS.context).get("k")
    data = p.data
    n = min(p.num_samples, len(data)) if isinstance(data, FiniteData) else p.num_samples
    if k is not None and n <= k:
        return f"needs more than its k={k} nearest neighbours: eval.num_samples gives {n} images"
    return None


def _stacked(p: Planned) -> str | None:
    from gankit.data.images import StackedSource

    return None if isinstance(p.data, StackedSource) else f"needs data=stacked, not {p.data.name!r}"


def _encodes(p: Planned) -> str | None:
    if isinstance(p.model, Encodes):
        return None
    return f"needs a model that encodes x into z (model=aae, bigan), not model={p.model_name}"


def _prior_components(p: Planned) -> str | None:
    assert isinstance(p.model, Encodes)  # checked first by ENCODES
    return None if p.model.prior.num_components else "needs a prior with components (mog, swissroll)"


def _component_labels(p: Planned) -> str | None:
    assert isinstance(p.model, Encodes)
    k, data = p.model.prior.num_components, p.data
    if labelled(data) and data.num_classes == k:
        return None
    return f"needs {k} labelled classes, one per prior component; data set {data.name!r} has {data.num_classes}"


def _has_codes(p: Planned) -> str | None:
    if isinstance(p.model, HasCodes):
        return None
    return f"needs an InfoGAN run with a categorical code (model=infogan), not model={p.model_name}"


def _classifies(p: Planned) -> str | None:
    if isinstance(p.model, Classifies):
        return None
    return f"needs a semi-supervised run (model=ssgan or ssaae), not model={p.model_name}"


KNOWN_MODES = Need("a mixture with known modes", _known_modes)
ONE_DIM = Need("one-dimensional data with known modes", _one_dim)
ENOUGH_ROWS = Need("finite data of at least eval.num_samples rows", _enough_rows)
IMAGES = Need("image data", _images)
FEATURES = Need("image features: class labels or Inception", _features,
                default=lambda data, inception, n: bool(data.num_classes) or inception_usable(data, inception, n))
def _inception_covariance(p: Planned) -> str | None:
    # Named Inception weights are used whatever the count (auto falls back to the classifier
    # below 2048): fewer images than features make FID's covariance singular, refused at the
    # end of a run; said here, before its first step.
    if p.inception is None:
        return None
    rows = p.data.x.shape[0] if p.data.x is not None else p.num_samples
    n = min(p.num_samples, rows) if p.fid_reference is None else p.num_samples
    if n >= 2048:
        return None
    return (f"with eval.inception needs at least 2048 images on each side (its 2048 features' covariance), "
            f"but eval.num_samples and the data give {n}: raise eval.num_samples, or drop eval.inception to use "
            "the classifier's features")


INCEPTION_COVARIANCE = Need("2048 images for Inception's covariance", _inception_covariance)
LABELS = Need("class labels", _labels, default=lambda data, inception, n: bool(data.num_classes))
NEIGHBOURS = Need("more samples than the metric's k nearest neighbours", _neighbours)
STACKED = Need("stacked data (data=stacked)", _stacked)
ENCODES = Need("a model that encodes", _encodes)
PRIOR_COMPONENTS = Need("a prior with components", _prior_components)
COMPONENT_LABELS = Need("a labelled class per prior component", _component_labels)
HAS_CODES = Need("a model with codes", _has_codes)
CLASSIFIES = Need("a model that classifies", _classifies)


def problem(p: Planned, needs: tuple[Need, ...]) -> str | None:
    """The first of ``needs`` that ``p`` does not meet, as the end of a sentence, or None."""
    for need in needs:
        found = need.problem(p)
        if found:
            return found
    return None
