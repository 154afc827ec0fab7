"""DCGAN generator and discriminator (Radford, Metz & Chintala 2016), optionally conditional.

The paper's rules: strided (transposed) convolutions instead of pooling; no fully connected
hidden layers (G starts with a transposed convolution of the ``1x1`` latent, D ends with a
``4x4`` convolution to one logit); batch norm everywhere except G's output layer and D's
input layer; ReLU + tanh output in G; LeakyReLU(0.2) in D; weights ~ N(0, 0.02).

Sizes: a square ``S x S`` image with ``S`` a power of two >= 8 uses ``log2(S) - 2`` stride-2
layers after/before the ``4x4`` stage. Any other ``S`` (28 for MNIST) is built on the next
power-of-two canvas ``P`` (32): G crops its ``P x P`` output to the centre ``S x S``, D pads
its input with -1 (the background of ``[-1, 1]`` images) to ``P x P``. So a DCGAN for 28x28
has exactly the weights of the 32x32 one.

Width: ``width`` is the number of feature maps next to the image (G's last hidden layer,
D's first); each stride-2 step towards ``4x4`` doubles it (``width * 2**(n-1)`` at ``4x4``).

Conditional (Mirza & Osindero 2014): G concatenates one-hot ``y`` to ``z``; D concatenates
one-hot label maps ``(B, K, P, P)`` to its input, or with ``projection`` uses the projection
discriminator (:mod:`gankit.networks.conditional`).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import DISCRIMINATORS, GENERATORS
from gankit.networks.conditional import ConditionalBatchNorm2d, ProjectionDiscriminator, label_maps, one_hot
from gankit.registry import Count, NonNegativeInt

INIT_STD = 0.02  # DCGAN paper, section 4


def image_geometry(data_shape: tuple[int, ...], who: str) -> tuple[int, int, int]:
    """``(channels, size, canvas)`` of a square image shape ``(C, S, S)``; canvas = 2^k >= max(S, 8)."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ConfigError(f"{who} dcgan needs square images (C, S, S), got data shape {tuple(data_shape)}")
    c, s = int(data_shape[0]), int(data_shape[1])
    return c, s, max(8, 1 << (s - 1).bit_length())


def _init(m: nn.Module) -> nn.Module:
    """DCGAN init: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, INIT_STD)
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(m.weight, 1.0, INIT_STD)
    if getattr(m, "bias", None) is not None:
        nn.init.zeros_(m.bias)
    return m


def _norm(kind: str, channels: int) -> list[nn.Module]:
    if kind == "batch":
        return [_init(nn.BatchNorm2d(channels))]
    if kind == "layer":  # layer norm over (C, H, W): per-sample, so gradient penalties stay valid
        return [_init(nn.GroupNorm(1, channels))]
    return []


class VirtualBatchNorm2d(nn.Module):
    """Virtual batch normalisation (Salimans et al. 2016, "Improved Techniques for Training GANs").

    The first ``n_ref`` rows of the input are a *reference batch*, fixed once for the whole
    of training; they are normalised by their own per-channel statistics. Every other row x
    is normalised by the statistics of the reference batch *and x itself*: mean
    ``(n_ref m_ref + m_x) / (n_ref + 1)`` and likewise the mean square, where ``m_x`` is x's
    own mean over its spatial positions. So no output depends on the other samples of its
    batch, unlike batch norm, whose sharing of statistics within a batch lets a generator
    correlate the samples of a batch.
    """

    def __init__(self, channels: int, n_ref: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.n_ref, self.eps = n_ref, eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, h: Tensor) -> Tensor:
        ref, x = h[:self.n_ref], h[self.n_ref:]                             # (R, C, H, W), (B, C, H, W)
        m_ref = ref.mean(dim=(0, 2, 3))                                     # (C,)
        s_ref = (ref * ref).mean(dim=(0, 2, 3))                             # (C,)
        w = 1.0 / (self.n_ref + 1)
        m_x = (1 - w) * m_ref + w * x.mean(dim=(2, 3))                      # (B, C)
        s_x = (1 - w) * s_ref + w * (x * x).mean(dim=(2, 3))                # (B, C)
        ref_n = (ref - m_ref[:, None, None]) * torch.rsqrt(s_ref - m_ref ** 2 + self.eps)[:, None, None]
        x_n = (x - m_x[:, :, None, None]) * torch.rsqrt(s_x - m_x ** 2 + self.eps)[:, :, None, None]
        out = torch.cat([ref_n, x_n])
        return out * self.weight[:, None, None] + self.bias[:, None, None]


class DCGANGenerator(nn.Module):
    """``z (B, latent_dim) [+ one-hot y (B, K)] -> x (B, C, S, S)`` in ``(-1, 1)``.

    Conditional (``num_classes`` > 0): the one-hot label is concatenated to ``z``, and with
    ``conditional_bn`` every batch norm also takes per-class scales and shifts.
    """

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], num_classes: int = 0, *,
                 width: int = 64, conditional_bn: bool = False, virtual_bn: int = 0) -> None:
        super().__init__()
        self.latent_dim, self.data_shape, self.num_classes = latent_dim, tuple(data_shape), num_classes
        c, self.size, self.canvas = image_geometry(data_shape, "generator")
        n = self.canvas.bit_length() - 3                                    # stride-2 layers: log2(P) - 2
        ch = [width * 2 ** (n - 1 - i) for i in range(n)]                   # e.g. P=32: [4w, 2w, w]
        self.conditional_bn = conditional_bn and num_classes > 0
        if virtual_bn and self.conditional_bn:
            raise ConfigError("generator.virtual_bn and generator.conditional_bn exclude each other")
        self.virtual_bn = virtual_bn
        if virtual_bn:  # the reference batch: drawn once from a fixed seed, saved with the weights
            g = torch.Generator().manual_seed(20160610)
            self.register_buffer("z_ref", torch.randn(virtual_bn, latent_dim, generator=g))
            self.register_buffer("y_ref", torch.arange(virtual_bn) % max(1, num_classes))

        def norm(channels: int) -> nn.Module:
            if virtual_bn:
                return VirtualBatchNorm2d(channels, virtual_bn)
            return ConditionalBatchNorm2d(channels, num_classes) if self.conditional_bn else _norm("batch", channels)[0]

        # block i: transposed conv -> (conditional) batch norm -> ReLU
        convs = [_init(nn.ConvTranspose2d(latent_dim + num_classes, ch[0], 4, 1, 0, bias=False))]  # (B, ch[0], 4, 4)
        convs += [_init(nn.ConvTranspose2d(ch[i - 1], ch[i], 4, 2, 1, bias=False))
                  for i in range(1, n)]                                     # (B, ch[i], 4*2^i, 4*2^i)
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(norm(k) for k in ch)
        self.act = nn.ReLU(True)
        self.out = nn.Sequential(_init(nn.ConvTranspose2d(ch[-1], c, 4, 2, 1)), nn.Tanh())  # (B, C, P, P), no BN

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.virtual_bn:  # the reference batch rides in front of the batch, and is cut off at the end
            z = torch.cat([self.z_ref.to(z.dtype), z])
            if self.num_classes:
                y = torch.cat([self.y_ref, y]) if y is not None else None
        h = z if not self.num_classes else torch.cat([z, one_hot(y, self.num_classes, z.shape[0])], 1)
        h = h[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms):
            h = conv(h)
            h = self.act(norm(h, y) if self.conditional_bn else norm(h))
        x = self.out(h)[self.virtual_bn:]                                   # (B, C, P, P)
        o = (self.canvas - self.size) // 2
        return x[:, :, o:o + self.size, o:o + self.size]                    # (B, C, S, S)


class DCGANDiscriminator(nn.Module):
    """``x (B, C, S, S) [+ label maps (B, K, P, P)] -> logits (B,)`` or ``(B, out_dim)``.

    ``phi(x, y) -> (B, F)`` are the flattened ``4x4`` features, ``psi`` the final ``4x4``
    convolution (a linear map of ``phi``); the projection discriminator uses both.
    """

    def __init__(self, data_shape: tuple[int, ...], num_classes: int = 0, out_dim: int = 1, *,
                 width: int = 64, spectral_norm: bool = False,
                 norm: Literal["auto", "batch", "layer", "none"] = "auto") -> None:
        super().__init__()
        self.data_shape, self.num_classes, self.out_dim = tuple(data_shape), num_classes, out_dim
        c, self.size, self.canvas = image_geometry(data_shape, "discriminator")
        if norm == "auto":  # Miyato et al. 2018: spectral normalisation replaces batch norm
            norm = "none" if spectral_norm else "batch"
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        n = self.canvas.bit_length() - 3
        ch = [width * 2 ** i for i in range(n)]                             # e.g. P=32: [w, 2w, 4w]
        layers: list[nn.Module] = [
            sn(_init(nn.Conv2d(c + num_classes, ch[0], 4, 2, 1))),           # (B, w, P/2, P/2), no norm
            nn.LeakyReLU(0.2, True),
        ]
        for i in range(1, n):
            layers += [sn(_init(nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=norm == "none"))),
                       *_norm(norm, ch[i]), nn.LeakyReLU(0.2, True)]        # (B, ch[i], P/2^(i+1), ...)
        self.features = nn.Sequential(*layers)                              # (B, ch[-1], 4, 4)
        self.head = sn(_init(nn.Conv2d(ch[-1], out_dim, 4, 1, 0)))          # (B, out_dim, 1, 1)
        self.top_channels = ch[-1]
        self.feature_dim = ch[-1] * 16

    def phi(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        o = self.canvas - self.size
        if o:
            x = F.pad(x, (o // 2, o - o // 2, o // 2, o - o // 2), value=-1.0)  # (B, C, P, P)
        if self.num_classes:
            x = torch.cat([x, label_maps(y, self.num_classes, x)], 1)       # (B, C + K, P, P)
        return self.features(x).flatten(1)                                  # (B, F)

    def psi(self, f: Tensor) -> Tensor:
        return self.head(f.view(f.shape[0], self.top_channels, 4, 4)).flatten(1)  # (B, out_dim)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        out = self.psi(self.phi(x, y))                                      # (B, out_dim)
        return out.squeeze(1) if self.out_dim == 1 else out


@GENERATORS.register("dcgan", paper="Radford, Metz & Chintala 2016", data="images")
def dcgan_generator(latent_dim: int, data_shape: tuple[int, ...], num_classes: int, *,
                    width: Count = 64, conditional_bn: bool = False, virtual_bn: NonNegativeInt = 0) -> nn.Module:
    """DCGAN generator: transposed convolutions, batch norm, ReLU, tanh output;
    ``conditional_bn``: per-class batch-norm scales and shifts (de Vries et al. 2017);
    ``virtual_bn=N``: virtual batch norm on a fixed reference batch of N (Salimans et al. 2016)."""
    return DCGANGenerator(latent_dim, data_shape, num_classes, width=width, conditional_bn=conditional_bn,
                          virtual_bn=virtual_bn)


@DISCRIMINATORS.register("dcgan", paper="Radford, Metz & Chintala 2016; Miyato et al. 2018 (SN, projection)",
                         data="images")
def dcgan_discriminator(data_shape: tuple[int, ...], num_classes: int, out_dim: int, *,
                        width: Count = 64, spectral_norm: bool = False,
                        norm: Literal["auto", "batch", "layer", "none"] = "auto",
                        projection: bool = False) -> nn.Module:
    """DCGAN discriminator: strided convolutions, LeakyReLU(0.2), raw logits.

    ``norm=auto`` is batch norm, or none with ``spectral_norm``; ``layer`` suits gradient
    penalties. Conditional by label maps, or by projection (Miyato & Koyama 2018)."""
    if projection and num_classes:
        body = DCGANDiscriminator(data_shape, 0, out_dim, width=width, spectral_norm=spectral_norm, norm=norm)
        return ProjectionDiscriminator(body, num_classes, out_dim)
    return DCGANDiscriminator(data_shape, num_classes, out_dim, width=width, spectral_norm=spectral_norm, norm=norm)
