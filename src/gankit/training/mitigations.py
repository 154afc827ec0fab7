"""Mode-collapse mitigations as hooks into the GAN recipe (no copied loops).

A mitigation is a registered factory returning a :class:`Mitigation`; its keyword options
are user options (``mitigations.pack.m=4``). The recipe calls every hook in order; each
default leaves things unchanged. Implementations live in :mod:`gankit.mitigations`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from gankit.registry import Registry

CriticFn = Callable[[Tensor, Tensor | None], Tensor]


class Mitigation:
    """Hook points. ``recipe`` is the :class:`gankit.training.gan.GANRecipe` being built."""

    name: str = ""

    def wrap_discriminator(self, D: nn.Module, recipe: Any) -> nn.Module:
        """Return the discriminator the game uses (e.g. packing, minibatch features)."""
        return D

    def discriminator_input(self, x: Tensor, step: int) -> Tensor:
        """Transform every input to D, real and fake alike (e.g. instance noise at ``step``)."""
        return x

    def generator_critic(self, critic: CriticFn, recipe: Any) -> CriticFn:
        """The critic the generator's loss sees (e.g. an unrolled copy of D)."""
        return critic

    def batch_multiple(self) -> int:
        """The batch size must be a multiple of this (packing)."""
        return 1

    def wrap_generator(self, G: nn.Module, recipe: Any) -> nn.Module:
        """Return the generator the game trains (e.g. MGAN's K generators sharing weights)."""
        return G

    def d_extra_loss(self, recipe: Any, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor | None:
        """A term added to the discriminator phase's loss (e.g. MGAN's classifier), or None."""
        return None

    def g_extra_loss(self, recipe: Any, fake: Tensor, y: Tensor | None, z: Tensor) -> Tensor | None:
        """A term added to the generator phase's loss (MGAN's diversity term, BourGAN's
        distance preservation between latents ``z`` and their images ``fake``), or None."""
        return None

    def wrap_prior(self, prior: Any, recipe: Any) -> Any:
        """Return the latent distribution the generator is fed (e.g. BourGAN's data-derived mixture)."""
        return prior


MITIGATIONS: Registry[Callable[..., Mitigation]] = Registry("mitigation")
