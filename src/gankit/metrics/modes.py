"""Mode coverage on mixtures of Gaussians (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

A generated sample is *high quality* if it lies within ``3 sigma`` of its nearest mode
mean; a mode is *captured* if it is the nearest mean of at least one high-quality sample.
The reverse KL is ``KL(generated mode histogram || mode weights)`` over high-quality samples
(uniform weights: PacGAN's code). With modes of different spreads, distances are measured in
each mode's own sigma. A perfect sampler scores ``1 - exp(-9/2) = 98.89 %`` HQ in 2-D.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.capabilities import KnownModes
from gankit.metrics.base import METRICS, EvalContext
from gankit.metrics.needs import KNOWN_MODES


def mode_statistics(samples: Tensor, means: Tensor, sigma: float | Tensor, *, threshold: float = 3.0,
                    weights: Tensor | None = None) -> dict[str, float]:
    """Modes captured, % high-quality samples, reverse KL of the mode histogram to the mode weights.

    Args:
        samples: ``(n, d)`` generated points.
        means: ``(K, d)`` mode means.
        sigma: the modes' standard deviation, one number or ``(K,)`` per mode. A sample
            belongs to the mode nearest in units of that mode's sigma, and is high quality
            within ``threshold`` of them (with one sigma, the plain nearest mean and 3 sigma).
        weights: ``(K,)`` mode weights, the reference of the reverse KL (default uniform,
            as in PacGAN's code).
    """
    x = samples.double().reshape(samples.shape[0], -1)
    mu = means.double()
    k = mu.shape[0]
    sig = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1).expand(k)
    dist = torch.cdist(x, mu) / sig                           # (n, K), in each mode's sigmas
    nearest_d, nearest = dist.min(dim=1)                      # (n,)
    hq = nearest_d <= threshold
    counts = torch.bincount(nearest[hq], minlength=k).double()  # (K,)
    captured = int((counts > 0).sum())
    w = torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None else weights.double() / weights.sum()
    if counts.sum() > 0:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float((p[nz] * torch.log(p[nz] / w[nz])).sum())
    else:
        reverse_kl = math.inf
    return {"modes": float(captured), "modes_total": float(k),
            "hq_percent": 100.0 * float(hq.double().mean()), "reverse_kl": reverse_kl}


@METRICS.register("modes", paper="Srivastava et al. 2017 (VEEGAN); Lin et al. 2018 (PacGAN)",
                  needs=(KNOWN_MODES,), default_for={"modes": 0})
def modes_metric(ctx: EvalContext, *, threshold: float = 3.0) -> dict[str, float]:
    """Modes captured, % high-quality samples (within 3 sigma) and reverse KL to uniform."""
    data = ctx.data
    if not isinstance(data, KnownModes):
        raise ValueError(f"the 'modes' metric needs a mixture data set with known means, not {data.name!r}")
    fake = ctx.generate(ctx.num_samples, None)
    return mode_statistics(fake, data.means, data.sigmas, threshold=threshold, weights=data.weights)
