"""Metrics of an adversarial autoencoder run (Makhzani et al. 2015).

* ``recon``: per-pixel reconstruction MSE on the training data and, when the data set has
  one, its test split, next to the MSE of always answering the mean training image;
* ``latent_mmd``: unbiased Gaussian-kernel MMD^2 (Gretton et al. 2012) between the codes
  of the data and prior samples, next to the same statistic between two prior samples of
  the same size (what codes distributed exactly as the prior would get);
* ``latent_components``: the fraction of codes whose most likely prior component is their
  label's (the supervised AAE's aim), next to that fraction for prior samples drawn from
  their label's component (a perfect encoder's score; below 1 where components overlap).

They need the run's model (``ctx.model``), an :class:`~gankit.capabilities.Encodes`:
``encode``, ``reconstruct``, ``prior`` and ``heldout``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.capabilities import Encodes
from gankit.data.base import DataSource
from gankit.metrics.base import METRICS, EvalContext
from gankit.metrics.needs import COMPONENT_LABELS, ENCODES, PRIOR_COMPONENTS
from gankit.metrics.twosample import gaussian_mmd2


def _model(ctx: EvalContext, metric: str) -> Encodes:
    model = ctx.model
    if not isinstance(model, Encodes):
        raise ValueError(f"the {metric!r} metric needs a model that encodes x into z (model=aae, bigan)")
    return model


def examples(source: DataSource, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
    """Up to ``n`` examples on the CPU, without replacement; a finite set's epoch position is left untouched."""
    if source.x is not None:
        idx = torch.randperm(source.x.shape[0], generator=generator)[:n]
        y = source.y
        return source.x[idx].cpu(), (None if y is None else y[idx].cpu())
    x, y = source.sample(n, generator)
    return x.cpu(), (None if y is None else y.cpu())


def mse(a: Tensor, b: Tensor) -> float:
    """``mean (a - b)^2`` over every element, in float64."""
    return float(((a.double() - b.double()) ** 2).mean())


def median_distance(z: Tensor) -> float:
    """Median of the pairwise Euclidean distances ``|z_i - z_j|, i < j`` (the median heuristic)."""
    z = z.double()
    d = torch.cdist(z, z)
    i, j = torch.triu_indices(z.shape[0], z.shape[0], offset=1)
    return float(d[i, j].median())


@METRICS.register("recon", paper="Makhzani et al. 2015", needs=(ENCODES,))
def recon_metric(ctx: EvalContext) -> dict[str, float]:
    """Reconstruction MSE per pixel (train and test split) and the mean-image baseline."""
    model = _model(ctx, "recon")
    x, _ = examples(ctx.data, ctx.num_samples, ctx.generator(21))
    out = {"recon_mse": mse(model.reconstruct(x), x)}
    target = x
    test = model.heldout()
    if test is not None:
        target, _ = examples(test, ctx.num_samples, ctx.generator(22))
        out["recon_mse_test"] = mse(model.reconstruct(target), target)
    out["recon_mse_mean_image"] = mse(x.mean(0, keepdim=True).expand_as(target), target)
    return out


@METRICS.register("latent_mmd", paper="Gretton et al. 2012; Makhzani et al. 2015", needs=(ENCODES,))
def latent_mmd_metric(ctx: EvalContext, *, bandwidth: float | None = None) -> dict[str, float]:
    """MMD^2 between the data's codes and prior samples, and prior-vs-prior (bandwidth: median heuristic)."""
    model = _model(ctx, "latent_mmd")
    x, _ = examples(ctx.data, ctx.num_samples, ctx.generator(21))
    codes = model.encode(x)                                      # (n, latent_dim)
    n = codes.shape[0]
    p1 = model.prior.sample(n, generator=ctx.generator(23))
    p2 = model.prior.sample(n, generator=ctx.generator(24))
    # The kernel depends on the prior only, so the codes of every model meet the same test.
    h = bandwidth if bandwidth is not None else median_distance(p1)
    return {"latent_mmd2": gaussian_mmd2(codes, p1, h), "latent_mmd2_baseline": gaussian_mmd2(p2, p1, h),
            "latent_mmd_bandwidth": h}


def _hit_rate(prior: Any, z: Tensor, y: Tensor) -> float:
    return float((prior.assign(z) == y).double().mean())


@METRICS.register("latent_components", paper="Makhzani et al. 2015 (label information in the regularisation)",
                  needs=(ENCODES, PRIOR_COMPONENTS, COMPONENT_LABELS))
def latent_components_metric(ctx: EvalContext) -> dict[str, float]:
    """Fraction of codes in their label's prior component (train, test split, prior samples)."""
    model = _model(ctx, "latent_components")
    prior = model.prior
    k = prior.num_components
    if not k:
        raise ValueError("the 'latent_components' metric needs a prior with components (mog, swissroll)")
    x, y = examples(ctx.data, ctx.num_samples, ctx.generator(21))
    if y is None or ctx.data.num_classes != k:
        raise ValueError(f"the 'latent_components' metric needs {k} labelled classes, one per prior component")
    out = {"component_accuracy": _hit_rate(prior, model.encode(x), y)}
    test = model.heldout()
    if test is not None:
        xt, yt = examples(test, ctx.num_samples, ctx.generator(22))
        out["component_accuracy_test"] = _hit_rate(prior, model.encode(xt), yt)
    labels = torch.arange(ctx.num_samples) % k
    z = prior.sample(ctx.num_samples, generator=ctx.generator(25), labels=labels)
    out["component_accuracy_prior"] = _hit_rate(prior, z, labels)
    return out
