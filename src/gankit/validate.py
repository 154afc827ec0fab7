"""Checks that need more than one config value: the config against the data set and the
recipe built from it. Run by :class:`gankit.training.run.Run` before the first step and
before anything is written, so bad input fails in one line and nothing is created.

The evaluation is checked here too: a run that trains for an hour and then cannot compute
its metrics (image metrics on a folder without class labels, mode counts on images) is
refused before its first step, with the metric and what it needs named.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gankit.config import Config, check_config
from gankit.data.base import DataSource, TensorSource
from gankit.errors import ConfigError


def check_run(cfg: Config, data: DataSource, recipe: Any) -> None:
    """Raise :class:`ConfigError` (one line) if the run cannot train or be evaluated."""
    check_config(cfg)  # again: a Config built or changed in Python skipped build_config
    if isinstance(data, TensorSource) and cfg.train.batch_size > len(data):
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} exceeds the {len(data)} examples of "
                          f"data set {data.name!r}")
    check_eval(cfg, data, recipe)


def check_eval(cfg: Config, data: DataSource, recipe: Any, metrics: Iterable[str] | None = None,
               where: str = "eval.metrics") -> None:
    """Raise :class:`ConfigError` unless every metric of the evaluation (``metrics``, default:
    the ones :meth:`Run.evaluate` would compute) can be computed for this data set and model.

    ``where`` names the option that chose the metrics in the message (``--metrics`` for
    ``gankit eval``)."""
    from gankit.metrics import METRICS
    from gankit.training.run import default_metrics

    ev = cfg.eval
    if ev.inception is not None and not Path(ev.inception).expanduser().is_file():
        raise ConfigError(f"eval.inception: TorchScript Inception file {ev.inception} not found")
    names = list(metrics) if metrics is not None else (
        ev.metrics or getattr(recipe, "default_metrics", None) or default_metrics(data, ev.inception, ev.num_samples))
    for name in names:
        METRICS.entry(name)  # unknown name -> the choices
        need = METRIC_NEEDS.get(name)
        problem = need(cfg, data, recipe, name) if need is not None else None
        if problem:
            raise ConfigError(f"{where}: metric {name!r} {problem}")


def _labelled(data: DataSource) -> bool:
    return getattr(data, "y", None) is not None and data.num_classes >= 2


def _mixture(cfg: Config, data: DataSource, recipe: Any, name: str) -> str | None:
    if not hasattr(data, "means"):
        return f"needs a mixture data set with known modes (ring, grid, mixture1d), not {data.name!r}"
    return None


def _one_dim(cfg: Config, data: DataSource, recipe: Any, name: str) -> str | None:
    if getattr(data, "dim", None) != 1:
        return f"needs a 1-D mixture data set (mixture1d), not {data.name!r}"
    return None


def _two_sample(cfg: Config, data: DataSource, recipe: Any, name: str) -> str | None:
    # energy/mmd draw eval.num_samples examples twice, each time without replacement.
    n = cfg.eval.num_samples
    if isinstance(data, TensorSource) and n > len(data):
        return (f"draws eval.num_samples={n} examples without replacement, but data set {data.name!r} "
                f"has {len(data)}; lower eval.num_samples")
    return None


def _image_features(cfg: Config, data: DataSource, recipe: Any, name: str) -> str | None:
    if data.kind != "images":
        return f"needs image data, not {data.name!r} ({data.kind})"
    from gankit.training.run import inception_usable

    if (name == "classes" or not inception_usable(data, cfg.eval.inception, cfg.eval.num_samples)) \
            and not _labelled(data):
        how = "drop it from eval.metrics" if name == "classes" else \
            ("use Inception features: pip install \"gankit[inception]\" and eval.num_samples >= 2048 "
             "(as many images), or drop it from eval.metrics")
        return (f"needs class labels to train gankit's feature classifier, and data set {data.name!r} "
                f"has none (a folder needs one subfolder per class); {how}")
    from gankit.metrics import METRICS

    k = METRICS.entry(name).defaults(METRICS.context).get("k")
    n = min(cfg.eval.num_samples, len(data)) if isinstance(data, TensorSource) else cfg.eval.num_samples
    if k is not None and n <= k:
        return f"needs more than its k={k} nearest neighbours: eval.num_samples gives {n} images"
    return None


def _stacked(cfg: Config, data: DataSource, recipe: Any, name: str) -> str | None:
    from gankit.data.images import StackedSource

    return None if isinstance(data, StackedSource) else f"needs data=stacked, not {data.name!r}"


def _autoencoder(cfg: Config, data: DataSource, recipe: Any, name: str) -> str | None:
    if not hasattr(recipe, "encode"):
        return f"needs an adversarial autoencoder (model=aae), not model={cfg.model.name}"
    if name == "latent_components":
        k = getattr(getattr(recipe, "prior", None), "num_components", 0)
        if not k:
            return "needs a prior with components (mog, swissroll)"
        if not _labelled(data) or data.num_classes != k:
            return f"needs {k} labelled classes, one per prior component; data set {data.name!r} has {data.num_classes}"
    return None


def _info_codes(cfg: Config, data: DataSource, recipe: Any, name: str) -> str | None:
    if getattr(recipe, "codes", None) is None:
        return f"needs an InfoGAN run with a categorical code (model=infogan), not model={cfg.model.name}"
    return None


def _semisupervised(cfg: Config, data: DataSource, recipe: Any, name: str) -> str | None:
    if not (hasattr(recipe, "classify") and hasattr(recipe, "test")):
        return f"needs a semi-supervised run (model=ssgan or ssaae), not model={cfg.model.name}"
    return None


# What each metric needs of the data set and the model; a metric not listed needs nothing
# beyond eval.num_samples >= 2 (the config's own bound).
METRIC_NEEDS: dict[str, Callable[[Config, DataSource, Any, str], str | None]] = {
    "modes": _mixture,
    "jsd1d": _one_dim,
    "energy": _two_sample,
    "mmd": _two_sample,
    "fid": _image_features,
    "kid": _image_features,
    "pr": _image_features,
    "dc": _image_features,
    "classes": _image_features,
    "stacked_modes": _stacked,
    "recon": _autoencoder,
    "latent_mmd": _autoencoder,
    "latent_components": _autoencoder,
    "codes": _info_codes,
    "test_error": _semisupervised,
}


def check_output_file(path: str | Path, option: str, suffixes: Iterable[str]) -> Path:
    """``path`` as a file a command may write, checked before any work is done: the right
    suffix, not a directory, and the nearest existing ancestor a writable directory (so a
    typo fails in one line instead of after generating, and creates no folders)."""
    p = Path(path)
    allowed = tuple(suffixes)
    if p.suffix.lower() not in allowed:
        raise ConfigError(f"{option} must end in {', '.join(allowed[:-1])}{' or ' if len(allowed) > 1 else ''}"
                          f"{allowed[-1]}, got {p.name!r}")
    if p.is_dir():
        raise ConfigError(f"{option} {p} is a directory")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {p}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {p}: directory {parent} is not writable")
    return p
