"""InfoGAN's mutual-information lower bound and AC-GAN's class loss, on logits.

InfoGAN (Chen et al. 2016, eq. (4)-(5)): for codes ``c ~ p(c)`` fed to the generator and
any auxiliary distribution ``Q(c | x)``,

    I(c; G(z, c)) >= L_I(G, Q) = E_{c ~ p(c), x ~ G(z, c)} [log Q(c | x)] + H(c),

with equality when ``Q`` is the true posterior (Barber & Agakov 2003): the gap is
``E_x KL(P(c | x) || Q(c | x)) >= 0``. For a categorical code ``log Q <= 0``, so ``L_I <= H(c)``
(``log K`` for a uniform code over ``K`` values), reached by a Q that reads the code back
exactly. For a continuous code ``Q`` is a factored Gaussian ``N(mu(x), sigma^2)`` and ``H``
is the differential entropy (``log 2`` per coordinate of ``U[-1, 1]``).

AC-GAN (Odena et al. 2017, eq. (2)): ``L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]``;
D maximises ``L_S + L_C``, G maximises ``L_C - L_S``. Here both are written as losses to
minimise: the mean cross-entropy of the class logits against the labels.

Everything takes logits and uses ``log_softmax`` / ``cross_entropy``, never ``log(softmax)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def class_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """``-E[log softmax(logits)_y]``: AC-GAN's ``-L_C`` term for one batch, ``logits (B, K)``,
    ``labels (B,)`` long."""
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"class_loss: logits (B, K) and labels (B,), got {tuple(logits.shape)} and "
                         f"{tuple(labels.shape)}")
    return F.cross_entropy(logits, labels.long())


def categorical_log_likelihood(logits: Tensor, codes: Tensor) -> Tensor:
    """``log Q(c | x)`` per sample ``(B,)`` for Q's logits ``(B, K)`` and the codes ``(B,)``."""
    return -F.cross_entropy(logits, codes.long(), reduction="none")


def gaussian_log_likelihood(value: Tensor, mean: Tensor, log_std: Tensor | float = 0.0) -> Tensor:
    """``log N(value; mean, exp(log_std)^2)`` per coordinate, ``(B, M)``:
    ``-0.5 log(2 pi) - log_std - 0.5 ((value - mean) / std)^2``."""
    log_std = torch.as_tensor(log_std, dtype=mean.dtype, device=mean.device)
    z = (value - mean) * torch.exp(-log_std)
    return -0.5 * LOG_2PI - log_std - 0.5 * z * z


def categorical_bound(logits: Tensor, codes: Tensor, entropy: float) -> Tensor:
    """``L_I = mean log Q(c | x) + H(c)`` for a categorical code (<= ``entropy``)."""
    return categorical_log_likelihood(logits, codes).mean() + entropy


def gaussian_bound(value: Tensor, mean: Tensor, log_std: Tensor | float, entropy: float) -> Tensor:
    """``L_I = mean over samples of sum_j log N(u_j; mu_j(x), sigma_j^2) + H(u)`` for continuous
    codes ``value (B, M)`` with Q's means ``(B, M)``; ``entropy`` is ``H(u)`` summed over the M
    coordinates."""
    return gaussian_log_likelihood(value.to(mean.dtype), mean, log_std).sum(1).mean() + entropy


__all__ = ["categorical_bound", "categorical_log_likelihood", "class_loss", "gaussian_bound",
           "gaussian_log_likelihood"]
