"""Conditioning on class labels: one-hot inputs and label maps (Mirza & Osindero 2014) and the
projection discriminator (Miyato & Koyama 2018), and conditional batch norm for generators
(de Vries et al. 2017; Miyato & Koyama's generator): a per-class scale and shift after a
batch norm without its own affine parameters.

Projection: with features ``phi(x) in R^F`` of an unconditional discriminator and its
output layer ``psi``, the conditional logit is

    D(x, y) = psi(phi(x)) + <V_y, phi(x)>,      V = embedding of the K classes, (K, F)

i.e. the log density ratio of a class-conditional model whose log-linear class term is an
inner product. For ``out_dim > 1`` (critic features) each output gets its own ``V``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def check_labels(y: Tensor | None, batch: int) -> Tensor:
    """``y`` as a long ``(B,)`` tensor; a conditional network called without labels is a bug."""
    if y is None:
        raise ValueError("conditional network called without labels y")
    if y.shape != (batch,):
        raise ValueError(f"labels must be (B,) = ({batch},), got {tuple(y.shape)}")
    return y.long()


def one_hot(y: Tensor | None, num_classes: int, batch: int) -> Tensor:
    """Labels ``(B,)`` -> float one-hot ``(B, K)``."""
    return F.one_hot(check_labels(y, batch), num_classes).float()


def label_maps(y: Tensor | None, num_classes: int, like: Tensor) -> Tensor:
    """One-hot labels broadcast to ``(B, K, H, W)`` maps, to concatenate to an image ``like``."""
    b, _, h, w = like.shape
    return one_hot(y, num_classes, b).to(like.dtype)[:, :, None, None].expand(b, num_classes, h, w)


class ProjectionDiscriminator(nn.Module):
    """``D(x, y) = psi(phi(x)) + <V_y, phi(x)>`` around an unconditional discriminator ``body``.

    ``body`` provides ``phi(x) -> (B, F)`` and ``psi(f) -> (B, out_dim)`` methods, or, as the
    MLP discriminators do, ``features`` / ``head`` modules applied to the flattened input.
    ``body.feature_dim`` is ``F``.
    """

    def __init__(self, body: nn.Module, num_classes: int, out_dim: int = 1) -> None:
        super().__init__()
        self.body, self.num_classes, self.out_dim = body, num_classes, out_dim
        self.data_shape = getattr(body, "data_shape", None)
        self.feature_dim = int(body.feature_dim)
        self.embed = nn.Embedding(num_classes, out_dim * self.feature_dim)
        nn.init.xavier_uniform_(self.embed.weight)  # as in the authors' SNGAN code

    def phi(self, x: Tensor) -> Tensor:
        if hasattr(self.body, "phi"):
            return self.body.phi(x)
        return self.body.features(x.reshape(x.shape[0], -1))               # (B, F)

    def psi(self, f: Tensor) -> Tensor:
        return self.body.psi(f) if hasattr(self.body, "psi") else self.body.head(f)  # (B, out_dim)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        f = self.phi(x)                                                    # (B, F)
        v = self.embed(check_labels(y, x.shape[0])).view(x.shape[0], self.out_dim, -1)  # (B, out_dim, F)
        out = self.psi(f) + torch.einsum("bof,bf->bo", v, f)               # (B, out_dim)
        return out.squeeze(1) if self.out_dim == 1 else out


class ConditionalBatchNorm2d(nn.Module):
    """``gamma_y * BN(x) + beta_y``: batch statistics shared by all classes, the affine
    parameters per class (an embedding of ``K`` rows each for gamma and beta, initialised like
    DCGAN's batch norm: gamma ~ N(1, 0.02), beta = 0). ``x (B, C, H, W)``, ``y (B,)``."""

    def __init__(self, channels: int, num_classes: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Embedding(num_classes, channels)
        self.beta = nn.Embedding(num_classes, channels)
        nn.init.normal_(self.gamma.weight, 1.0, init_std)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        y = check_labels(y, x.shape[0])
        return self.gamma(y)[:, :, None, None] * self.bn(x) + self.beta(y)[:, :, None, None]
