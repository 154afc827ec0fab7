"""The Gaussian generator ``x = mu + s * z``: a model family with a known density.

A two-parameter-per-dimension generator is what the divergence-fit picture of the notes
needs (seeds 000 and 004; Theis, van den Oord & Bethge 2016, Fig. 1): fitting a Gaussian to
a mixture adversarially, the fitted ``(mu, s)`` can be compared with the minimiser of the
exact divergence. Its density is ``N(mu, diag(s^2))`` (the first ``prod(data_shape)``
coordinates of ``z`` are used; ``z ~ N(0, I)`` gives exactly that law), so
:meth:`GaussianGenerator.log_prob` is exact.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import GENERATORS
from gankit.registry import NonNegative, Positive


class GaussianGenerator(nn.Module):
    """``x = mu[y] + exp(log_s[y]) * z[:, :D]``, ``z (B, latent_dim)`` -> ``x (B, *data_shape)``.

    Parameters ``mu`` and ``log_s`` of shape ``(max(num_classes, 1), D)``, ``D = prod(data_shape)``;
    a conditional generator holds one Gaussian per class. The scale is parametrised by its
    logarithm so that gradient steps can never make it negative.
    """

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], num_classes: int = 0, *,
                 init_mean: float = 0.0, init_spread: float = 1.0, init_scale: float = 1.0) -> None:
        super().__init__()
        self.data_shape, self.num_classes = tuple(data_shape), num_classes
        d = math.prod(self.data_shape)
        if latent_dim < d:
            raise ConfigError(f"the gaussian generator needs latent_dim >= {d} (the data dimension), got {latent_dim}")
        if init_scale <= 0 or init_spread < 0:
            raise ConfigError("generator.init_scale must be > 0 and generator.init_spread >= 0")
        rows = max(num_classes, 1)
        # A random initial mean (drawn from the global generator, like any network's weights)
        # so that seeds differ; init_spread = 0 starts every run at init_mean.
        self.mu = nn.Parameter(init_mean + init_spread * torch.randn(rows, d))
        self.log_s = nn.Parameter(torch.full((rows, d), math.log(init_scale)))

    def params(self, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(mu, s)`` of shape ``(B, D)`` for labels ``y (B,)``, or ``(1, D)`` unconditionally."""
        if self.num_classes == 0:
            return self.mu, self.log_s.exp()
        if y is None:
            raise ValueError("conditional gaussian generator called without labels y")
        return self.mu[y.long()], self.log_s[y.long()].exp()

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        d = self.mu.shape[1]
        if self.num_classes and y is not None:
            assert y.shape == (z.shape[0],), f"labels must be (B,), got {tuple(y.shape)}"
        mu, s = self.params(y)                                       # (B or 1, D)
        return (mu + s * z[:, :d]).view(z.shape[0], *self.data_shape)  # (B, *data_shape)

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact ``log N(x; mu, diag(s^2))`` of ``x (B, *data_shape)``; shape ``(B,)``."""
        mu, s = self.params(y)
        x = x.reshape(x.shape[0], -1)
        return (-0.5 * ((x - mu) / s) ** 2 - torch.log(s) - 0.5 * math.log(2 * math.pi)).sum(dim=1)


@GENERATORS.register("gaussian", data="points",
                     paper="Theis, van den Oord & Bethge 2016, 'A note on the evaluation of generative models', Fig. 1")
def gaussian(latent_dim: int, data_shape: tuple[int, ...], num_classes: int = 0, *, init_mean: float = 0.0,
             init_spread: NonNegative = 1.0, init_scale: Positive = 1.0) -> GaussianGenerator:
    """Gaussian generator x = mu + s * z (diagonal covariance); mean drawn from N(init_mean, init_spread^2)."""
    return GaussianGenerator(latent_dim, data_shape, num_classes, init_mean=init_mean,
                             init_spread=init_spread, init_scale=init_scale)
