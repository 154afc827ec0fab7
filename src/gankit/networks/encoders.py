"""Encoders ``x -> z`` for the adversarial autoencoder, and a small convolutional decoder.

The encoder is the AAE's generator of codes (Makhzani et al. 2015, "Adversarial
Autoencoders"): a deterministic map ``E(x) -> z`` whose aggregated posterior
``q(z) = E_x [delta(z - E(x))]`` the latent discriminator pushes towards the prior. It
has a linear output: the adversarial phase, not an activation, shapes the codes.

Contract of every :data:`ENCODERS` entry: ``E(x) -> z`` with ``x (B, *data_shape)`` and
``z (B, latent_dim)``. Decoders are ordinary :data:`~gankit.networks.base.GENERATORS`;
``conv`` here is a transposed-convolution generator for any image size whose halving
ends at 7x7 or smaller (8x8 digits, 28x28 MNIST, 32/64 folders), where the DCGAN
generator only knows 28, 32 and 64.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import GENERATORS, activation, hidden_layers
from gankit.registry import Count, NonNegativeInt, Registry

ENCODERS: Registry[Callable[..., nn.Module]] = Registry("encoder", context=("data_shape", "latent_dim"))


def halvings(height: int, width: int) -> int:
    """Number of stride-2 stages: halve while both sides are even and the larger exceeds 7.

    8 -> 4 (1 stage), 28 -> 14 -> 7 (2), 32 -> 4 (3), 64 -> 4 (4), 7 -> 7 (0).
    """
    n = 0
    while height % 2 == 0 and width % 2 == 0 and max(height, width) > 7:
        height, width, n = height // 2, width // 2, n + 1
    return n


def _image_shape(data_shape: tuple[int, ...], what: str) -> tuple[int, int, int]:
    if len(data_shape) != 3:
        raise ConfigError(f"the conv {what} needs image data (C, H, W), got shape {tuple(data_shape)}; use mlp")
    c, h, w = data_shape
    return c, h, w


class MLPEncoder(nn.Module):
    """``x (B, *data_shape) -> z (B, latent_dim)``: flatten, ``depth`` hidden layers, linear code."""

    def __init__(self, data_shape: tuple[int, ...], latent_dim: int, *, width: int = 256, depth: int = 2,
                 act: str = "relu", batchnorm: bool = False) -> None:
        super().__init__()
        self.data_shape, self.latent_dim = tuple(data_shape), latent_dim
        layers = hidden_layers(math.prod(self.data_shape), width, depth, act, batchnorm)
        layers += [nn.Linear(width if depth else math.prod(self.data_shape), latent_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        z = self.net(x.reshape(x.shape[0], -1))   # (B, latent_dim)
        return z


class ConvEncoder(nn.Module):
    """``x (B, C, H, W) -> z (B, latent_dim)``: a 3x3 stem, then 4x4 stride-2 convolutions
    doubling the channels (capped at ``8 * width``) down to at most 7x7, then a linear code."""

    def __init__(self, data_shape: tuple[int, ...], latent_dim: int, *, width: int = 32,
                 act: str = "leaky_relu") -> None:
        super().__init__()
        c, h, w = _image_shape(data_shape, "encoder")
        self.data_shape, self.latent_dim = tuple(data_shape), latent_dim
        n = halvings(h, w)
        layers: list[nn.Module] = [nn.Conv2d(c, width, 3, 1, 1), activation(act)]
        ch = width
        for _ in range(n):
            nxt = min(2 * ch, 8 * width)
            layers += [nn.Conv2d(ch, nxt, 4, 2, 1), activation(act)]   # H, W -> H/2, W/2
            ch = nxt
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch * (h >> n) * (w >> n), latent_dim)

    def forward(self, x: Tensor) -> Tensor:
        assert x.shape[1:] == self.data_shape, f"expected (B, {self.data_shape}), got {tuple(x.shape)}"
        h = self.features(x)                       # (B, ch, H / 2^n, W / 2^n)
        return self.head(h.flatten(1))             # (B, latent_dim)


class ConvDecoder(nn.Module):
    """``z (B, latent_dim) [+ one-hot y] -> x (B, C, H, W)`` in ``[-1, 1]``: the mirror of
    :class:`ConvEncoder` (linear to the smallest map, 4x4 stride-2 transposed convolutions,
    a 3x3 convolution to the image channels, tanh)."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], num_classes: int = 0, *,
                 width: int = 32, batchnorm: bool = False) -> None:
        super().__init__()
        c, h, w = _image_shape(data_shape, "decoder")
        self.latent_dim, self.data_shape, self.num_classes = latent_dim, tuple(data_shape), num_classes
        n = halvings(h, w)
        chans = [min(width * 2**i, 8 * width) for i in range(n + 1)][::-1]  # widest at the smallest map
        self.start = (chans[0], h >> n, w >> n)
        self.fc = nn.Linear(latent_dim + num_classes, math.prod(self.start))
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1)]                   # H, W -> 2H, 2W
            if batchnorm:
                layers += [nn.BatchNorm2d(b)]
            layers += [nn.ReLU()]
        layers += [nn.Conv2d(chans[-1], c, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.num_classes:
            if y is None:
                raise ValueError("conditional decoder called without labels y")
            z = torch.cat([z, F.one_hot(y.long(), self.num_classes).float()], dim=1)  # (B, latent + C)
        h = F.relu(self.fc(z)).view(z.shape[0], *self.start)   # (B, ch, H / 2^n, W / 2^n)
        return self.net(h)                                       # (B, C, H, W)


@ENCODERS.register("mlp", paper="Makhzani et al. 2015, 'Adversarial Autoencoders'")
def mlp_encoder(data_shape: tuple[int, ...], latent_dim: int, *, width: Count = 256, depth: NonNegativeInt = 2,
                act: str = "relu", batchnorm: bool = False) -> nn.Module:
    """MLP encoder on flattened inputs (points or images)."""
    return MLPEncoder(data_shape, latent_dim, width=width, depth=depth, act=act, batchnorm=batchnorm)


@ENCODERS.register("conv", paper="Makhzani et al. 2015; Radford et al. 2016 (strided convolutions)")
def conv_encoder(data_shape: tuple[int, ...], latent_dim: int, *, width: Count = 32,
                 act: str = "leaky_relu") -> nn.Module:
    """Strided-convolution encoder for images of any size (digits 8x8, MNIST 28x28, folders)."""
    return ConvEncoder(data_shape, latent_dim, width=width, act=act)


@GENERATORS.register("conv", paper="Makhzani et al. 2015; Radford et al. 2016", data="images")
def conv_decoder(latent_dim: int, data_shape: tuple[int, ...], num_classes: int, *, width: Count = 32,
                 batchnorm: bool = False) -> nn.Module:
    """Transposed-convolution generator/decoder for images of any size, tanh output."""
    return ConvDecoder(latent_dim, data_shape, num_classes, width=width, batchnorm=batchnorm)
