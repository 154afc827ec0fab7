"""Toy distributions with known densities: rings and grids of 2-D Gaussians, 1-D mixtures.

Each one samples and evaluates ``log_prob`` exactly, so divergences between the data and a
generator can be computed by numerical integration, and mode metrics know the true means.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.data.base import DATASETS, DataSource
from gankit.errors import ConfigError
from gankit.registry import Count, NonNegative, Positive


class GaussianMixture(DataSource):
    """Mixture of isotropic Gaussians ``sum_k w_k N(mu_k, sigma_k^2 I)``.

    Args:
        means: ``(K, d)`` component means.
        sigmas: ``(K,)`` component standard deviations.
        weights: ``(K,)`` mixture weights (normalised here).
    """

    kind = "points"

    def __init__(self, means: Tensor, sigmas: Tensor, weights: Tensor | None = None, *, name: str = "mixture") -> None:
        self.means = means.double()
        self.sigmas = sigmas.double().expand(means.shape[0]).clone()
        w = torch.ones(means.shape[0], dtype=torch.float64) if weights is None else weights.double()
        self.weights = w / w.sum()
        self.name = name
        self.shape = (means.shape[1],)
        self.num_classes = 0

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def sigma(self) -> float:
        """The (common) component standard deviation used by the mode metrics."""
        return float(self.sigmas.max())

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, None]:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        x = self.means[k] + eps * self.sigmas[k, None]
        return x.float(), None  # (n, d)

    def sample_with_modes(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.means[k] + eps * self.sigmas[k, None]).float(), k

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log density at ``x (n, d)``, in float64."""
        x = x.double().reshape(-1, self.dim)
        d = self.dim
        sq = torch.cdist(x, self.means) ** 2                                     # (n, K)
        log_comp = (-0.5 * sq / self.sigmas**2 - d * torch.log(self.sigmas)
                    - 0.5 * d * math.log(2 * math.pi))                           # (n, K)
        return torch.logsumexp(log_comp + torch.log(self.weights), dim=1)        # (n,)

    def prob(self, x: Tensor) -> Tensor:
        return self.log_prob(x).exp()


def ring_means(modes: int, radius: float) -> Tensor:
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)


def grid_means(n: int, spacing: float) -> Tensor:
    ticks = (torch.arange(n, dtype=torch.float64) - (n - 1) / 2) * spacing
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


@DATASETS.register("ring", paper="PacGAN (Lin et al. 2018) setup: 8 modes, radius 1, sigma 0.01")
def ring(*, modes: Count = 8, radius: Positive = 1.0, sigma: Positive = 0.01) -> GaussianMixture:
    """Equal-weight 2-D Gaussians on a circle."""
    return GaussianMixture(ring_means(modes, radius), torch.tensor(sigma), name="ring")


@DATASETS.register("grid", paper="PacGAN (Lin et al. 2018) setup: 5x5, spacing 2, sigma 0.05")
def grid(*, n: Count = 5, spacing: Positive = 2.0, sigma: Positive = 0.05) -> GaussianMixture:
    """Equal-weight 2-D Gaussians on an n x n grid centred at the origin."""
    return GaussianMixture(grid_means(n, spacing), torch.tensor(sigma), name="grid")


@DATASETS.register("mixture1d")
def mixture1d(*, means: list[float] = (-2.0, 2.0), sigmas: list[Positive] = (0.5, 0.5),
              weights: list[NonNegative] | None = None) -> GaussianMixture:
    """1-D mixture of Gaussians (two modes at -2 and 2 by default)."""
    if not means or len(means) != len(sigmas) or (weights is not None and len(weights) != len(means)):
        raise ConfigError("data.means, data.sigmas (and data.weights) must be non-empty and have the same length")
    if weights is not None and sum(weights) <= 0:
        raise ConfigError(f"data.weights must not all be 0, got {list(weights)}")
    w = None if weights is None else torch.tensor(weights)
    return GaussianMixture(torch.tensor(means).reshape(-1, 1), torch.tensor(sigmas), w, name="mixture1d")

