"""Which divergence does each generator loss descend, when D is optimal? (seed 004)

Generator ``x = mu + s z``, ``z ~ N(0, 1)``, so ``p_g = N(mu, s²)``; the data density is fixed
(a Gaussian, and a two-mode mixture). The discriminator is the optimal one for the current
generator, ``D* = p_data / (p_data + p_g)`` with logit ``a = log p_data - log p_g``, and it is
*held fixed* while the generator's gradient is taken (a copy of ``p_g``: Goodfellow 2016,
§3.2.3). With ``dp_g`` the derivative of the density in ``(mu, s)`` and ``int dp_g = 0``:

* maximum likelihood ``E[-exp(a(G(z)))]``: ``∫ dp_g (-p_data/p_g) = -∫ p_data d log p_g``
  ``= d KL(p_data || p_g)``;
* non-saturating ``E[-log D*(G(z))]``: ``∫ dp_g (-log D*) = d [KL(p_g || p_data) - 2 JSD]``
  (seed 004's derivation);
* saturating ``E[log(1 - D*(G(z)))]``: ``∫ dp_g log(1 - D*) = d [2 JSD]`` (Goodfellow et al. 2014).

The loss gradients are taken by autograd through gankit's loss functions along the
reparameterised path, with the expectation over ``z`` by quadrature (a Simpson grid weighted
by the normal density) and by Monte Carlo; the divergence gradients by central finite
differences of the exact divergences (:mod:`gankit.integrate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.experiments.base import EXPERIMENTS, ExperimentResult
from gankit.integrate import (
    LogProb, grid_1d, js_divergence, kl_divergence, mixture_log_prob, normal_log_prob, optimal_discriminator, span,
)
from gankit.losses import gan
from gankit.plotting.experiments import plot_generator_gradients

NAME = "generator-gradients"
CLAIM = ("with the optimal discriminator held fixed, the expected gradient of the maximum-likelihood "
         "generator loss E[-exp(logit D(G(z)))] equals the gradient of KL(p_data || p_g), that of the "
         "non-saturating loss -log D(G(z)) equals the gradient of KL(p_g || p_data) - 2 JSD (seed 004), "
         "and that of the saturating loss log(1 - D(G(z))) the gradient of 2 JSD")
F64 = torch.float64
PARAMS = ("mu", "s")

# loss name -> (gankit loss of the fake logits, divergence label, divergence(log_p_data, log_p_g, grid))
Divergence = Callable[..., Tensor]
PAIRS: dict[str, tuple[Callable[[Tensor], Tensor], str, Divergence]] = {
    "maximum-likelihood": (gan.maximum_likelihood_generator_loss, "KL(p_data||p_g)",
                           lambda pd, pg, grid: kl_divergence(pd, pg, grid)),
    "non-saturating": (gan.non_saturating_generator_loss, "KL(p_g||p_data) - 2 JSD",
                       lambda pd, pg, grid: kl_divergence(pg, pd, grid) - 2 * js_divergence(pg, pd, grid)),
    "saturating": (gan.saturating_generator_loss, "2 JSD",
                   lambda pd, pg, grid: 2 * js_divergence(pg, pd, grid)),
}


def loss_gradient_quadrature(loss: Callable[[Tensor], Tensor], log_p_data: LogProb, mu: float, s: float,
                             nodes: int) -> np.ndarray:
    """``d/d(mu, s) E_z[loss(a(mu + s z))]`` with ``a`` the fixed optimal logit; the expectation
    is ``sum_i w_i phi(z_i) loss_i`` on a Simpson grid over ``z`` in [-12, 12]."""
    grid = grid_1d(-12.0, 12.0, nodes)
    z = grid.points[:, 0]                                                   # (n,)
    w = grid.weights * torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)     # (n,)
    params = torch.tensor([mu, s], dtype=F64, requires_grad=True)
    x = params[0] + params[1] * z
    a = optimal_logit_fixed(log_p_data, mu, s, x)
    per_sample = torch.func.vmap(lambda t: loss(t[None]))(a)               # gankit's loss, sample by sample
    (g,) = torch.autograd.grad((w * per_sample).sum(), params)
    return g.numpy()


def loss_gradient_mc(loss: Callable[[Tensor], Tensor], log_p_data: LogProb, mu: float, s: float,
                     samples: int, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo estimate of the same gradient (the training-time estimator: one batch mean)
    and its standard error, from the per-sample pathwise gradients ``n dJ/dx_i (1, z_i)``."""
    z = torch.randn(samples, generator=generator, dtype=F64)
    params = torch.tensor([mu, s], dtype=F64, requires_grad=True)
    x = params[0] + params[1] * z
    a = optimal_logit_fixed(log_p_data, mu, s, x)
    g, g_x = torch.autograd.grad(loss(a), [params, x])
    per_sample = samples * g_x[:, None] * torch.stack([torch.ones_like(z), z], dim=1)   # (n, 2)
    return g.numpy(), (per_sample.std(dim=0) / math.sqrt(samples)).numpy()


def optimal_logit_fixed(log_p_data: LogProb, mu: float, s: float, x: Tensor) -> Tensor:
    """``log p_data(x) - log p_g(x)`` with p_g's parameters frozen at ``(mu, s)`` (plain floats):
    gradients flow through the sample ``x`` only, never through D*."""
    return log_p_data(x) - normal_log_prob(mu, s)(x)


def divergence_gradient(div: Divergence, log_p_data: LogProb, mu: float, s: float, support: tuple[float, float],
                        h: float, points: int) -> np.ndarray:
    """Central finite differences of the exact divergence in ``(mu, s)``."""
    grid = grid_1d(*support, points)

    def value(m: float, sd: float) -> float:
        return float(div(log_p_data, normal_log_prob(m, sd), grid))

    return np.array([(value(mu + h, s) - value(mu - h, s)) / (2 * h), (value(mu, s + h) - value(mu, s - h)) / (2 * h)])


@EXPERIMENTS.register(NAME, claim=CLAIM, plot=plot_generator_gradients,
                      paper="Goodfellow 2016, 'NIPS 2016 Tutorial: Generative Adversarial Networks', §3.2; "
                            "Goodfellow et al. 2014; Arjovsky & Bottou 2017 (the non-saturating loss)")
def generator_gradients(*, mu: float = 0.5, s: float = 1.5, data_mean: float = 0.0, data_std: float = 1.0,
                        mixture_means: list[float] = (-1.5, 1.5), mixture_std: float = 0.5,
                        nodes: int = 20001, mc_samples: int = 200_000, fd_step: float = 1e-4,
                        tolerance: float = 1e-6, seed: int = 0) -> ExperimentResult:
    """Generator-loss gradients at the optimal D vs finite differences of exact divergences.

    Options: generator ``N(mu, s²)``; data ``N(data_mean, data_std²)`` and an equal-weight mixture
    at ``mixture_means`` with std ``mixture_std``; ``nodes`` (odd) of the quadratures; ``mc_samples``
    per Monte Carlo estimate (seeded by ``seed``); ``fd_step``; ``tolerance`` on the relative
    error of the quadrature gradients (the Monte Carlo ones must lie within 5 standard errors).
    Errors are relative to the norm of the divergence's gradient in ``(mu, s)``.
    """
    if s <= 0 or data_std <= 0 or mixture_std <= 0 or not mixture_means:
        raise ConfigError("generator-gradients needs s, data_std, mixture_std > 0 and mixture_means")
    if nodes < 101 or nodes % 2 == 0 or mc_samples < 100 or fd_step <= 0:
        raise ConfigError("generator-gradients needs an odd nodes >= 101, mc_samples >= 100 and fd_step > 0")
    cases = {
        "gaussian": ([data_mean], [data_std]),
        "mixture": (list(mixture_means), [mixture_std] * len(mixture_means)),
    }
    rng = torch.Generator().manual_seed(seed)
    rows, series, checks, summary = [], {}, [], {}
    for case, (means, stds) in cases.items():
        log_p_data = mixture_log_prob(means, stds)
        support = span(means + [mu], stds + [s])
        loss_grads, div_grads = {}, {}
        for loss_name, (loss, div_name, div) in PAIRS.items():
            g_quad = loss_gradient_quadrature(loss, log_p_data, mu, s, nodes)
            g_mc, se = loss_gradient_mc(loss, log_p_data, mu, s, mc_samples, rng)
            g_div = divergence_gradient(div, log_p_data, mu, s, support, fd_step, nodes)
            scale = float(np.linalg.norm(g_div))
            for i, p in enumerate(PARAMS):
                err_quad = abs(g_quad[i] - g_div[i]) / scale
                err_mc = abs(g_mc[i] - g_div[i]) / scale
                rows.append([case, loss_name, div_name, p, float(g_quad[i]), float(g_mc[i]), float(g_div[i]),
                             err_quad, err_mc, float(abs(g_mc[i] - g_div[i]) / se[i])])
                # the quadrature is exact up to the tolerance; the Monte Carlo estimate within 5 s.e.
                checks += [err_quad < tolerance, abs(g_mc[i] - g_div[i]) < 5 * se[i]]
                loss_grads[f"{loss_name} d{p}"], div_grads[f"{loss_name} d{p}"] = float(g_quad[i]), float(g_div[i])
                key = f"max rel. error {loss_name} (quadrature)"
                summary[key] = max(summary.get(key, 0.0), err_quad)
        x = torch.linspace(*span(means + [mu], stds + [s], 4.0), 400, dtype=F64)[:, None]
        log_p_g = normal_log_prob(mu, s)
        series[case] = {"x": x[:, 0], "p_data": log_p_data(x).exp(), "p_g": log_p_g(x).exp(),
                        "d_star": optimal_discriminator(log_p_data, log_p_g, x),
                        "loss_grad": loss_grads, "divergence_grad": div_grads}
    summary["max rel. error (Monte Carlo)"] = max(r[8] for r in rows)
    return ExperimentResult(
        NAME, CLAIM,
        ["data", "generator loss", "divergence", "param", "loss grad (quadrature)", "loss grad (MC)",
         "divergence grad (FD)", "rel. error quad", "rel. error MC", "MC error / s.e."],
        rows, summary, all(checks), series={"cases": series},
    )
