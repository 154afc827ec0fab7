"""Adversarial objectives and penalties, as pure functions of critic outputs."""

from gankit.losses.base import LOSSES, Objective
from gankit.losses import gan  # noqa: F401  (registers the classic GAN losses)

__all__ = ["LOSSES", "Objective"]
