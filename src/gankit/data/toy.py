"""Toy distributions with known densities: rings and grids of 2-D Gaussians, 1-D mixtures.

Each one samples and evaluates ``log_prob`` exactly, so divergences between the data and a
generator can be computed by numerical integration, and mode metrics know the true means.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.capabilities import KnownModes
from gankit.data.base import DATASETS, DataSource
from gankit.errors import ConfigError
from gankit.registry import Count, NonNegative, Positive


class GaussianMixture(DataSource, KnownModes):
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



def _mixture_from_file(path: str) -> dict[str, object]:
    """``means`` (K, d), ``sigmas`` (K,) or one number, ``weights`` (K,) from YAML/JSON or .npz."""
    from pathlib import Path

    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"data.file {path} does not exist")
    if p.suffix == ".npz":
        import numpy as np

        try:
            with np.load(p, allow_pickle=False) as z:
                return {k: z[k].tolist() for k in z.files}
        except Exception as e:  # noqa: BLE001 - numpy raises many types for foreign files
            raise ConfigError(f"data.file {path} is not a readable .npz ({type(e).__name__})") from None
    import yaml

    try:
        spec = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ConfigError(f"data.file {path} is not valid YAML/JSON") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"data.file {path} must hold a mapping with means, sigmas and weights")
    return spec


def mixture_from_spec(means: object, sigmas: object, weights: object, *, where: str = "data") -> GaussianMixture:
    """A :class:`GaussianMixture` from plain lists, checked: every number finite, sigmas > 0,
    weights >= 0 and not all 0, one row of ``d`` coordinates per component."""
    try:
        mu = torch.tensor(means, dtype=torch.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.means must be a list of points (a list of lists of numbers)") from None
    if mu.dim() == 1:
        mu = mu[:, None]
    if mu.dim() != 2 or mu.shape[0] == 0 or mu.shape[1] == 0:
        raise ConfigError(f"{where}.means must be a non-empty (K, d) list of points, got shape {tuple(mu.shape)}")
    k = mu.shape[0]
    try:
        sg = torch.tensor(sigmas, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.sigmas must be a number or a list of {k} numbers") from None
    if sg.numel() == 1:
        sg = sg.expand(k).clone()
    if sg.numel() != k:
        raise ConfigError(f"{where}.sigmas has {sg.numel()} values for {k} components")
    w = None
    if weights is not None:
        try:
            w = torch.tensor(weights, dtype=torch.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.weights must be a list of {k} numbers") from None
        if w.numel() != k:
            raise ConfigError(f"{where}.weights has {w.numel()} values for {k} components")
    for name, t in (("means", mu), ("sigmas", sg), ("weights", w)):
        if t is not None and not torch.isfinite(t).all():
            raise ConfigError(f"{where}.{name} must be finite numbers")
    if (sg <= 0).any():
        raise ConfigError(f"{where}.sigmas must be > 0")
    if w is not None and ((w < 0).any() or w.sum() <= 0):
        raise ConfigError(f"{where}.weights must be >= 0 and not all 0")
    return GaussianMixture(mu, sg, w, name="mixture")


@DATASETS.register("mixture")
def mixture(*, means: list[list[float]] | None = None, sigmas: float | list[Positive] = 0.05,
            weights: list[NonNegative] | None = None, file: str | None = None) -> GaussianMixture:
    """A mixture of isotropic Gaussians in any dimension, given inline or in a file (YAML/JSON
    or .npz with means (K, d), sigmas, weights); its exact log_prob serves every mode metric."""
    if file is not None:
        if means is not None:
            raise ConfigError("give data.means or data.file, not both")
        spec = _mixture_from_file(file)
        unknown = set(spec) - {"means", "sigmas", "weights"}
        if unknown:
            raise ConfigError(f"data.file {file}: unknown key(s) {', '.join(sorted(unknown))} "
                              "(keys: means, sigmas, weights)")
        if "means" not in spec:
            raise ConfigError(f"data.file {file} holds no 'means'")
        return mixture_from_spec(spec["means"], spec.get("sigmas", sigmas), spec.get("weights"), where="data.file")
    if means is None:
        raise ConfigError("data=mixture needs data.means (a list of points) or data.file")
    return mixture_from_spec(means, sigmas, weights)


def random_mixture(seed: int, *, modes: tuple[int, int] = (4, 30), dim: int = 2) -> dict[str, object]:
    """A randomly drawn mixture (the family of ``gankit bench generalise``).

    K modes, K uniform in ``modes``; centres uniform in a square of side ``1.6 sqrt(K)`` (about
    one unit of space per mode), kept at least 8 of their sigmas apart so that every mode is a
    mode; sigmas log-uniform in [0.01, 0.08]; equal weights for even seeds, Dirichlet(1)
    weights floored at 0.2/K for odd ones; and the whole scaled by a log-uniform factor in
    [0.3, 5], so that the data's range is never the one a recipe was tuned at. Returns the
    ``data`` section ``{"name": "mixture", "means": ..., "sigmas": ..., "weights": ...}``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    k = int(rng.integers(modes[0], modes[1] + 1))
    sig = np.exp(rng.uniform(np.log(0.01), np.log(0.08), k))
    half = 0.8 * np.sqrt(k)
    centres: list[np.ndarray] = []
    while len(centres) < k:
        c = rng.uniform(-half, half, dim)
        s = sig[len(centres)]
        if all(np.linalg.norm(c - o) >= 8 * max(s, so) for o, so in zip(centres, sig)):
            centres.append(c)
    if seed % 2:
        w = np.maximum(rng.dirichlet(np.ones(k)), 0.2 / k)
        w = w / w.sum()
    else:
        w = np.full(k, 1.0 / k)
    scale = float(np.exp(rng.uniform(np.log(0.3), np.log(5))))
    return {"name": "mixture", "means": (np.array(centres) * scale).round(6).tolist(),
            "sigmas": (sig * scale).round(6).tolist(), "weights": w.round(6).tolist()}
