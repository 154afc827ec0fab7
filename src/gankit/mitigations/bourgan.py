"""BourGAN: a latent mixture built from the data by a metric embedding (Xiao, Zhong & Zheng
2018, "BourGAN: Generative Networks with Metric Embeddings").

A subsample of ``m`` data points, with their pairwise distances, is embedded into
``R^latent_dim`` by Bourgain's construction: coordinate j is the distance of a point to a
random subset of the sample that keeps each point with probability ``2^-i``, the scales
i = 1..ceil(log2 m) taken in turn, all divided by ``sqrt(latent_dim)``. Each coordinate is
1-Lipschitz, so the embedding never stretches a distance; Bourgain's theorem (1985) says
that with O(log² m) coordinates it also shrinks none by more than O(log m), with high
probability. The latent distribution is the uniform mixture of Gaussians centred at the
embedded points: clusters of the data become clusters of the latent, and the number of
modes is read off the data rather than given by the user. The embedded points are centred
and scaled to RMS norm sqrt(latent_dim), as in the authors' code, so the latent has the
location and size of the N(0, I) it replaces.

The generator also keeps latent distances: ``weight * E[(log(1 + |G(z) - G(z')|) -
log(1 + u |z - z'|))²]`` over pairs of a batch (the paper's distance-preservation term), where
``u`` puts latent distances in the data's units: the scale that best matches the embedded
sample's distances to its data distances in log (the geometric mean of d_data / d_latent over
its pairs; the code multiplies by a factor of its own, max sqrt(d_data / d_latent), for the
same purpose). Without it, the term would ask G to shrink or stretch every distance by the
embedding's arbitrary scale.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from gankit.capabilities import FiniteData
from gankit.data.base import sample_aside
from gankit.errors import ConfigError
from gankit.networks.priors import Prior
from gankit.registry import Count, NonNegative, Positive
from gankit.mitigations.base import MITIGATIONS, Mitigation

XIAO = "Xiao, Zhong & Zheng 2018, 'BourGAN: Generative Networks with Metric Embeddings'"


def scales(m: int) -> int:
    """The number of subset densities 2^-1 .. 2^-L of Bourgain's construction: L = ceil(log2 m)."""
    return max(1, math.ceil(math.log2(max(m, 2))))


def bourgain_embedding(dist: Tensor, dim: int, generator: torch.Generator) -> Tensor:
    """Embed a finite metric, given as its distance matrix ``dist (m, m)``, into ``R^dim``.

    Coordinate j is ``d(x, S_j) / sqrt(dim)`` with ``S_j`` keeping each point with
    probability ``2^-(1 + j mod L)`` (never empty). Returns ``(m, dim)``."""
    m = dist.shape[0]
    L = scales(m)
    cols = []
    for j in range(dim):
        keep = torch.rand(m, generator=generator) < 2.0 ** -(1 + j % L)
        if not keep.any():
            keep[torch.randint(m, (1,), generator=generator)] = True
        cols.append(dist[:, keep].min(dim=1).values)                  # (m,) distance to the subset
    return torch.stack(cols, dim=1) / math.sqrt(dim)                  # (m, dim)


def pairs(dist: Tensor, emb_dist: Tensor) -> tuple[Tensor, Tensor]:
    """The entries of two ``(m, m)`` distance matrices at each pair of distinct points, once each."""
    iu = torch.triu_indices(dist.shape[0], dist.shape[0], 1)
    return dist[iu[0], iu[1]], emb_dist[iu[0], iu[1]]


def distortion(dist: Tensor, emb: Tensor) -> tuple[float, float]:
    """``(expansion, contraction)`` of an embedding over all pairs of distinct points:
    max |f(x) - f(y)| / d(x, y) and max d(x, y) / |f(x) - f(y)|; their product is the distortion."""
    d, de = pairs(dist, torch.cdist(emb, emb))
    pos = d > 0
    return float((de[pos] / d[pos]).max()), float((d[pos] / de[pos].clamp_min(1e-300)).max())


class BourgainPrior(Prior):
    """The uniform mixture of isotropic Gaussians at the embedded sample points."""

    def __init__(self, centres: Tensor, sigma: float, points: Tensor, unit: float = 1.0) -> None:
        self.centres, self.sigma, self.points = centres, sigma, points   # points: the data rows embedded
        self.unit = unit                     # latent distance x unit = distance in the data's units
        self.dim = centres.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> Tensor:
        k = torch.randint(self.centres.shape[0], (n,), generator=generator)
        z = self.centres[k] + self.sigma * torch.randn(n, self.dim, generator=generator)
        return z.to(device)


def log_scale(dist: Tensor, emb: Tensor) -> float:
    """The factor u minimising sum over pairs (log d(x, y) - log(u |f(x) - f(y)|))²: the
    geometric mean of d / |f(x) - f(y)| over pairs of distinct, non-coincident points."""
    d, de = pairs(dist.double(), torch.cdist(emb.double(), emb.double()))
    keep = (d > 0) & (de > 0)
    return float(torch.exp((d[keep].log() - de[keep].log()).mean())) if keep.any() else 1.0


def normalise(emb: Tensor) -> tuple[Tensor, float]:
    """Centre an embedding and scale it to RMS norm sqrt(dim), the norm of a standard normal
    latent, as the authors' code does before sampling. Raw Bourgain coordinates are distances,
    all positive with a common offset, so the centres would sit far off the origin in a thin
    shell that the generator's first layer has to undo; one uniform scale keeps every
    distance ratio, so the distortion is unchanged."""
    c = emb - emb.mean(dim=0, keepdim=True)
    rms = float(c.pow(2).sum(dim=1).mean().sqrt())
    return c * (math.sqrt(emb.shape[1]) / rms) if rms > 0 else c


def build_prior(data: Any, dim: int, samples: int, sigma: float, seed: int,
                transform: Any = None) -> BourgainPrior:
    """Subsample the data (leaving its training order untouched), embed, centre and rescale
    (:func:`normalise`), and put a Gaussian of ``sigma`` times the median nearest-centre
    distance at every embedded point. ``transform``:
    the standardisation training uses, so the latent sees the data as the networks do."""
    g = torch.Generator().manual_seed(seed * 104729 + 11)
    x, _ = sample_aside(data, samples, g)
    if transform is not None:
        x = transform(x)
    x = x.reshape(x.shape[0], -1).double()                            # (m, D)
    dist = torch.cdist(x, x)                                          # (m, m)
    centres = normalise(bourgain_embedding(dist, dim, g))
    unit = log_scale(dist, centres)
    centres = centres.float()
    nn = torch.cdist(centres, centres).fill_diagonal_(float("inf"))     # (m, m), a point is not its own neighbour
    nearest = nn.min(dim=1).values
    nearest = nearest[nearest > 0]
    scale = float(nearest.median()) if nearest.numel() else 1.0
    return BourgainPrior(centres, sigma * scale, x.float(), unit)


class BourGAN(Mitigation):
    name = "bourgan"

    def __init__(self, samples: int, sigma: float, weight: float) -> None:
        self.samples, self.sigma, self.weight = samples, sigma, weight
        self.unit = 1.0                      # set by wrap_prior: the prior's latent-to-data factor

    def wrap_prior(self, prior: Any, recipe: Any) -> Prior:
        dim, L = recipe.latent_dim, scales(self.samples)
        if dim < L:
            raise ConfigError(f"mitigations.bourgan with {self.samples} samples needs latent_dim >= {L} "
                              f"(one coordinate per scale; Bourgain's bound needs about {L * L}), got {dim}")
        if recipe.num_classes:
            raise ConfigError("mitigations.bourgan is for unconditional models (conditional=false)")
        size = len(recipe.data) if isinstance(recipe.data, FiniteData) else None   # None: a sampler without end
        if size is not None and self.samples > size:
            raise ConfigError(f"mitigations.bourgan.samples={self.samples} exceeds the data set's {size} "
                              "training examples; use at most that many")
        prior = build_prior(recipe.data, dim, self.samples, self.sigma, recipe.cfg.seed,
                            transform=recipe.transform)
        self.unit = prior.unit
        return prior

    def g_extra_loss(self, recipe: Any, fake: Tensor, y: Tensor | None, z: Tensor) -> Tensor | None:
        if self.weight == 0 or fake.shape[0] < 2:
            return None
        h = fake.shape[0] // 2
        f = fake.reshape(fake.shape[0], -1).float()
        dx = (f[:h] - f[h:2 * h]).norm(dim=1)
        dz = (z[:h] - z[h:2 * h]).float().norm(dim=1) * self.unit    # in the data's units
        return self.weight * ((torch.log1p(dx) - torch.log1p(dz)) ** 2).mean()


@MITIGATIONS.register("bourgan", paper=XIAO)
def bourgan(*, samples: Count = 256, sigma: Positive = 0.1, weight: NonNegative = 1.0) -> Mitigation:
    """Latent = Gaussians at a Bourgain embedding of a data subsample (no mode count given),
    plus a distance-preservation term in G's loss; needs latent_dim >= log2(samples)."""
    return BourGAN(samples, sigma, weight)
