"""gankit: generative adversarial networks, every objective checked against the mathematics.

The public API (``gankit train`` and ``gankit resume`` call the same functions)::

    import gankit
    run = gankit.train(overrides=["loss=wgan", "penalty=gp", "train.steps=2000"])
    run.metrics                     # {'modes': 8.0, 'hq_percent': ..., ...}
    run = gankit.resume("runs/gan-ns-ring-...", steps=4000)
    x = gankit.load_run("runs/gan-ns-ring-...").recipe.generate(1000)
    gankit.experiments.run("bilinear-game", eta=0.1)
"""

from __future__ import annotations

import os as _os

# OpenMP threads that wait for work sleep instead of spinning (read once, when torch's
# OpenMP runtime starts, so only if gankit is imported before torch): a spinning thread on a
# shared machine takes a core from the thread it waits for. Set OMP_WAIT_POLICY to override.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from gankit.errors import CheckpointError, ConfigError, DataError, GankitError  # noqa: E402

# The API that needs torch loads on first use, so that `import gankit.cli.main` is instant and
# the command line's Ctrl-C handler is in place before torch starts loading.
_LAZY = {"Config": "gankit.config", "build_config": "gankit.config", "load_config": "gankit.config",
         "Run": "gankit.session", "load_run": "gankit.session", "resume": "gankit.session",
         "train": "gankit.session"}

__version__ = "0.1.0"

__all__ = ["CheckpointError", "Config", "ConfigError", "DataError", "GankitError", "Run", "build_config",
           "load_config", "load_run", "resume", "train", "__version__"]


def __getattr__(name: str):  # lazy sub-packages: `gankit.experiments`, `gankit.metrics`, ...
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"gankit.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"gankit.{name}":
                raise
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")
