"""Benchmarks that print numbers (speed, mode coverage, image quality). Never timed tests.

Each benchmark is a registered function with keyword-only typed options (validated like
every other registry) that prints its table, writes markdown + JSON into an output
folder and returns the rows. ``gankit bench NAME --set key=value`` runs one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from gankit.registry import Registry

BENCHMARKS: Registry[Callable[..., Any]] = Registry("benchmark")

# Modules that register benchmarks; a missing one is simply not offered.
_MODULES = ["gankit.bench.modes", "gankit.bench.speed", "gankit.bench.images", "gankit.bench.objectives",
            "gankit.bench.stacked", "gankit.bench.generalise", "gankit.bench.aux", "gankit.bench.translate",
            "gankit.bench.semisup", "gankit.bench.loader", "gankit.bench.smalldata"]


def load_all() -> Registry[Callable[..., Any]]:
    for name in _MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    return BENCHMARKS
