"""D2GAN: two discriminators with positive outputs (Nguyen et al. 2017, "Dual Discriminator
Generative Adversarial Nets").

D1 rewards real data and D2 rewards generated data; with positive outputs
``D_i = softplus(a_i)`` (``a_i`` the i-th critic output) the game is

    J(G, D1, D2) = α E_data[log D1(x)] - E_G[D1(G(z))] - E_data[D2(x)] + β E_G[log D2(G(z))],

maximised by the discriminators and minimised by G. Pointwise in x, ``α p log D1 - q D1`` is
largest at ``D1* = α p / q`` and ``-p D2 + β q log D2`` at ``D2* = β q / p`` (p = p_data,
q = p_G), and there

    J(G, D1*, D2*) = α KL(p_data || p_G) + β KL(p_G || p_data) + α (log α - 1) + β (log β - 1):

the forward KL punishes missing modes, the reverse KL spreading mass off them, and α, β
weigh the two. The two critics are separate networks of the configured architecture
(``Objective.critics = 2``), as in the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.losses.base import LOSSES, Objective
from gankit.registry import Positive

PAPER = "Nguyen et al. 2017, 'Dual Discriminator Generative Adversarial Nets'"


def positive(a: Tensor) -> Tensor:
    """A discriminator's positive output ``softplus(a)``."""
    return F.softplus(a)


def log_positive(a: Tensor) -> Tensor:
    """``log softplus(a)`` without underflow: below a = -15, softplus(a) = e^a (1 - e^a / 2 + ...),
    so its log is a to within 2e-7 (the float32 spacing of numbers near 15 is 1e-6)."""
    return torch.where(a < -15.0, a, torch.log(F.softplus(a).clamp_min(1e-30)))


def _columns(out: Tensor) -> tuple[Tensor, Tensor]:
    out = out.reshape(out.shape[0], -1)
    if out.shape[1] != 2:
        raise ValueError(f"d2gan needs two critic outputs per sample, got {out.shape[1]}")
    return out[:, 0], out[:, 1]


def value_terms(real_out: Tensor, fake_out: Tensor, alpha: float, beta: float) -> tuple[Tensor, Tensor]:
    """Per-sample terms of J: ``α log D1(x) - D2(x)`` on real samples and
    ``-D1(G(z)) + β log D2(G(z))`` on generated ones; J is the sum of their means."""
    r1, r2 = _columns(real_out)
    f1, f2 = _columns(fake_out)
    return alpha * log_positive(r1) - positive(r2), -positive(f1) + beta * log_positive(f2)


def constant(alpha: float, beta: float) -> float:
    """``α (log α - 1) + β (log β - 1)``: J at the optimal discriminators minus the two KLs."""
    return alpha * (math.log(alpha) - 1.0) + beta * (math.log(beta) - 1.0)


@LOSSES.register("d2gan", paper=PAPER)
def d2gan(alpha: Positive = 1.0, beta: Positive = 1.0) -> Objective:
    """Dual discriminators: G's optimum minimises alpha KL(p_data||p_G) + beta KL(p_G||p_data).

    Defaults α = β = 1 are those of the authors' public 2-D script; the logged
    ``divergence`` is J minus :func:`constant`, the estimate of α KL + β KL."""

    def d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
        real, fake = value_terms(real_out, fake_out, alpha, beta)
        return -(real.mean() + fake.mean())

    def g_loss(fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        f1, f2 = _columns(fake_out)
        return (-positive(f1) + beta * log_positive(f2)).mean()

    def estimate(real_out: Tensor, fake_out: Tensor) -> Tensor:
        real, fake = value_terms(real_out, fake_out, alpha, beta)
        return real.mean() + fake.mean() - constant(alpha, beta)

    return Objective("d2gan", d_loss, g_loss, critic_dim=2, critics=2, estimate=estimate)
