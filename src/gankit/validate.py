"""Checks that need more than one config value: the config against the data set and the
recipe built from it. Run by :class:`gankit.training.run.Run` before the first step and
before anything is written, so bad input fails in one line and nothing is created.
"""

from __future__ import annotations

from typing import Any

from gankit.config import Config
from gankit.data.base import DataSource, TensorSource
from gankit.errors import ConfigError


def check_run(cfg: Config, data: DataSource, recipe: Any) -> None:
    """Raise :class:`ConfigError` (one line) if the run cannot train or be evaluated."""
    if isinstance(data, TensorSource) and cfg.train.batch_size > len(data):
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} exceeds the {len(data)} examples of "
                          f"data set {data.name!r}")
