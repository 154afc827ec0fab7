"""Checks that need more than one config value: the config against the data set and the
recipe built from it. Run by :class:`gankit.session.run.Run` before the first step and
before anything is written, so bad input fails in one line and nothing is created.

The evaluation is checked here too: a run that trains for an hour and then cannot compute
its metrics (image metrics on a folder without class labels, mode counts on images) is
refused before its first step, with the metric and what it needs named.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from gankit.capabilities import FiniteData, Generates
from gankit.config import Config, check_config
from gankit.data.base import DataSource
from gankit.errors import ConfigError


def check_run(cfg: Config, data: DataSource, recipe: Generates) -> None:
    """Raise :class:`ConfigError` (one line) if the run cannot train or be evaluated."""
    check_config(cfg)  # a Config built or changed in Python skipped build_config (else already checked)
    if isinstance(data, FiniteData) and cfg.train.batch_size > len(data):
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} exceeds the {len(data)} examples of "
                          f"data set {data.name!r}")
    check_eval(cfg, data, recipe)


def check_eval(cfg: Config, data: DataSource, recipe: Generates | None, metrics: Iterable[str] | None = None,
               where: str = "eval.metrics") -> None:
    """Raise :class:`ConfigError` unless every metric of the evaluation (``metrics``, default:
    the ones :meth:`Run.evaluate` would compute) can be computed for this data set and model:
    each need the metric declares where it is registered (:mod:`gankit.metrics.needs`).

    ``where`` names the option that chose the metrics in the message (``--metrics`` for
    ``gankit eval``)."""
    from gankit.metrics import METRICS
    from gankit.metrics.defaults import metrics_to_compute
    from gankit.metrics.needs import Planned, problem

    ev = cfg.eval
    if ev.inception is not None and not Path(ev.inception).expanduser().is_file():
        raise ConfigError(f"eval.inception: TorchScript Inception file {ev.inception} not found")
    names = list(metrics) if metrics is not None else \
        metrics_to_compute(ev.metrics, recipe, data, ev.inception, ev.num_samples)
    for name in names:
        entry = METRICS.entry(name)  # unknown name -> the choices
        planned = Planned(name, data, recipe, cfg.model.name, ev.num_samples, ev.inception, ev.fid_reference)
        found = problem(planned, entry.meta.get("needs", ()))
        if found:
            raise ConfigError(f"{where}: metric {name!r} {found}")


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
