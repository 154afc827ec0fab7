"""The objective interface: pure functions of the critic's outputs.

An :class:`Objective` bundles the discriminator (critic) loss and the generator loss of
one adversarial game. Both are pure functions of the critic's outputs (raw logits for
the classic GAN, unconstrained values ``v`` for f-GAN, scores for WGAN, feature vectors
for MMD-GAN); neither knows about networks or optimisers. Both are *minimised*.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from torch import Tensor

from gankit.registry import Registry

# (real_out, fake_out) -> scalar loss minimised by the discriminator / critic.
DLoss = Callable[[Tensor, Tensor], Tensor]
# (fake_out, real_out) -> scalar loss minimised by the generator.
GLoss = Callable[[Tensor, Tensor], Tensor]


@dataclasses.dataclass(frozen=True)
class Objective:
    """One adversarial game.

    Attributes:
        name: registry name.
        d_loss: ``(real_out, fake_out) -> loss`` minimised by the critic.
        g_loss: ``(fake_out, real_out) -> loss`` minimised by the generator.
        critic_dim: output width the critic must have (1 = one logit per sample).
        learned_critic: False for objectives with no adversary (GMMN: the critic is the identity).
        estimate: optional ``(real_out, fake_out) -> value`` of the divergence the critic
            estimates (logged as ``divergence``), e.g. ``2 JSD - log 4`` for the GAN.
        probability_outputs: True when ``sigmoid(out)`` is D's probability that x is real
            (logged as ``D(x)`` and ``D(G(z))``).
        g_uses_real: True when ``g_loss`` needs the critic's outputs on real data too
            (MMD objectives); otherwise the generator step skips the real forward pass.
        critics: how many separate critic networks produce the ``critic_dim`` outputs
            (D2GAN's two discriminators: 2 networks of one output each, concatenated).
        g_features: True when ``g_loss`` takes D's body features ``D.phi(x)`` ``(B, F)``
            instead of its outputs (feature matching, Salimans et al. 2016).
    """

    name: str
    d_loss: DLoss
    g_loss: GLoss
    critic_dim: int = 1
    learned_critic: bool = True
    estimate: DLoss | None = None
    probability_outputs: bool = False
    g_uses_real: bool = False
    critics: int = 1
    g_features: bool = False


# Factories return an Objective; their keyword arguments are the loss's options.
LOSSES: Registry[Callable[..., Objective]] = Registry("loss")
