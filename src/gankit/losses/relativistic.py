"""The relativistic pairing GAN (RpGAN) on discriminator logits.

Jolicoeur-Martineau 2019 couples each real sample with a fake one and asks D which of the two
is the real: ``P(x more real than G(z)) = sigmoid(D(x) - D(G(z)))``. Huang et al. 2024 (R3GAN)
show that with both zero-centred gradient penalties (R1 on real, R2 on fake samples) this game
trains stably and, unlike the classic GAN, has no mode-dropping local optima.

Pairs are drawn within the batch: sample ``i`` of the real batch with sample ``i`` of the fake
batch. Both batches are independent draws, so this index pairing is a uniformly random pairing.
Every logarithm is a softplus (``-log sigmoid(t) = softplus(-t)``), finite for any logit.
"""

from __future__ import annotations

from torch import Tensor
import torch.nn.functional as F

from gankit.losses.base import LOSSES, Objective
from gankit.losses.gan import _flat

R3GAN = ("Jolicoeur-Martineau 2019, 'The relativistic discriminator'; Huang et al. 2024, "
         "'The GAN is dead; long live the GAN! A modern baseline' (R3GAN)")


def _paired(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    a, b = _flat(a), _flat(b)
    if a.shape != b.shape:
        raise ValueError(f"relativistic pairing needs as many real as fake outputs, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    return a, b


def relativistic_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``E_i softplus(-(D(x_i) - D(G(z_i))))``: minus the log-probability that each real sample is
    judged more real than its paired fake. ``(B,)`` or ``(B, 1)`` logits; gradient w.r.t.
    ``D(x_i)`` is ``-sigmoid(D(G(z_i)) - D(x_i)) / B``."""
    real, fake = _paired(real_logits, fake_logits)
    return F.softplus(fake - real).mean()


def relativistic_generator_loss(fake_logits: Tensor, real_logits: Tensor) -> Tensor:
    """``E_i softplus(-(D(G(z_i)) - D(x_i)))``: the same game with the roles swapped (G wants each
    fake judged more real than its paired real sample)."""
    fake, real = _paired(fake_logits, real_logits)
    return F.softplus(real - fake).mean()


@LOSSES.register("rpgan", paper=R3GAN)
def rpgan() -> Objective:
    """Relativistic pairing GAN: D minimises softplus(D(G(z)) - D(x)), G minimises
    softplus(D(x) - D(G(z))), pairs drawn within the batch. Use with penalty r1r2 (R3GAN)."""
    return Objective("rpgan", relativistic_discriminator_loss, relativistic_generator_loss, g_uses_real=True)
