"""A categorical latent code: the generator as a mixture of K generators sharing weights.

``z = [scale * onehot(c), eps]`` with ``c ~ Uniform{0..K-1}`` and ``eps ~ N(0, sigma^2 I_{dim-K})``:
a mixture of ``K`` Gaussians whose means are the scaled basis vectors and whose variance is
zero in the code coordinates. Through G's first layer each code gets its own bias, so the
generator is ``K`` generators that share every weight but that bias: MGAN's parameter
sharing (Hoang et al. 2018, "MGAN: Training Generative Adversarial Nets with Multiple
Generators") and InfoGAN's categorical code (Chen et al. 2016) without the mutual-information
term: nothing ties a code to what it generates, so codes may share a mode or split one. With
``model=infogan`` (:mod:`gankit.recipes.infogan`) the same one-hot code is fed with a Q head
on D's body and the lower bound ``L_I = E log Q(c | G(z, c)) + H(c)`` in G's and Q's losses,
which makes the code recoverable from the sample (``metric codes`` scores it). Unlike a
mixture with continuous overlap (``prior=mog``), the codes are disconnected, so a continuous
G can reach disconnected modes without putting mass in between; with ``K`` equal to the
number of modes, a one-to-one assignment is also perfectly balanced.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.networks.priors import PRIORS, Prior
from gankit.registry import Count, Positive

HOANG = "Hoang et al. 2018, 'MGAN: Training GANs with Multiple Generators'; Chen et al. 2016 (InfoGAN)"


class CategoricalCode(Prior):
    """``(n, dim)`` latents: ``K`` one-hot code coordinates times ``scale``, then ``dim - K`` N(0, sigma^2)."""

    def __init__(self, dim: int, components: int, scale: float, sigma: float = 1.0) -> None:
        if dim <= components:
            raise ConfigError(f"prior 'categorical' with {components} components needs latent_dim > {components} "
                              f"(the code plus at least one noise coordinate), got {dim}")
        self.dim, self.components, self.scale, self.sigma = dim, components, scale, sigma

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> Tensor:
        c = torch.randint(self.components, (n,), generator=generator)
        eps = torch.randn(n, self.dim - self.components, generator=generator) * self.sigma
        code = torch.nn.functional.one_hot(c, self.components).float() * self.scale  # (n, K)
        return torch.cat([code, eps], dim=1).to(device)                               # (n, dim)


@PRIORS.register("categorical", paper=HOANG)
def categorical_prior(dim: int, *, components: Count = 8, scale: Positive = 1.0, sigma: Positive = 1.0) -> Prior:
    """One-hot code of K components (times scale) plus N(0, sigma^2 I) noise: latent_dim = K + noise dims."""
    return CategoricalCode(dim, components, scale, sigma)
