"""Instance noise and spectral normalisation: making D smoother so G gets useful gradients.

* Instance noise (Sønderby et al. 2017, "Amortised MAP Inference for Image Super-resolution",
  App. C; Arjovsky & Bottou 2017, "Towards Principled Methods for Training GANs", §3): both
  real and fake inputs of D get ``N(0, sigma_t^2 I)`` noise, which makes the two
  distributions overlap, so the optimal D is no longer a step function with zero gradient.
  ``sigma_t`` is annealed to 0 so that the noise-free distributions are matched in the end:
  ``linear``: ``sigma_t = sigma * max(0, 1 - t / anneal_steps)``; ``constant``: ``sigma_t = sigma``.
* Spectral normalisation (Miyato et al. 2018): every Linear/Conv weight of D divided by its
  largest singular value (one power iteration per step), bounding D's Lipschitz constant.
  The MLP and DCGAN discriminators also take ``spectral_norm=true`` themselves; this
  mitigation applies it to any discriminator.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.mitigations.base import MITIGATIONS, Mitigation
from gankit.registry import Count, NonNegative

SONDERBY = "Sønderby et al. 2017, 'Amortised MAP Inference for Image Super-resolution'; Arjovsky & Bottou 2017"
MIYATO = "Miyato et al. 2018, 'Spectral Normalization for Generative Adversarial Networks'"


class InstanceNoise(Mitigation):
    """Adds annealed Gaussian noise to every input of D (real and fake, in the D and G phases)."""

    name = "instance_noise"

    def __init__(self, sigma: float, anneal_steps: int | None, schedule: str) -> None:
        self.sigma0, self.anneal_steps, self.schedule = sigma, anneal_steps, schedule

    def sigma(self, step: int) -> float:
        """``sigma_t`` at training step ``step``."""
        if self.schedule == "constant":
            return self.sigma0
        total = self.anneal_steps or 1
        return self.sigma0 * max(0.0, 1.0 - step / total)

    def wrap_discriminator(self, D: nn.Module, recipe: Any) -> nn.Module:
        if self.anneal_steps is None:  # default: anneal over the whole run
            self.anneal_steps = recipe.cfg.train.steps
        return D

    def discriminator_input(self, x: Tensor, step: int) -> Tensor:
        s = self.sigma(step)
        return x + s * torch.randn_like(x) if s > 0 else x


class SpectralNorm(Mitigation):
    name = "spectral_norm"

    def wrap_discriminator(self, D: nn.Module, recipe: Any) -> nn.Module:
        from torch.nn.utils import parametrize

        layers = [m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
        if not layers:
            raise ConfigError(f"mitigations.spectral_norm: {type(D).__name__} has no Linear/Conv layer")
        for m in layers:
            if not parametrize.is_parametrized(m, "weight"):
                nn.utils.parametrizations.spectral_norm(m)
        return D


@MITIGATIONS.register("instance_noise", paper=SONDERBY)
def instance_noise(*, sigma: NonNegative = 0.1, anneal_steps: Count | None = None,
                   schedule: Literal["linear", "constant"] = "linear") -> Mitigation:
    """Gaussian noise on D's real and fake inputs, annealed linearly to 0 (default: over train.steps)."""
    return InstanceNoise(sigma, anneal_steps, schedule)


@MITIGATIONS.register("spectral_norm", paper=MIYATO)
def spectral_norm() -> Mitigation:
    """Spectral normalisation of every Linear/Conv layer of D."""
    return SpectralNorm()
