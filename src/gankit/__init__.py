"""gankit: generative adversarial networks, every objective checked against the mathematics.

The public API (the CLI uses nothing else)::

    import gankit
    run = gankit.train(overrides=["loss=wgan", "penalty=gp", "train.steps=2000"])
    run.metrics                     # {'modes': 8.0, 'hq_percent': ..., ...}
    run = gankit.resume("runs/gan-ns-ring-...", steps=4000)
    x = gankit.load_run("runs/gan-ns-ring-...").recipe.generate(1000)
    gankit.experiments.run("bilinear-game", eta=0.1)
"""

from __future__ import annotations

from gankit.config import Config, build_config, load_config
from gankit.errors import CheckpointError, ConfigError, DataError, GankitError
from gankit.training import Run, load_run, resume, train

__version__ = "0.1.0"

__all__ = ["CheckpointError", "Config", "ConfigError", "DataError", "GankitError", "Run", "build_config",
           "load_config", "load_run", "resume", "train", "__version__"]


def __getattr__(name: str):  # lazy sub-packages: `gankit.experiments`, `gankit.metrics`, ...
    import importlib

    if name in ("experiments", "metrics", "losses", "networks", "data", "bench", "plotting"):
        return importlib.import_module(f"gankit.{name}")
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")
