"""InfoGAN's latent: incompressible noise plus the codes whose information is maximised.

``z = [onehot(c) (K), u (M), eps (dim - K - M)]`` with ``c ~ Uniform{0..K-1}`` (a categorical
code), ``u ~ U[-1, 1]^M`` (continuous codes) and ``eps`` from the noise prior (Chen et al.
2016, sec. 5: 10 categorical values, 2 continuous codes and 62 noise variables on MNIST).
The codes can be chosen (:meth:`LatentCodes.compose`), which is how sample grids with one
row per categorical value and a continuous code varying along each row are drawn.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError
from gankit.networks.priors import Prior


class LatentCodes(Prior):
    """``(n, dim)`` latents: one-hot categorical code, continuous codes, then noise."""

    def __init__(self, noise: Prior, categories: int, continuous: int) -> None:
        if categories < 2 and continuous < 1:
            raise ConfigError("InfoGAN needs a code: model.categories >= 2 or model.continuous >= 1")
        self.noise, self.categories, self.continuous = noise, categories if categories >= 2 else 0, continuous
        self.code_dim = self.categories + continuous
        self.dim = self.code_dim + noise.dim

    @property
    def categorical_entropy(self) -> float:
        """``H(c) = log K`` nats for the uniform categorical code (0 without one)."""
        return math.log(self.categories) if self.categories else 0.0

    @property
    def continuous_entropy(self) -> float:
        """Differential entropy of ``U[-1, 1]^M``: ``M log 2`` nats."""
        return self.continuous * math.log(2.0)

    def compose(self, c: Tensor | None, u: Tensor | None, eps: Tensor) -> Tensor:
        """``z (n, dim)`` from codes ``c (n,)``, ``u (n, M)`` and noise ``eps (n, noise.dim)``."""
        parts = []
        if self.categories:
            assert c is not None and c.shape == eps.shape[:1]
            parts.append(F.one_hot(c.long(), self.categories).to(eps.dtype))  # (n, K)
        if self.continuous:
            assert u is not None and u.shape == (eps.shape[0], self.continuous)
            parts.append(u.to(eps.dtype))                                        # (n, M)
        return torch.cat([*parts, eps], dim=1)                                   # (n, dim)

    def split(self, z: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """The codes of latents ``z (n, dim)``: ``c (n,)`` (or None) and ``u (n, M)`` (or None)."""
        k, m = self.categories, self.continuous
        c = z[:, :k].argmax(1) if k else None
        u = z[:, k:k + m] if m else None
        return c, u

    def sample_codes(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor | None, Tensor | None]:
        c = torch.randint(self.categories, (n,), generator=generator) if self.categories else None
        u = 2 * torch.rand(n, self.continuous, generator=generator) - 1 if self.continuous else None
        return c, u

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> Tensor:
        c, u = self.sample_codes(n, generator)
        eps = self.noise.sample(n, generator=generator)                          # (n, noise.dim), CPU
        return self.compose(c, u, eps).to(device)
