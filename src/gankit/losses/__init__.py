"""Adversarial objectives and penalties, as pure functions of critic outputs."""

from gankit.losses.base import LOSSES, Objective
from gankit.losses import gan  # noqa: F401  (registers the classic GAN losses)
from gankit.losses.fdiv import DIVERGENCES, FDivergence, get_divergence  # registers fgan
from gankit.losses.wasserstein import PRESETS as WGAN_PRESETS  # registers wgan
from gankit.losses.mmd import mmd2_biased, mmd2_unbiased  # registers gmmn, mmd-gan
from gankit.losses import d2gan  # noqa: F401  (registers d2gan)
from gankit.losses import relativistic  # noqa: F401  (registers rpgan)
from gankit.losses.penalties import PENALTIES, Penalty  # gp, r1, r2, r1r2, clip

__all__ = ["LOSSES", "Objective", "DIVERGENCES", "FDivergence", "get_divergence", "WGAN_PRESETS",
           "mmd2_biased", "mmd2_unbiased", "PENALTIES", "Penalty"]
