"""Why the non-saturating loss exists: the gradient reaching G when D rejects its samples.

For a generated point with discriminator logit ``a`` (``D(G(z)) = sigmoid(a)``), every
generator loss is a function of ``a`` alone, and the gradient reaching the generator is
``dL/da * da/dx * dx/dtheta``; only the first factor depends on the loss (Goodfellow et al.
2014, §3; Goodfellow 2016, §3.2.3 and Fig. 16):

============================  =====================  ===================================
loss                          L(a)                   dL/da
============================  =====================  ===================================
saturating (minimax)          log(1 - D) = -sp(a)    -sigmoid(a) = -D          -> 0
non-saturating               -log D = sp(-a)         -(1 - sigmoid(a)) = -(1 - D)  -> -1
maximum likelihood           -exp(a)                 -exp(a) = -D / (1 - D)    -> 0
============================  =====================  ===================================

(sp = softplus). The gradients here are taken by autograd through gankit's own loss functions
in float64 and compared with these closed forms.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.experiments.base import EXPERIMENTS, ExperimentResult
from gankit.losses import gan
from gankit.plotting.experiments import plot_saturation

NAME = "saturation"
CLAIM = ("when D confidently rejects the generated samples (D(G(z)) -> 0), the gradient of the "
         "saturating generator loss log(1 - D(G(z))) vanishes (it equals D(G(z))), while the "
         "non-saturating loss -log D(G(z)) keeps a gradient of magnitude 1 - D(G(z)) -> 1")

LOSSES = {
    "saturating": gan.saturating_generator_loss,
    "non-saturating": gan.non_saturating_generator_loss,
    "maximum-likelihood": gan.maximum_likelihood_generator_loss,
}


def closed_form(name: str, a: Tensor) -> Tensor:
    """``dL/da`` of each generator loss."""
    if name == "saturating":
        return -torch.sigmoid(a)
    if name == "non-saturating":
        return -torch.sigmoid(-a)
    return -torch.exp(a)


def logit_gradient(loss: Callable[[Tensor], Tensor], a: Tensor) -> Tensor:
    """Per-sample ``dL/da`` through a loss that averages over the batch: grad of the mean * n."""
    a = a.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(a), a)
    return g * a.shape[0]


@EXPERIMENTS.register(NAME, claim=CLAIM, plot=plot_saturation,
                      paper="Goodfellow et al. 2014, 'Generative Adversarial Nets', §3; Goodfellow 2016, "
                            "'NIPS 2016 Tutorial: Generative Adversarial Networks', Fig. 16")
def saturation(*, d_min: float = 1e-6, d_max: float = 0.5, points: int = 61, seed: int = 0) -> ExperimentResult:
    """Gradient reaching G under the saturating, non-saturating and ML losses vs D(G(z)).

    Options: ``d_min``..``d_max`` the range of D(G(z)) (log-spaced, ``points`` values).
    ``seed`` is accepted for uniformity; this computation draws no random numbers.
    """
    if not 0 < d_min < d_max < 1 or points < 2:
        raise ConfigError("saturation needs 0 < d_min < d_max < 1 and points >= 2")
    d = torch.logspace(np.log10(d_min), np.log10(d_max), points, dtype=torch.float64)
    a = torch.log(d) - torch.log1p(-d)                       # logit of D(G(z)), exact in float64
    auto = {name: logit_gradient(fn, a) for name, fn in LOSSES.items()}
    exact = {name: closed_form(name, a) for name in LOSSES}
    max_err = max(float(((auto[n] - exact[n]).abs() / exact[n].abs()).max()) for n in LOSSES)

    show = sorted({0, points // 3, 2 * points // 3, points - 1})
    rows = [[float(d[i])] + [float(auto[n][i].abs()) for n in LOSSES] + [float(auto["saturating"][i] / auto["non-saturating"][i])]
            for i in show]
    sat_low, ns_low = float(auto["saturating"][0].abs()), float(auto["non-saturating"][0].abs())
    summary = {
        "D(G(z)) smallest": float(d[0]),
        "|grad| saturating at smallest": sat_low,
        "|grad| non-saturating at smallest": ns_low,
        "|grad| maximum-likelihood at smallest": float(auto["maximum-likelihood"][0].abs()),
        "max relative error autograd vs closed form": max_err,
    }
    # saturating ~ D -> 0 and non-saturating ~ 1 - D -> 1, each within 1e-9 of the closed form
    holds = (max_err < 1e-9 and abs(sat_low - float(d[0])) <= 1e-9 * float(d[0])
             and abs(ns_low - (1 - float(d[0]))) <= 1e-9)
    return ExperimentResult(
        NAME, CLAIM,
        ["D(G(z))", "|grad| saturating", "|grad| non-saturating", "|grad| max-likelihood", "saturating / non-sat."],
        rows, summary, holds,
        series={"d_fake": d, "autograd": auto, "closed_form": exact},
    )
