"""Critic regularisers, separate from the objectives: ``(critic, real, fake) -> scalar``.

Registered in :data:`PENALTIES`; a penalty either adds a term to the critic's loss
(``loss``) or acts on the critic after each optimiser step (``after_step``, e.g. weight
clipping). ``critic`` is any callable ``x -> outputs``: the training loop closes it over
the class labels for conditional models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import Tensor, nn

from gankit.registry import Count, NonNegative, Positive, Registry

Critic = Callable[[Tensor], Tensor]


@dataclasses.dataclass(frozen=True)
class Penalty:
    name: str
    loss: Callable[[Critic, Tensor, Tensor], Tensor] | None = None   # added to the critic's loss
    after_step: Callable[[nn.Module], None] | None = None            # applied to D after its step
    every: int = 1                                                   # lazy regularisation interval


PENALTIES: Registry[Callable[..., Penalty]] = Registry("penalty")


@PENALTIES.register("none")
def no_penalty() -> Penalty:
    """No regulariser."""
    return Penalty("none")


# --------------------------------------------------------------------------- gradient penalties


def input_gradients(critic: Critic, x: Tensor) -> Tensor:
    """``grad_x sum_i critic(x)_i``, shape ``(B, *x.shape[1:])``, kept in the graph.

    Because the samples of a batch do not interact in a critic without batch norm, row ``i``
    is the gradient of sample ``i``'s own output (WGAN-GP's critic has no batch norm for
    this reason). For a vector-valued critic the outputs of a sample are summed.
    """
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad


def per_sample_norm(grad: Tensor) -> Tensor:
    """Euclidean norm of each sample's gradient over ALL non-batch dims: ``(B, ...) -> (B,)``.

    The 1e-12 keeps the norm differentiable where a gradient vanishes exactly (a dead
    ReLU region), where ``d||g||/dg`` is 0/0.
    """
    return torch.sqrt(grad.flatten(1).pow(2).sum(dim=1) + 1e-12)


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor, *, weight: float = 10.0,
                     center: float = 1.0, alpha: Tensor | None = None) -> Tensor:
    """WGAN-GP: ``weight * E[(||grad_x D(x_hat)|| - center)^2]`` (Gulrajani et al. 2017).

    ``x_hat = alpha real + (1 - alpha) fake`` with ``alpha ~ U(0, 1)`` per sample, shape
    ``(B,)``; ``real``, ``fake``: ``(B, ...)`` of any shape (points, images with any channel
    count). The norm is per sample over all non-batch dimensions, never over the batch or
    over channels only.
    """
    if alpha is None:
        alpha = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    a = alpha.view(-1, *([1] * (real.dim() - 1)))                   # (B, 1, ..., 1)
    x_hat = a * real.detach() + (1.0 - a) * fake.detach()
    norms = per_sample_norm(input_gradients(critic, x_hat))         # (B,)
    return weight * ((norms - center) ** 2).mean()


def r1_penalty(critic: Critic, real: Tensor, *, gamma: float = 10.0) -> Tensor:
    """R1: ``gamma/2 * E_real ||grad_x D(x)||^2`` (Mescheder et al. 2018); ``real`` is ``(B, ...)``."""
    grad = input_gradients(critic, real)
    return 0.5 * gamma * grad.flatten(1).pow(2).sum(dim=1).mean()


def r2_penalty(critic: Critic, fake: Tensor, *, gamma: float = 10.0) -> Tensor:
    """R2: ``gamma/2 * E_fake ||grad_x D(x)||^2``, R1's zero-centred penalty on generated samples
    (Mescheder et al. 2018; Huang et al. 2024). ``fake`` is ``(B, ...)``, detached here: the
    penalty trains D only."""
    grad = input_gradients(critic, fake)
    return 0.5 * gamma * grad.flatten(1).pow(2).sum(dim=1).mean()


@PENALTIES.register("gp", paper="Gulrajani et al. 2017, 'Improved Training of Wasserstein GANs'")
def gp(*, weight: NonNegative = 10.0, center: NonNegative = 1.0) -> Penalty:
    """WGAN-GP two-sided gradient penalty at random interpolates of real and fake."""

    def loss(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return gradient_penalty(critic, real, fake, weight=weight, center=center)

    return Penalty("gp", loss=loss)


@PENALTIES.register("r1", paper="Mescheder et al. 2018, 'Which Training Methods for GANs do actually Converge?'")
def r1(*, gamma: NonNegative = 10.0, every: Count = 1) -> Penalty:
    """R1 gradient penalty on real data; lazy (every k critic steps) as in StyleGAN2.

    Applied every ``k`` steps it is multiplied by ``k`` so its average strength is unchanged
    (Karras et al. 2020); the matching Adam rescaling is the training loop's business.
    """

    def loss(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return every * r1_penalty(critic, real, gamma=gamma)

    return Penalty("r1", loss=loss, every=every)


@PENALTIES.register("r2", paper="Mescheder et al. 2018; Huang et al. 2024, 'The GAN is dead; long live the GAN!'")
def r2(*, gamma: NonNegative = 10.0, every: Count = 1) -> Penalty:
    """R2 gradient penalty on generated samples; lazy (every k critic steps, scaled by k) like r1."""

    def loss(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return every * r2_penalty(critic, fake, gamma=gamma)

    return Penalty("r2", loss=loss, every=every)


@PENALTIES.register("r1r2", paper="Huang et al. 2024, 'The GAN is dead; long live the GAN! A modern baseline' (R3GAN)")
def r1r2(*, gamma: NonNegative = 10.0, every: Count = 1) -> Penalty:
    """R1 on real plus R2 on generated samples with one gamma: ``gamma/2 (E||grad D(x)||^2 +
    E||grad D(G(z))||^2)``, R3GAN's regulariser; lazy like r1."""

    def loss(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return every * (r1_penalty(critic, real, gamma=gamma) + r2_penalty(critic, fake, gamma=gamma))

    return Penalty("r1r2", loss=loss, every=every)


@PENALTIES.register("clip", paper="Arjovsky et al. 2017, 'Wasserstein GAN'")
def clip(*, value: Positive = 0.01) -> Penalty:
    """Weight clipping: every critic parameter clamped to [-value, value] after each step."""

    def after_step(critic: nn.Module) -> None:
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-value, value)

    return Penalty("clip", after_step=after_step)
