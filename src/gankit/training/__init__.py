"""Training: the one loop (phases), recipes that build them, runs and checkpoints."""

from gankit.training.loop import EMA, Phase, Trainer, make_optimizer
from gankit.training.run import RECIPES, Run, load_run, resume, train

import gankit.mitigations  # noqa: E402,F401  (registers the mitigations)

__all__ = ["EMA", "Phase", "RECIPES", "Run", "Trainer", "load_run", "make_optimizer", "resume", "train"]
