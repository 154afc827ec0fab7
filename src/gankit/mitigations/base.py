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
    """Hook points. ``recipe`` is the :class:`gankit.recipes.gan.GANRecipe` being built."""

    name: str = ""

    def wrap_discriminator(self, D: nn.Module, recipe: Any) -> nn.Module:
        """Return the discriminator the game uses (e.g. packing, minibatch features)."""
        return D

    def discriminator_input(self, x: Tensor, step: int) -> Tensor:
        """Transform every input to D, real and fake alike (e.g. instance noise at ``step``)."""
        return x

    def observe_critic(self, real_out: Tensor, fake_out: Tensor) -> None:
        """Sees D's outputs on the real and fake batch of each D step, detached (ADA's
        overfitting heuristic). Must not synchronise with the device."""

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

    def build(self, recipe: Any) -> None:
        """Build the mitigation's own networks (:meth:`modules`) once G, D and the prior are built."""

    def modules(self) -> dict[str, nn.Module]:
        """Networks of the mitigation's own, saved and restored with the run (e.g. DRS's critic)."""
        return {}

    def after_training(self, recipe: Any) -> None:
        """Called once the run has reached its planned end, before the final checkpoint."""

    def keep(self, recipe: Any, x: Tensor, y: Tensor | None, generator: Any) -> Tensor | None:
        """Which generated samples ``x`` (as the game sees them) to keep when sampling: a
        ``(B,)`` bool mask (e.g. rejection sampling), or None for all."""
        return None


MITIGATIONS: Registry[Callable[..., Mitigation]] = Registry("mitigation")
