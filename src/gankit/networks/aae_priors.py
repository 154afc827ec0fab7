"""Latent priors with a density and labelled components, as the adversarial autoencoder needs.

The AAE (Makhzani et al. 2015) matches the aggregated posterior ``q(z)`` of its codes to a
prior ``p(z)`` it can only *sample* during training; to plot the codes over ``p(z)``, to
measure where codes land, and for the supervised variant (the label ``y`` picks the
component ``p(z | y)`` the discriminator compares codes of class ``y`` against), a prior
here also has:

* ``sample(n, generator, device, labels=None)``: with ``labels (n,)`` each row comes from
  its label's component;
* ``log_prob(z)``: ``log p(z)`` (float64, ``(n,)``). ``z`` may hold only the first ``m <= dim``
  coordinates: the result is then the marginal of those, exact because every prior here
  draws the coordinates past the second as independent ``N(0, 1)``;
* ``component_log_prob(z)``: ``log p(z | k)``, ``(n, K)``; ``assign(z)`` the most likely ``k``
  (the Bayes classifier, the components having equal weights).

The registered priors ``normal``, ``uniform`` and ``mog`` (``gankit.networks.priors``) get
this view through :func:`as_latent_prior`; ``swissroll`` is registered here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.networks.priors import PRIORS, GaussianMixturePrior, Prior, StandardNormal, Uniform
from gankit.registry import Count, Positive

LOG_2PI = math.log(2 * math.pi)


def _normal_log_prob(z: Tensor) -> Tensor:
    """Sum over columns of ``log N(z_i; 0, 1)``; ``(n, m) -> (n,)`` float64."""
    z = z.double()
    return -0.5 * (z**2).sum(1) - 0.5 * z.shape[1] * LOG_2PI


class LatentPrior(Prior):
    """A prior ``p(z) = (1/K) sum_k p(z | k)`` (``K = num_components``, 0 = unlabelled)."""

    dim: int
    num_components: int = 0
    extent: float = 4.0  # [-extent, extent]^2 holds the first two coordinates' mass (plots, grids)

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu",
               labels: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def component_log_prob(self, z: Tensor) -> Tensor:
        """``log p(z | k)``: ``z (n, m) -> (n, K)`` float64."""
        raise ConfigError(f"prior {type(self).__name__} has no labelled components")

    def log_prob(self, z: Tensor) -> Tensor:
        """``log p(z)``: ``z (n, m) -> (n,)`` float64 (marginal of the first m coordinates)."""
        return torch.logsumexp(self.component_log_prob(z), dim=1) - math.log(self.num_components)

    def assign(self, z: Tensor) -> Tensor:
        """Most likely component ``argmax_k p(z | k)``: ``(n, m) -> (n,)`` long."""
        return self.component_log_prob(z).argmax(dim=1)

    def _components(self, n: int, generator: torch.Generator | None, labels: Tensor | None) -> Tensor:
        if labels is None:
            return torch.randint(self.num_components, (n,), generator=generator)
        if not self.num_components:
            raise ConfigError(f"prior {type(self).__name__} has no components for labels to select")
        labels = labels.long().cpu()
        if labels.shape != (n,) or int(labels.min()) < 0 or int(labels.max()) >= self.num_components:
            raise ValueError(f"labels must be (n,) in 0..{self.num_components - 1}")
        return labels


class GaussianPrior(LatentPrior):
    """``z ~ N(0, I_dim)``; draws exactly what ``StandardNormal`` draws from a generator."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu",
               labels: Tensor | None = None) -> Tensor:
        if labels is not None:
            self._components(n, generator, labels)  # raises: no components
        return torch.randn(n, self.dim, generator=generator).to(device)  # (n, dim)

    def log_prob(self, z: Tensor) -> Tensor:
        return _normal_log_prob(z)


class BoxPrior(LatentPrior):
    """``z ~ U[-1, 1]^dim`` with density ``2^-dim`` inside the box."""

    extent = 1.2

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu",
               labels: Tensor | None = None) -> Tensor:
        if labels is not None:
            self._components(n, generator, labels)
        return (2 * torch.rand(n, self.dim, generator=generator) - 1).to(device)

    def log_prob(self, z: Tensor) -> Tensor:
        z = z.double()
        inside = (z.abs() <= 1).all(dim=1)
        out = torch.full(inside.shape, -z.shape[1] * math.log(2.0), dtype=torch.float64)
        return out.masked_fill(~inside, -math.inf)


class CircleMixture(LatentPrior):
    """``K`` Gaussians with means ``radius (cos 2 pi k / K, sin 2 pi k / K)`` in the first two
    coordinates, std ``sigma`` there and 1 in the rest; the same distribution as ``mog`` and,
    unlabelled, the same draws from a generator (the mixture prior of Makhzani et al. 2015)."""

    def __init__(self, dim: int, components: int = 10, radius: float = 4.0, sigma: float = 0.5) -> None:
        base = GaussianMixturePrior(dim, components, radius, sigma)
        self.dim, self.num_components, self.radius, self.sigma = dim, components, radius, sigma
        self.means = base.means.double()                    # (K, dim)
        self.scale = torch.ones(dim, dtype=torch.float64)
        self.scale[: min(2, dim)] = sigma
        self.extent = max(radius + 4 * sigma, 4.0 if dim > 2 else 0.0)

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu",
               labels: Tensor | None = None) -> Tensor:
        k = self._components(n, generator, labels)
        eps = torch.randn(n, self.dim, generator=generator)
        return (self.means[k].float() + eps * self.scale.float()).to(device)

    def component_log_prob(self, z: Tensor) -> Tensor:
        z = z.double().cpu()
        m = z.shape[1]
        s, mu = self.scale[:m], self.means[:, :m]           # (m,), (K, m)
        d2 = (((z[:, None, :] - mu[None]) / s) ** 2).sum(2)  # (n, K)
        return -0.5 * d2 - torch.log(s).sum() - 0.5 * m * LOG_2PI


class SwissRoll(LatentPrior):
    """A swiss roll in the first two coordinates, ``N(0, 1)`` in the rest (Makhzani et al. 2015).

    ``u ~ U(0, 1)``, ``t = (1.5 + 3u) pi``, ``z = radius (t cos t, t sin t) / (4.5 pi) + sigma eps``;
    component ``k`` is the stretch ``u in [k/K, (k+1)/K)``. The density
    ``p(z | k) = K int_{k/K}^{(k+1)/K} N(z; c(u), sigma^2 I) du`` is evaluated by Gauss-Legendre
    quadrature on ``per_component`` nodes per stretch (their spacing along the roll is well below
    sigma, and the rule is exact up to the stretch's sharp ends).
    """

    def __init__(self, dim: int, components: int = 10, radius: float = 3.0, sigma: float = 0.15,
                 per_component: int = 120) -> None:
        if dim < 2:
            raise ConfigError(f"the swissroll prior needs latent_dim >= 2, got {dim}")
        if components < 1 or radius <= 0 or sigma <= 0:
            raise ConfigError("swissroll needs components >= 1, radius > 0 and sigma > 0")
        self.dim, self.num_components, self.radius, self.sigma = dim, components, radius, sigma
        self.extent = radius + 4 * sigma
        x, w = np.polynomial.legendre.leggauss(per_component)           # nodes on [-1, 1]
        u = (torch.arange(components, dtype=torch.float64)[:, None] + (torch.from_numpy(x) + 1) / 2) / components
        self.nodes = self.curve(u.reshape(-1)).view(components, per_component, 2)
        # K * (stretch length 1/K) / 2 * w_i: each stretch's weights sum to one.
        self.log_weights = torch.log(torch.from_numpy(w) / 2)          # (per_component,)

    def curve(self, u: Tensor) -> Tensor:
        """The roll's centre line ``c(u)``: ``(n,) -> (n, 2)``."""
        t = (1.5 + 3.0 * u) * math.pi
        return self.radius * torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=-1) / (4.5 * math.pi)

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu",
               labels: Tensor | None = None) -> Tensor:
        k = self._components(n, generator, labels)
        u = (k + torch.rand(n, generator=generator, dtype=torch.float64)) / self.num_components
        z = torch.randn(n, self.dim, generator=generator)
        z[:, :2] = (self.curve(u) + self.sigma * z[:, :2].double()).float()
        return z.to(device)

    def component_log_prob(self, z: Tensor, chunk: int = 4096) -> Tensor:
        z = z.double().cpu()
        if z.shape[1] < 2:
            raise ValueError("the swissroll density needs at least the first two coordinates")
        K, m, _ = self.nodes.shape
        flat = self.nodes.reshape(K * m, 2)
        out = []
        for part in z.split(chunk):  # bounds the (chunk, K * m) distance matrix
            d2 = torch.cdist(part[:, :2], flat) ** 2                      # (b, K m)
            lp = -0.5 * d2 / self.sigma**2 - 2 * math.log(self.sigma) - LOG_2PI
            lp = torch.logsumexp(lp.view(-1, K, m) + self.log_weights, dim=2)  # (b, K)
            out.append(lp + _normal_log_prob(part[:, 2:])[:, None])
        return torch.cat(out) if out else torch.empty(0, K, dtype=torch.float64)


def as_latent_prior(prior: Prior) -> LatentPrior:
    """The density view of a registered prior: ``normal``, ``uniform``, ``mog`` or ``swissroll``."""
    if isinstance(prior, LatentPrior):
        return prior
    if isinstance(prior, StandardNormal):
        return GaussianPrior(prior.dim)
    if isinstance(prior, Uniform):
        return BoxPrior(prior.dim)
    if isinstance(prior, GaussianMixturePrior):
        return CircleMixture(prior.dim, prior.components, prior.radius, prior.sigma)
    raise ConfigError(f"prior {type(prior).__name__} has no density; the adversarial autoencoder "
                      "needs normal, uniform, mog or swissroll")


@PRIORS.register("swissroll", paper="Makhzani et al. 2015, 'Adversarial Autoencoders'")
def swissroll_prior(dim: int, *, components: Count = 10, radius: Positive = 3.0, sigma: Positive = 0.15) -> Prior:
    """Swiss roll in the first two coordinates, cut into labelled stretches."""
    return SwissRoll(dim, components, radius, sigma)
