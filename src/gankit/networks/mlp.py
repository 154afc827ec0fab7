"""Multilayer perceptrons for point data (and flattened images), incl. the maxout D of the original GAN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.networks.base import DISCRIMINATORS, GENERATORS, activation, hidden_layers
from gankit.registry import Count, Fraction, NonNegative, NonNegativeInt, Positive


def _label_input(y: Tensor | None, num_classes: int, batch: int) -> Tensor | None:
    if num_classes == 0:
        return None
    if y is None:
        raise ValueError("conditional network called without labels y")
    assert y.shape == (batch,), f"labels must be (B,), got {tuple(y.shape)}"
    return F.one_hot(y.long(), num_classes).float()


def normal_init(module: nn.Module, std: float) -> nn.Module:
    """Every linear layer of ``module``: weights N(0, std²), biases 0 (the TensorFlow-era
    initialisation of many GAN codes, e.g. D2GAN's at std 0.01). ``std == 0`` leaves PyTorch's
    default (uniform in ±1/sqrt(fan_in)). Call before any spectral-norm wrapping."""
    if std > 0:
        for m in module.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=std)
                nn.init.zeros_(m.bias)
    return module


class MLPGenerator(nn.Module):
    """``z (B, latent_dim) [+ one-hot y] -> x (B, *data_shape)``, linear (or tanh) output."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], num_classes: int = 0, *,
                 width: int = 256, depth: int = 3, act: str = "relu", batchnorm: bool = False,
                 output: str = "linear", init_std: float = 0.0) -> None:
        super().__init__()
        self.latent_dim, self.data_shape, self.num_classes = latent_dim, tuple(data_shape), num_classes
        layers = hidden_layers(latent_dim + num_classes, width, depth, act, batchnorm)
        layers += [nn.Linear(width if depth else latent_dim + num_classes, math.prod(self.data_shape))]
        if output == "tanh":
            layers += [nn.Tanh()]
        elif output != "linear":
            from gankit.errors import ConfigError
            raise ConfigError(f"generator.output must be 'linear' or 'tanh', got {output!r}")
        self.net = normal_init(nn.Sequential(*layers), init_std)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        onehot = _label_input(y, self.num_classes, z.shape[0])
        h = z if onehot is None else torch.cat([z, onehot], dim=1)  # (B, latent_dim + C)
        return self.net(h).view(z.shape[0], *self.data_shape)     # (B, *data_shape)


class FourierFeatures(nn.Module):
    """``x (B, d) -> [x, sin(xBᵀ), cos(xBᵀ)] (B, d + 2m)``: random Fourier features at several scales.

    ``per_octave`` random directions per octave of frequency 1, 2, 4, ..., ``max_frequency``
    (radians per unit of x; rows of ``B`` are N(0, s² I) at scale s). An MLP on x alone is slow
    to resolve structure much finer than the data's spread (spectral bias; Rahaman et al. 2019);
    these features let it (Tancik et al. 2020). ``B`` is drawn from torch's global generator at
    construction and saved with the weights, so a run's features are its seed's."""

    def __init__(self, d: int, per_octave: int, max_frequency: float) -> None:
        super().__init__()
        octaves = max(int(math.floor(math.log2(max_frequency))), 0) + 1
        scales = torch.tensor([2.0 ** i for i in range(octaves)]).repeat_interleave(per_octave)
        self.register_buffer("B", torch.randn(octaves * per_octave, d) * scales[:, None])  # (m, d)
        self.out_dim = d + 2 * self.B.shape[0]

    def forward(self, x: Tensor) -> Tensor:
        h = x @ self.B.T                                            # (B, m)
        return torch.cat([x, torch.sin(h), torch.cos(h)], dim=1)    # (B, d + 2m)


class MLPDiscriminator(nn.Module):
    """``x (B, *data_shape) [+ one-hot y] -> logits (B,)`` or features ``(B, out_dim)``."""

    def __init__(self, data_shape: tuple[int, ...], num_classes: int = 0, out_dim: int = 1, *,
                 width: int = 256, depth: int = 3, act: str = "leaky_relu",
                 spectral_norm: bool = False, dropout: float = 0.0, fourier: int = 0,
                 fourier_max: float = 64.0, init_std: float = 0.0) -> None:
        super().__init__()
        self.data_shape, self.num_classes, self.out_dim = tuple(data_shape), num_classes, out_dim
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        d_in = math.prod(self.data_shape)
        self.fourier = FourierFeatures(d_in, fourier, fourier_max) if fourier else None
        d_in = (self.fourier.out_dim if self.fourier is not None else d_in) + num_classes
        for _ in range(depth):
            layers += [wrap(normal_init(nn.Linear(d_in, width), init_std)), activation(act)]
            if dropout > 0:
                layers += [nn.Dropout(dropout)]
            d_in = width
        self.features = nn.Sequential(*layers)
        self.head = wrap(normal_init(nn.Linear(d_in, out_dim), init_std))
        self.feature_dim = d_in

    def phi(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The body's features ``(B, feature_dim)``, before the head."""
        h = x.reshape(x.shape[0], -1)                               # (B, prod(data_shape))
        if self.fourier is not None:
            h = self.fourier(h)                                     # (B, D + 2m)
        onehot = _label_input(y, self.num_classes, x.shape[0])
        if onehot is not None:
            h = torch.cat([h, onehot], dim=1)                       # (B, D [+ 2m] + C)
        return self.features(h)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        out = self.head(self.phi(x, y))                             # (B, out_dim)
        return out.squeeze(1) if self.out_dim == 1 else out


class Maxout(nn.Module):
    """Maxout unit (Goodfellow et al. 2013): the max over ``pieces`` linear maps."""

    def __init__(self, d_in: int, d_out: int, pieces: int) -> None:
        super().__init__()
        self.d_out, self.pieces = d_out, pieces
        self.linear = nn.Linear(d_in, d_out * pieces)

    def forward(self, x: Tensor) -> Tensor:
        h = self.linear(x).view(x.shape[0], self.d_out, self.pieces)  # (B, d_out, pieces)
        return h.max(dim=2).values                                     # (B, d_out)


class MaxoutDiscriminator(nn.Module):
    """The original GAN's discriminator: maxout hidden layers with dropout (Goodfellow et al. 2014)."""

    def __init__(self, data_shape: tuple[int, ...], num_classes: int = 0, out_dim: int = 1, *,
                 width: int = 240, depth: int = 2, pieces: int = 5, dropout: float = 0.5) -> None:
        super().__init__()
        self.data_shape, self.num_classes, self.out_dim = tuple(data_shape), num_classes, out_dim
        layers: list[nn.Module] = []
        d_in = math.prod(self.data_shape) + num_classes
        for _ in range(depth):
            layers += [Maxout(d_in, width, pieces)]
            if dropout > 0:
                layers += [nn.Dropout(dropout)]
            d_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(d_in, out_dim)
        self.feature_dim = d_in

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = x.reshape(x.shape[0], -1)
        onehot = _label_input(y, self.num_classes, x.shape[0])
        if onehot is not None:
            h = torch.cat([h, onehot], dim=1)
        out = self.head(self.features(h))
        return out.squeeze(1) if self.out_dim == 1 else out


@GENERATORS.register("mlp", paper="Goodfellow et al. 2014")
def mlp_generator(latent_dim: int, data_shape: tuple[int, ...], num_classes: int, *,
                  width: Count = 256, depth: NonNegativeInt = 3, act: str = "relu", batchnorm: bool = False,
                  output: str = "linear", init_std: NonNegative = 0.0) -> nn.Module:
    """MLP generator; conditional when the data set has labels and the model is conditional.
    ``init_std`` > 0: weights N(0, init_std²) and zero biases instead of PyTorch's default."""
    return MLPGenerator(latent_dim, data_shape, num_classes, width=width, depth=depth, act=act,
                        batchnorm=batchnorm, output=output, init_std=init_std)


@DISCRIMINATORS.register("mlp", paper="Goodfellow et al. 2014")
def mlp_discriminator(data_shape: tuple[int, ...], num_classes: int, out_dim: int, *,
                      width: Count = 256, depth: NonNegativeInt = 3, act: str = "leaky_relu",
                      spectral_norm: bool = False, dropout: Fraction = 0.0,
                      projection: bool = False, fourier: NonNegativeInt = 0,
                      fourier_max: Positive = 64.0, init_std: NonNegative = 0.0) -> nn.Module:
    """MLP discriminator returning logits; optional spectral normalisation (Miyato et al. 2018).

    Conditional by one-hot concatenation, or with ``projection`` by the projection
    discriminator (Miyato & Koyama 2018, :mod:`gankit.networks.conditional`). ``fourier``: random
    Fourier features of the input, that many per octave of frequency up to ``fourier_max``
    (:class:`FourierFeatures`; 0 = the raw input), so D resolves modes much narrower than the
    data's spread. ``init_std`` > 0: weights N(0, init_std²) and zero biases instead of
    PyTorch's default."""
    kw = dict(width=width, depth=depth, act=act, spectral_norm=spectral_norm, dropout=dropout,
              fourier=fourier, fourier_max=fourier_max, init_std=init_std)
    if projection and num_classes:
        from gankit.networks.conditional import ProjectionDiscriminator

        return ProjectionDiscriminator(MLPDiscriminator(data_shape, 0, out_dim, **kw), num_classes, out_dim)
    return MLPDiscriminator(data_shape, num_classes, out_dim, **kw)


@DISCRIMINATORS.register("maxout", paper="Goodfellow et al. 2013 (maxout); Goodfellow et al. 2014")
def maxout_discriminator(data_shape: tuple[int, ...], num_classes: int, out_dim: int, *,
                         width: Count = 240, depth: NonNegativeInt = 2, pieces: Count = 5,
                         dropout: Fraction = 0.5) -> nn.Module:
    """The original GAN paper's maxout discriminator with dropout."""
    return MaxoutDiscriminator(data_shape, num_classes, out_dim, width=width, depth=depth,
                               pieces=pieces, dropout=dropout)
