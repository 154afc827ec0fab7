"""Latent priors p_z: the noise the generator pushes forward."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from gankit.registry import Count, NonNegative, Positive, Registry


class Prior:
    """A distribution over ``R^dim`` that can be sampled with an explicit ``torch.Generator``."""

    dim: int

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> Tensor:
        raise NotImplementedError


class StandardNormal(Prior):
    """``z ~ N(0, I_dim)``."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> Tensor:
        return torch.randn(n, self.dim, generator=generator).to(device)  # (n, dim)


class Uniform(Prior):
    """``z ~ U[-1, 1]^dim`` (the original GAN paper's noise)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> Tensor:
        return (2 * torch.rand(n, self.dim, generator=generator) - 1).to(device)


class GaussianMixturePrior(Prior):
    """Mixture of ``components`` isotropic Gaussians with means on a circle in the first two
    coordinates (radius ``radius``, std ``sigma``), standard normal in the rest.

    A multi-modal latent makes disconnected data modes reachable by a continuous G
    (Gurumurthy et al. 2017, DeLiGAN; Ben-Yosef & Weinshall 2018).
    """

    def __init__(self, dim: int, components: int = 8, radius: float = 2.0, sigma: float = 0.5) -> None:
        self.dim, self.components, self.radius, self.sigma = dim, components, radius, sigma
        angles = torch.arange(components) * (2 * math.pi / components)
        self.means = torch.zeros(components, dim)
        self.means[:, 0] = radius * torch.cos(angles)
        if dim > 1:
            self.means[:, 1] = radius * torch.sin(angles)

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> Tensor:
        k = torch.randint(self.components, (n,), generator=generator)
        z = torch.randn(n, self.dim, generator=generator)
        scale = torch.ones(self.dim)
        scale[: min(2, self.dim)] = self.sigma
        return (self.means[k] + z * scale).to(device)


PRIORS: Registry[Callable[..., Prior]] = Registry("prior", context=("dim",))


@PRIORS.register("normal")
def normal_prior(dim: int) -> Prior:
    """Standard normal N(0, I)."""
    return StandardNormal(dim)


@PRIORS.register("uniform", paper="Goodfellow et al. 2014")
def uniform_prior(dim: int) -> Prior:
    """Uniform on [-1, 1]^dim."""
    return Uniform(dim)


@PRIORS.register("mog", paper="Gurumurthy et al. 2017, 'DeLiGAN'")
def mog_prior(dim: int, *, components: Count = 8, radius: NonNegative = 2.0, sigma: Positive = 0.5) -> Prior:
    """Mixture of Gaussians on a circle (first two latent coordinates)."""
    return GaussianMixturePrior(dim, components, radius, sigma)
