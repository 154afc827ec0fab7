"""The classic GAN game on discriminator logits, and the usual alternatives.

With ``D(x) = sigmoid(a(x))`` and ``a`` the logit, every log-probability is written with
softplus: ``log D = -softplus(-a)`` and ``log(1 - D) = -softplus(a)``; never
``log(sigmoid(a))``, which underflows to ``-inf`` once ``a < -88`` in float32.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.losses.base import LOSSES, Objective
from gankit.registry import Fraction


def _flat(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], -1).squeeze(-1) if t.dim() > 1 else t


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, *, smoothing: float = 0.0) -> Tensor:
    """``-V(D, G)`` from logits: ``E[softplus(-a(x))] + E[softplus(a(G(z)))]``.

    Minimising it maximises ``V = E log D(x) + E log(1 - D(G(z)))`` (Goodfellow et al. 2014);
    its minimum over D is ``log 4 - 2 JSD(p_data || p_g)``.

    ``smoothing`` = alpha is one-sided label smoothing (Salimans et al. 2016, §3.4): real
    examples get the target ``1 - alpha`` (binary cross-entropy
    ``(1 - alpha) softplus(-a) + alpha softplus(a)``), fakes keep 0. The optimal D becomes
    ``D*(x) = (1 - alpha) p_data / (p_data + p_g)``: smoothing the fakes' target too would put
    ``p_g`` in the numerator and reward G where there is no data, hence one-sided.
    """
    real = _flat(real_logits)
    d_real = F.softplus(-real) if smoothing == 0 else (1.0 - smoothing) * F.softplus(-real) + smoothing * F.softplus(real)
    return d_real.mean() + F.softplus(_flat(fake_logits)).mean()


def feature_matching_loss(fake_features: Tensor, real_features: Tensor) -> Tensor:
    """Feature matching (Salimans et al. 2016, §3.1): ``||E f(x) - E f(G(z))||_2^2``.

    ``f`` is D's body (``D.phi``, features before the head); ``fake_features`` and
    ``real_features`` are ``(B, F)`` batches of it, the expectations their batch means.
    Gradient w.r.t. one fake feature row: ``-(2 / B) (mean f(x) - mean f(G(z)))``.
    """
    fake = fake_features.reshape(fake_features.shape[0], -1)
    real = real_features.reshape(real_features.shape[0], -1)
    return (real.mean(0) - fake.mean(0)).pow(2).sum()


def value_function(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Monte Carlo estimate of ``V(D, G)``; equals ``2 JSD - log 4`` at the optimal D."""
    return -discriminator_loss(real_logits, fake_logits)


def saturating_generator_loss(fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Minimax generator loss ``E[log(1 - D(G(z)))] = -E[softplus(a)]`` (minimised).

    Its gradient w.r.t. the logit is ``-sigmoid(a) = -D(G(z))``, which vanishes when D
    confidently rejects the fakes (``D(G(z)) -> 0``): the saturation of Goodfellow et al. 2014.
    """
    return -F.softplus(_flat(fake_logits)).mean()


def non_saturating_generator_loss(fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Non-saturating generator loss ``-E[log D(G(z))] = E[softplus(-a)]`` (Goodfellow et al. 2014).

    Gradient w.r.t. the logit: ``-(1 - D(G(z)))``, close to -1 exactly where the saturating one vanishes.
    """
    return F.softplus(-_flat(fake_logits)).mean()


def maximum_likelihood_generator_loss(fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Maximum-likelihood generator loss ``-E[exp(a(G(z)))]`` (Goodfellow 2016, NIPS tutorial §3.2.3).

    ``exp(a) = D / (1 - D)`` estimates ``p_data / p_g`` at the optimal D; with it the expected
    gradient equals that of ``KL(p_data || p_g)``. The logit is clamped at 80 so a runaway
    D cannot overflow float32 (``exp(88.7) = inf``).
    """
    return -torch.exp(_flat(fake_logits).clamp(max=80.0)).mean()


def least_squares_discriminator_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """LSGAN critic loss ``½E[(D(x) - 1)²] + ½E[D(G(z))²]`` with 0-1 coding (Mao et al. 2017)."""
    return 0.5 * ((_flat(real_out) - 1.0) ** 2).mean() + 0.5 * (_flat(fake_out) ** 2).mean()


def least_squares_generator_loss(fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
    """LSGAN generator loss ``½E[(D(G(z)) - 1)²]`` (Mao et al. 2017)."""
    return 0.5 * ((_flat(fake_out) - 1.0) ** 2).mean()


def hinge_discriminator_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """Hinge critic loss ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]`` (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - _flat(real_out)).mean() + F.relu(1.0 + _flat(fake_out)).mean()


def hinge_generator_loss(fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
    """Hinge generator loss ``-E[D(G(z))]``."""
    return -_flat(fake_out).mean()


def _gan_divergence(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    # At the optimal D the value function is 2 JSD - log 4; report the JSD estimate (of the
    # unsmoothed V: with label smoothing D's optimum, and so the estimate, is shifted).
    return 0.5 * (value_function(real_logits, fake_logits) + math.log(4.0))


SALIMANS = "Salimans et al. 2016, 'Improved Techniques for Training GANs'"


def _d(smoothing: float) -> Callable[[Tensor, Tensor], Tensor]:
    """The classic D loss with one-sided label smoothing ``smoothing`` (the plain function at 0)."""
    return discriminator_loss if smoothing == 0 else functools.partial(discriminator_loss, smoothing=smoothing)


@LOSSES.register("ns", paper="Goodfellow et al. 2014, 'Generative Adversarial Nets'; " + SALIMANS + " (smoothing)")
def non_saturating(*, smoothing: Fraction = 0.0) -> Objective:
    """Non-saturating GAN: D maximises V, G minimises -log D(G(z)); ``smoothing``: one-sided
    label smoothing of D's real target (1 - smoothing)."""
    return Objective("ns", _d(smoothing), non_saturating_generator_loss,
                     estimate=_gan_divergence, probability_outputs=True)


@LOSSES.register("minimax", paper="Goodfellow et al. 2014, 'Generative Adversarial Nets'")
def minimax(*, smoothing: Fraction = 0.0) -> Objective:
    """Saturating minimax GAN: G minimises log(1 - D(G(z))), the value function itself;
    ``smoothing``: one-sided label smoothing of D's real target."""
    return Objective("minimax", _d(smoothing), saturating_generator_loss,
                     estimate=_gan_divergence, probability_outputs=True)


@LOSSES.register("ml", paper="Goodfellow 2016, 'NIPS 2016 Tutorial: Generative Adversarial Networks'")
def maximum_likelihood(*, smoothing: Fraction = 0.0) -> Objective:
    """Maximum-likelihood GAN: G minimises -E exp(logit), the KL(p_data||p_g) gradient at optimal D;
    ``smoothing``: one-sided label smoothing of D's real target."""
    return Objective("ml", _d(smoothing), maximum_likelihood_generator_loss,
                     estimate=_gan_divergence, probability_outputs=True)


@LOSSES.register("feature-matching", paper=SALIMANS)
def feature_matching(*, smoothing: Fraction = 0.0) -> Objective:
    """Feature matching: D keeps the classic loss, G minimises ||E phi(x) - E phi(G(z))||^2 over
    D's body features (the discriminator must expose ``phi``: mlp, dcgan); ``smoothing``: one-sided
    label smoothing of D's real target."""
    return Objective("feature-matching", _d(smoothing), feature_matching_loss, estimate=_gan_divergence,
                     probability_outputs=True, g_uses_real=True, g_features=True)


@LOSSES.register("lsgan", paper="Mao et al. 2017, 'Least Squares Generative Adversarial Networks'")
def least_squares() -> Objective:
    """Least-squares GAN (0-1 coding): Pearson chi-squared flavoured objective."""
    return Objective("lsgan", least_squares_discriminator_loss, least_squares_generator_loss)


@LOSSES.register("hinge", paper="Lim & Ye 2017, 'Geometric GAN'; Miyato et al. 2018")
def hinge() -> Objective:
    """Hinge loss for the critic, -E D(G(z)) for the generator."""
    return Objective("hinge", hinge_discriminator_loss, hinge_generator_loss)
