"""The K+1-class discriminator of the semi-supervised GAN (Salimans et al. 2016, §5).

D outputs K logits ``l_1..l_K`` for the real classes; the fake class's logit is fixed at 0,
which loses nothing because a softmax is invariant to adding one value to every logit. Then

* ``p(y = k | x) = exp(l_k) / (Z(x) + 1)`` with ``Z(x) = sum_k exp(l_k)``;
* D's probability that x is real is ``D(x) = Z / (Z + 1) = sigmoid(log Z)``: the real/fake
  game is the classic GAN's on the logit ``a(x) = logsumexp_k l_k`` (:func:`real_logit`), so
  its unsupervised loss ``-E log D(x) - E log(1 - D(G(z)))`` is
  :func:`gankit.losses.gan.discriminator_loss` of ``a``, and its optimum over ``a`` is the
  classic ``D*(x) = p_data / (p_data + p_g)``;
* the supervised loss on labelled real data is ``-log p(y | x, y <= K)``, the cross-entropy
  of the K logits alone (the fake class's share cancels in the conditional).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.losses.gan import discriminator_loss


def real_logit(class_logits: Tensor) -> Tensor:
    """``a(x) = log Z(x) = logsumexp_k l_k`` ``(B,)`` of class logits ``(B, K)``: ``sigmoid(a) = Z / (Z + 1)``."""
    assert class_logits.dim() == 2, f"class logits must be (B, K), got {tuple(class_logits.shape)}"
    return torch.logsumexp(class_logits, dim=1)


def unsupervised_loss(real_class_logits: Tensor, fake_class_logits: Tensor, *, smoothing: float = 0.0) -> Tensor:
    """``-E_x log(Z/(Z+1)) - E_z log(1/(Z+1))`` in the stable softplus form (module docstring)."""
    return discriminator_loss(real_logit(real_class_logits), real_logit(fake_class_logits), smoothing=smoothing)


def supervised_loss(class_logits: Tensor, labels: Tensor) -> Tensor:
    """``-E log p(y | x, y <= K)``: cross-entropy of the K class logits ``(B, K)`` with labels ``(B,)``."""
    return F.cross_entropy(class_logits, labels)
