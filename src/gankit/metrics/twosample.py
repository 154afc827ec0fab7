"""Two-sample distances between generated and real points, with a real-vs-real baseline.

``twosample`` is the default for point data without known modes (a points file, moons,
...): energy distance and RBF MMD^2 (median-heuristic bandwidth) to *held-out* real points.

High-quality % alone rewards a generator that squeezes each mode into a point; a
two-sample distance does not. Each distance is reported next to the same statistic
between two independent real samples of the same size, the value a perfect generator
would get.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from gankit.capabilities import FiniteData, KnownModes
from gankit.metrics.base import METRICS, EvalContext
from gankit.metrics.needs import ENOUGH_ROWS, ONE_DIM
from gankit.registry import Positive


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Energy distance ``2 E|X-Y| - E|X-X'| - E|Y-Y'|`` (Szekely & Rizzo 2013), U-statistics.

    Zero iff the distributions are equal; ``scipy.stats.energy_distance`` returns the square
    root of the V-statistic version of this quantity in 1-D.
    """
    x = x.double().reshape(x.shape[0], -1)
    y = y.double().reshape(y.shape[0], -1)
    n, m = x.shape[0], y.shape[0]
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).sum() / (n * (n - 1))
    yy = torch.cdist(y, y).sum() / (m * (m - 1))
    return float(2 * xy - xx - yy)


def gaussian_mmd2(x: Tensor, y: Tensor, bandwidth: float) -> float:
    """Unbiased MMD^2 with one Gaussian kernel ``exp(-|a-b|^2 / (2 h^2))`` (Gretton et al. 2012)."""
    x = x.double().reshape(x.shape[0], -1)
    y = y.double().reshape(y.shape[0], -1)
    n, m = x.shape[0], y.shape[0]
    k = lambda a, b: torch.exp(-torch.cdist(a, b) ** 2 / (2 * bandwidth**2))
    kxx = (k(x, x).sum() - n) / (n * (n - 1))
    kyy = (k(y, y).sum() - m) / (m * (m - 1))
    return float(kxx + kyy - 2 * k(x, y).mean())


def _real_pair(ctx: EvalContext, n: int) -> tuple[Tensor, Tensor]:
    a, _ = ctx.data.sample(n, ctx.generator(1))
    b, _ = ctx.data.sample(n, ctx.generator(2))
    return a, b


@METRICS.register("energy", paper="Szekely & Rizzo 2013", needs=(ENOUGH_ROWS,), default_for={"1d": 1, "modes": 1})
def energy_metric(ctx: EvalContext) -> dict[str, float]:
    """Energy distance generated-vs-real and its real-vs-real baseline."""
    n = ctx.num_samples
    real, real2 = _real_pair(ctx, n)
    fake = ctx.generate(n, None)
    return {"energy": energy_distance(fake, real), "energy_baseline": energy_distance(real2, real)}


@METRICS.register("mmd", paper="Gretton et al. 2012", needs=(ENOUGH_ROWS,))
def mmd_metric(ctx: EvalContext, *, bandwidth: float | None = None) -> dict[str, float]:
    """Unbiased Gaussian-kernel MMD^2 generated-vs-real (bandwidth: the modes' sigma if known)."""
    n = ctx.num_samples
    real, real2 = _real_pair(ctx, n)
    sigma = ctx.data.sigma if isinstance(ctx.data, KnownModes) else 1.0
    h = bandwidth if bandwidth is not None else float(sigma) * 3
    fake = ctx.generate(n, None)
    return {"mmd2": gaussian_mmd2(fake, real, h), "mmd2_baseline": gaussian_mmd2(real2, real, h)}


MEDIAN_ROWS = 2000  # the median heuristic's sample: 2 million distances, a stable median at any n


def median_bandwidth(x: Tensor) -> float:
    """The median heuristic (Gretton et al. 2012): the median of the distances ``|x_i - x_j|``,
    ``i < j``, of the first :data:`MEDIAN_ROWS` rows of ``x (n, d)`` (for even counts the mean
    of the two middle ones, as numpy's). A sample of one repeated point has median 0; its
    mean distance, or 1, is used instead."""
    x = x[:MEDIAN_ROWS].double().reshape(min(x.shape[0], MEDIAN_ROWS), -1)
    n = x.shape[0]
    i, j = torch.triu_indices(n, n, offset=1)
    dist = torch.cdist(x, x)[i, j]
    if dist.numel() == 0:
        return 1.0
    h = float(np.median(dist.numpy()))
    if h > 0:
        return h
    mean = float(dist.mean())
    return mean if mean > 0 else 1.0


def heldout_pair(ctx: EvalContext, n: int) -> tuple[Tensor, Tensor]:
    """``(reference, baseline)``: two independent real samples, the first the one generated
    points are compared with, the second a real sample of the size a generated one gets.

    * a :class:`~gankit.data.points.PointsSource` with a held-out split: the reference is that
      split (its first ``n`` rows in a seeded order), the baseline ``min(n, N_train)`` rows of
      the training split, so the baseline is the distance the training points themselves are
      from unseen data;
    * another finite set: two disjoint halves of one seeded permutation (``min(n, N // 2)`` each);
    * a distribution: two samples of ``n`` from differently seeded generators.
    """
    data = ctx.data
    test = data.test_x
    if isinstance(data, FiniteData) and test is not None and len(test) >= 2:
        ref = test[torch.randperm(len(test), generator=ctx.generator(1))[:n]]
        base = data.x[torch.randperm(len(data), generator=ctx.generator(2))[:min(n, len(data))]]
        return ref, base
    if isinstance(data, FiniteData):
        m = min(n, len(data) // 2)
        perm = torch.randperm(len(data), generator=ctx.generator(1))
        return data.x[perm[:m]], data.x[perm[m:2 * m]]
    return _real_pair(ctx, n)


@METRICS.register("twosample", paper="Szekely & Rizzo 2013 (energy); Gretton et al. 2012 (MMD, median heuristic)",
                  default_for={"points": 0})
def twosample_metric(ctx: EvalContext, *, bandwidth: Positive | None = None) -> dict[str, float]:
    """Energy distance and unbiased RBF MMD^2 to held-out real data, each beside its real-vs-real baseline.

    Generated points are compared with the reference sample of :func:`heldout_pair`, and so
    is the baseline sample, drawn to the generated sample's size: a perfect sampler's values
    scatter around the baselines (both estimators are unbiased: 0 in expectation for equal
    distributions). The kernel is ``exp(-|a-b|^2 / (2 h^2))`` with ``h`` = ``bandwidth`` or the
    median distance of the reference sample (fixed by the real data, so a collapsed
    generator cannot change its own kernel); ``mmd2_bandwidth`` reports ``h``."""
    ref, base = heldout_pair(ctx, ctx.num_samples)
    fake = ctx.generate(base.shape[0], None)
    h = bandwidth if bandwidth is not None else median_bandwidth(ref)
    return {"energy": energy_distance(fake, ref), "energy_baseline": energy_distance(base, ref),
            "mmd2": gaussian_mmd2(fake, ref, h), "mmd2_baseline": gaussian_mmd2(base, ref, h), "mmd2_bandwidth": h}


def binned_jsd(p: Tensor, q: Tensor) -> float:
    """JSD (nats) between two discrete distributions given as (unnormalised) bin masses."""
    p = p.double() / p.sum()
    q = q.double() / q.sum()
    m = 0.5 * (p + q)
    kl = lambda a: float(torch.where(a > 0, a * torch.log(a / m.clamp_min(1e-300)), torch.zeros_like(a)).sum())
    return 0.5 * kl(p) + 0.5 * kl(q)


@METRICS.register("jsd1d", needs=(ONE_DIM,), default_for={"1d": 0})
def jsd1d_metric(ctx: EvalContext, *, bins: int = 800) -> dict[str, float]:
    """JSD(p_data || p_g) for 1-D mixtures: exact data bin masses (CDF differences) vs
    generated bin masses from ``num_samples * 40`` samples, on a fine grid over the data's range."""
    data = ctx.data
    if not (isinstance(data, KnownModes) and data.dim == 1):
        raise ValueError("the 'jsd1d' metric needs a 1-D mixture data set")
    lo = float((data.means[:, 0] - 6 * data.sigmas).min())
    hi = float((data.means[:, 0] + 6 * data.sigmas).max())
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    # Exact bin masses of the data: sum_k w_k (Phi((b - mu_k)/s_k) - Phi((a - mu_k)/s_k)).
    z = (edges[:, None] - data.means[None, :, 0]) / data.sigmas[None, :]
    cdf = (0.5 * (1 + torch.erf(z / math.sqrt(2))) * data.weights[None, :]).sum(dim=1)
    p = cdf[1:] - cdf[:-1]
    fake = ctx.generate(ctx.num_samples * 40, None).double().reshape(-1)
    inside = (fake >= lo) & (fake < hi)
    q = torch.histc(fake[inside], bins=bins, min=lo, max=hi)
    # Generated mass outside the window counts as one extra bin the data never visits.
    p = torch.cat([p, torch.zeros(1, dtype=torch.float64)])
    q = torch.cat([q.double(), (~inside).sum().double().reshape(1)])
    return {"jsd": binned_jsd(p, q)}
