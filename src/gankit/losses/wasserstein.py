"""Wasserstein GAN (Arjovsky, Chintala & Bottou 2017).

Kantorovich-Rubinstein duality: ``W1(P, Q) = sup_{||S||_Lip <= 1} E_P[S(x)] - E_Q[S(x)]``.
The critic outputs unbounded scores ``S`` (``(B,)`` or ``(B, 1)``); the Lipschitz constraint
is not part of the objective but a penalty (``gankit.losses.penalties``): weight clipping
(``clip``, the WGAN paper) or the gradient penalty (``gp``, Gulrajani et al. 2017).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from gankit.losses.base import LOSSES, Objective

ARJOVSKY = "Arjovsky et al. 2017, 'Wasserstein GAN'"
GULRAJANI = "Gulrajani et al. 2017, 'Improved Training of Wasserstein GANs'"


def critic_loss(real_s: Tensor, fake_s: Tensor) -> Tensor:
    """``E_Q[S(G(z))] - E_P[S(x)]``, minimised by the critic."""
    return fake_s.reshape(-1).mean() - real_s.reshape(-1).mean()


def generator_loss(fake_s: Tensor, real_s: Tensor | None = None) -> Tensor:
    """``-E_Q[S(G(z))]``, minimised by the generator."""
    return -fake_s.reshape(-1).mean()


def wasserstein_estimate(real_s: Tensor, fake_s: Tensor) -> Tensor:
    """``E_P[S(x)] - E_Q[S(G(z))]``: W1(P, Q) when S is an optimal 1-Lipschitz critic."""
    return real_s.reshape(-1).mean() - fake_s.reshape(-1).mean()


@LOSSES.register("wgan", paper=ARJOVSKY)
def wgan() -> Objective:
    """Wasserstein GAN; pair it with penalty clip (WGAN) or gp (WGAN-GP) and n_critic = 5."""
    return Objective("wgan", critic_loss, generator_loss, estimate=wasserstein_estimate)


# The papers' training settings, for the lead to turn into config presets. The optimizer
# settings apply to both G and D; n_critic is the number of critic steps per G step.
PRESETS: dict[str, dict[str, Any]] = {
    "wgan": {
        "paper": ARJOVSKY + ", Algorithm 1",
        "loss": {"name": "wgan"},
        "penalty": {"name": "clip", "value": 0.01},
        "optimizer": {"name": "rmsprop", "lr": 5e-5},
        "n_critic": 5,
        "batch_size": 64,
    },
    "wgan-gp": {
        # Algorithm 1 lists beta1 = 0; the authors' released code (gan_toy.py, gan_mnist.py)
        # uses beta1 = 0.5, which REFERENCE.md adopts. Their toy script lowers lambda to 0.1.
        "paper": GULRAJANI + ", Algorithm 1 and released code",
        "loss": {"name": "wgan"},
        "penalty": {"name": "gp", "weight": 10.0, "center": 1.0},
        "optimizer": {"name": "adam", "lr": 1e-4, "betas": (0.5, 0.9)},
        "n_critic": 5,
    },
}
