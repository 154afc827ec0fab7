"""R3GAN's ResNet generator and discriminator (Huang et al. 2024), without normalisation.

Huang et al. show that a plain ResNet trained with RpGAN + R1 + R2 needs none of StyleGAN's
tricks. Its pieces, all here:

* **Inverted-bottleneck residual blocks** ``x + W3 act(W2 act(W1 x))``: ``W1`` a 1x1
  convolution widening ``C`` channels by ``expansion``, ``W2`` a grouped 3x3 convolution
  (``group_size`` channels a group: ResNeXt's cardinality), ``W3`` a 1x1 convolution back
  to ``C``; LeakyReLU(0.2); no normalisation layer anywhere, so every sample's output depends
  on that sample alone (the gradient penalties stay per sample).
* **Fix-up initialisation** (Zhang et al. 2019): ``W3`` starts at zero, so every block is the
  identity at initialisation, and ``W1``, ``W2`` are He-initialised with their standard
  deviation scaled by ``L^(-1/(2m-2))`` (``L`` blocks in the network, ``m = 3`` layers a
  branch), so the sum of ``L`` residual branches keeps its variance once they train.
* **[1, 2, 1]-filtered resampling**: up-sampling inserts zeros and filters with
  ``[1, 2, 1] x [1, 2, 1] / 4`` (linear interpolation); down-sampling filters with
  ``[1, 2, 1] x [1, 2, 1] / 16`` and keeps every second pixel. Transition layers change the
  width with a 1x1 convolution next to the resampling.
* **Bases** at 4x4: G starts from a learned ``(C, 4, 4)`` basis scaled channel-wise by a
  linear map of ``z``; D ends with a 4x4 depth-wise convolution (one 4x4 filter a channel)
  and a linear map to the logits.
* **Conditional by projection**: G concatenates a learned class embedding to ``z``; D adds
  ``<V_y, phi(x)>`` to its logit (Miyato & Koyama 2018).

Sizes: square ``S x S`` images, ``S`` a power of two >= 8; one stage per resolution from 4x4
to ``S``. ``width`` is the channel count of every stage (R3GAN's CIFAR-10 model: 768, with
2 blocks a stage, expansion 2 and group size 32; the defaults here are a CPU-sized model).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import DISCRIMINATORS, GENERATORS
from gankit.networks.conditional import check_labels
from gankit.registry import Count

R3GAN = "Huang et al. 2024, 'The GAN is dead; long live the GAN! A modern baseline' (R3GAN)"
SLOPE = 0.2
GAIN = math.sqrt(2.0 / (1.0 + SLOPE**2))        # He gain of LeakyReLU(0.2)
BRANCH_LAYERS = 3


def geometry(data_shape: tuple[int, ...], who: str) -> tuple[int, int]:
    """``(channels, size)`` of a square image ``(C, S, S)`` whose side is a power of two >= 8."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ConfigError(f"{who} resnet needs square images (C, S, S), got data shape {tuple(data_shape)}")
    c, s = int(data_shape[0]), int(data_shape[1])
    if s < 8 or s & (s - 1):
        raise ConfigError(f"{who} resnet needs a side that is a power of two >= 8 (8, 16, 32, 64, ...), got {s}; "
                          "resize the data (e.g. data.size=32)")
    return c, s


def _he(layer: nn.Conv2d | nn.Linear, scale: float = 1.0) -> nn.Module:
    """He-normal weights for a LeakyReLU(0.2) network times ``scale``, zero bias."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, scale * GAIN / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _filter(channels: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    k = torch.tensor([1.0, 2.0, 1.0], dtype=dtype, device=device)
    return (k[:, None] * k[None, :]).expand(channels, 1, 3, 3)           # (C, 1, 3, 3), sums to 16


def upsample(x: Tensor) -> Tensor:
    """``(B, C, H, W) -> (B, C, 2H, 2W)``: zeros inserted, filtered by ``[1,2,1]x[1,2,1]/4``.

    Even output pixels are the input pixels, odd ones the mean of their two (or four)
    neighbours: linear interpolation, with zero beyond the border."""
    c = x.shape[1]
    return F.conv_transpose2d(x, _filter(c, x.dtype, x.device) / 4, stride=2, padding=1, output_padding=1, groups=c)


def downsample(x: Tensor) -> Tensor:
    """``(B, C, H, W) -> (B, C, H/2, W/2)``: ``[1,2,1]x[1,2,1]/16`` low-pass, then every second pixel
    (zero padding at the border)."""
    c = x.shape[1]
    return F.conv2d(x, _filter(c, x.dtype, x.device) / 16, stride=2, padding=1, groups=c)


class ResidualBlock(nn.Module):
    """``x + W3 act(W2 act(W1 x))``, ``x (B, C, H, W)``; ``W3 = 0`` at initialisation."""

    def __init__(self, channels: int, *, expansion: int, group_size: int, scale: float) -> None:
        super().__init__()
        inner = channels * expansion
        groups = max(1, inner // group_size)
        if inner % groups:
            raise ConfigError(f"resnet: {inner} channels (width x expansion) do not split into groups of {group_size}")
        self.widen = _he(nn.Conv2d(channels, inner, 1), scale)                       # (B, E*C, H, W)
        self.conv = _he(nn.Conv2d(inner, inner, 3, padding=1, groups=groups), scale)  # grouped 3x3
        self.narrow = nn.Conv2d(inner, channels, 1)                                  # (B, C, H, W)
        nn.init.zeros_(self.narrow.weight)
        nn.init.zeros_(self.narrow.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = F.leaky_relu(self.widen(x), SLOPE)
        h = F.leaky_relu(self.conv(h), SLOPE)
        return x + self.narrow(h)


def _stages(n: int, width: int, blocks: int, expansion: int, group_size: int) -> nn.ModuleList:
    scale = (n * blocks) ** (-1.0 / (2 * BRANCH_LAYERS - 2))      # fix-up: L^(-1/(2m-2))
    return nn.ModuleList(
        nn.Sequential(*[ResidualBlock(width, expansion=expansion, group_size=group_size, scale=scale)
                        for _ in range(blocks)])
        for _ in range(n))


class ResNetGenerator(nn.Module):
    """``z (B, latent_dim) [, y (B,)] -> x (B, C, S, S)``: a 4x4 basis, one residual stage per
    resolution with an up-sampling between stages, a 1x1 convolution to ``C`` channels.
    The output is linear (no tanh), as in R3GAN."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], num_classes: int = 0, *,
                 width: int = 64, blocks: int = 1, expansion: int = 2, group_size: int = 16,
                 embed_dim: int = 32) -> None:
        super().__init__()
        self.latent_dim, self.data_shape, self.num_classes = latent_dim, tuple(data_shape), num_classes
        c, s = geometry(data_shape, "generator")
        n = int(math.log2(s)) - 1                                         # stages at 4, 8, ..., S
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        d_in = latent_dim + (embed_dim if num_classes else 0)
        self.basis = nn.Parameter(torch.randn(width, 4, 4))               # (C', 4, 4)
        self.modulate = _he(nn.Linear(d_in, width))                       # (B, C')
        self.stages = _stages(n, width, blocks, expansion, group_size)
        self.to_image = _he(nn.Conv2d(width, c, 1))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(check_labels(y, z.shape[0]))], 1)
        h = self.basis[None] * self.modulate(z)[:, :, None, None]         # (B, C', 4, 4)
        for i, stage in enumerate(self.stages):
            if i:
                h = upsample(h)                                           # (B, C', 2H, 2W)
            h = stage(h)
        return self.to_image(F.leaky_relu(h, SLOPE))                      # (B, C, S, S)


class ResNetDiscriminator(nn.Module):
    """``x (B, C, S, S) [, y (B,)] -> logits (B,)`` or ``(B, out_dim)``: a 1x1 convolution from
    the image, residual stages with a down-sampling between them, a 4x4 depth-wise basis and a
    linear head; ``phi`` are the basis's ``(B, width)`` features, conditional by projection."""

    def __init__(self, data_shape: tuple[int, ...], num_classes: int = 0, out_dim: int = 1, *,
                 width: int = 64, blocks: int = 1, expansion: int = 2, group_size: int = 16) -> None:
        super().__init__()
        self.data_shape, self.num_classes, self.out_dim = tuple(data_shape), num_classes, out_dim
        c, s = geometry(data_shape, "discriminator")
        n = int(math.log2(s)) - 1
        self.from_image = _he(nn.Conv2d(c, width, 1))
        self.stages = _stages(n, width, blocks, expansion, group_size)
        self.basis = _he(nn.Conv2d(width, width, 4, groups=width))       # (B, C', 1, 1)
        self.head = _he(nn.Linear(width, out_dim), 1 / GAIN)
        self.feature_dim = width
        self.project = nn.Embedding(num_classes, out_dim * width) if num_classes else None
        if self.project is not None:
            nn.init.xavier_uniform_(self.project.weight)

    def phi(self, x: Tensor) -> Tensor:
        h = self.from_image(x)                                            # (B, C', S, S)
        for i, stage in enumerate(self.stages):
            if i:
                h = downsample(h)                                         # (B, C', H/2, W/2)
            h = stage(h)
        return F.leaky_relu(self.basis(F.leaky_relu(h, SLOPE)), SLOPE).flatten(1)  # (B, C')

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        f = self.phi(x)
        out = self.head(f)                                                # (B, out_dim)
        if self.project is not None:
            v = self.project(check_labels(y, x.shape[0])).view(x.shape[0], self.out_dim, -1)
            out = out + torch.einsum("bof,bf->bo", v, f)
        return out.squeeze(1) if self.out_dim == 1 else out


@GENERATORS.register("resnet", paper=R3GAN, data="images", sizes="pow2")
def resnet_generator(latent_dim: int, data_shape: tuple[int, ...], num_classes: int, *,
                     width: Count = 64, blocks: Count = 1, expansion: Count = 2, group_size: Count = 16,
                     embed_dim: Count = 32) -> nn.Module:
    """R3GAN's generator: inverted-bottleneck grouped-convolution residual blocks, no
    normalisation, fix-up initialisation, [1,2,1] up-sampling; ``width`` channels a stage,
    ``blocks`` a stage; conditional by a class embedding of ``embed_dim`` concatenated to z."""
    return ResNetGenerator(latent_dim, data_shape, num_classes, width=width, blocks=blocks,
                           expansion=expansion, group_size=group_size, embed_dim=embed_dim)


@DISCRIMINATORS.register("resnet", paper=R3GAN + "; Miyato & Koyama 2018 (projection)", data="images", sizes="pow2")
def resnet_discriminator(data_shape: tuple[int, ...], num_classes: int, out_dim: int, *,
                         width: Count = 64, blocks: Count = 1, expansion: Count = 2,
                         group_size: Count = 16) -> nn.Module:
    """R3GAN's discriminator: the generator's mirror ([1,2,1] down-sampling, a 4x4 depth-wise
    basis), raw logits, conditional by projection."""
    return ResNetDiscriminator(data_shape, num_classes, out_dim, width=width, blocks=blocks,
                               expansion=expansion, group_size=group_size)
