"""Exact quantities between two densities, by numerical integration on a grid.

The densities are *log-prob callables* ``x (n, d) float64 -> (n,)``, the signature of
:meth:`gankit.data.toy.GaussianMixture.log_prob`. A :class:`Grid` holds quadrature nodes
and weights (composite Simpson per axis, a tensor product in 2-D), so every integral is
``sum_i w_i f(x_i)``: the result is a 0-dim float64 tensor, differentiable with respect to
any parameters the log-densities close over (fitting a Gaussian by its exact KL works).

Divergences (natural log):

* ``KL(P || Q) = ∫ p log(p / q)``; reverse KL is ``KL(Q || P)``;
* ``JSD(P || Q) = ½ KL(P || M) + ½ KL(Q || M)``, ``M = (P + Q) / 2``, in ``[0, log 2]``;
* the optimal discriminator ``D*(x) = p_data / (p_data + p_g)`` (Goodfellow et al. 2014,
  Prop. 1), logit ``log p_data - log p_g``, and ``V(D*, G) = 2 JSD - log 4``.

The grid must cover the mass of both densities; mass outside it is silently lost.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

# x (n, d) float64 -> log density (n,)
LogProb = Callable[[Tensor], Tensor]


@dataclasses.dataclass(frozen=True)
class Grid:
    """Quadrature rule: ``points (n, d)`` and ``weights (n,)``, both float64."""

    points: Tensor
    weights: Tensor

    def integrate(self, values: Tensor) -> Tensor:
        """``sum_i w_i values_i`` for ``values (n,)``."""
        return (self.weights * values).sum()


def _simpson(lo: float, hi: float, points: int) -> tuple[Tensor, Tensor]:
    if points < 3 or points % 2 == 0:
        raise ValueError(f"Simpson's rule needs an odd number >= 3 of points, got {points}")
    if not hi > lo:
        raise ValueError(f"empty integration range [{lo}, {hi}]")
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    w = torch.ones(points, dtype=torch.float64)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return x, w * (hi - lo) / (3.0 * (points - 1))


def grid_1d(lo: float, hi: float, points: int = 20001) -> Grid:
    """Composite Simpson rule on ``[lo, hi]`` (``points`` odd); points have shape ``(n, 1)``."""
    x, w = _simpson(lo, hi, points)
    return Grid(x[:, None], w)


def grid_2d(lo: float | Sequence[float], hi: float | Sequence[float], points: int = 401) -> Grid:
    """Tensor-product Simpson rule on the box ``lo..hi`` (scalars or one value per axis)."""
    lo2 = (lo, lo) if isinstance(lo, (int, float)) else tuple(lo)
    hi2 = (hi, hi) if isinstance(hi, (int, float)) else tuple(hi)
    x, wx = _simpson(float(lo2[0]), float(hi2[0]), points)
    y, wy = _simpson(float(lo2[1]), float(hi2[1]), points)
    gx, gy = torch.meshgrid(x, y, indexing="ij")
    return Grid(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1), (wx[:, None] * wy[None, :]).reshape(-1))


def span(means: Sequence[float], stds: Sequence[float], width: float = 12.0) -> tuple[float, float]:
    """An interval holding all but ~exp(-width²/2) of the mass of Gaussians with these parameters."""
    return (min(m - width * s for m, s in zip(means, stds)), max(m + width * s for m, s in zip(means, stds)))


# --- densities with closed forms ------------------------------------------------------------

def normal_log_prob(mean: float | Tensor, std: float | Tensor) -> LogProb:
    """1-D ``N(mean, std²)``; ``mean``/``std`` may be tensors requiring grad."""
    return mixture_log_prob([mean], [std])


def mixture_log_prob(means: Sequence[float | Tensor], stds: Sequence[float | Tensor],
                     weights: Sequence[float] | None = None) -> LogProb:
    """1-D mixture ``sum_k w_k N(m_k, s_k²)``, differentiable in ``x`` (unlike ``cdist``, whose
    gradient is undefined at a mode) and in tensor-valued parameters."""
    m = torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in means])      # (K,)
    s = torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in stds])       # (K,)
    w = torch.ones(len(means), dtype=torch.float64) if weights is None else torch.tensor(weights, dtype=torch.float64)
    log_w = torch.log(w / w.sum())

    def log_prob(x: Tensor) -> Tensor:
        x = x.reshape(-1, 1).double()                                             # (n, 1)
        log_comp = -0.5 * ((x - m) / s) ** 2 - torch.log(s) - 0.5 * math.log(2 * math.pi)  # (n, K)
        return torch.logsumexp(log_comp + log_w, dim=1)                           # (n,)

    return log_prob


# --- divergences ------------------------------------------------------------------------------

def _p_log_ratio(lp: Tensor, lq: Tensor) -> Tensor:
    """``p log(p / q)`` pointwise, 0 where ``p = 0``; the masking keeps gradients finite."""
    p = lp.exp()
    alive = p > 0
    return torch.where(alive, p * (torch.where(alive, lp, 0.0) - torch.where(alive, lq, 0.0)), 0.0)


def kl_divergence(log_p: LogProb, log_q: LogProb, grid: Grid) -> Tensor:
    """``KL(P || Q) = ∫ p log(p / q)`` (inf if q = 0 where p > 0)."""
    return grid.integrate(_p_log_ratio(log_p(grid.points), log_q(grid.points)))


def reverse_kl_divergence(log_p: LogProb, log_q: LogProb, grid: Grid) -> Tensor:
    """``KL(Q || P)``: the mode-seeking direction when Q is the model."""
    return kl_divergence(log_q, log_p, grid)


def js_divergence(log_p: LogProb, log_q: LogProb, grid: Grid) -> Tensor:
    """``JSD = ½ KL(P || M) + ½ KL(Q || M)`` with ``M = (P + Q)/2``; between 0 and log 2."""
    lp, lq = log_p(grid.points), log_q(grid.points)
    lm = torch.logaddexp(lp, lq) - math.log(2.0)
    return 0.5 * grid.integrate(_p_log_ratio(lp, lm) + _p_log_ratio(lq, lm))


def divergences(log_p: LogProb, log_q: LogProb, grid: Grid) -> dict[str, float]:
    """``{"kl": KL(P||Q), "reverse_kl": KL(Q||P), "jsd": JSD(P||Q)}`` as floats."""
    return {
        "kl": float(kl_divergence(log_p, log_q, grid)),
        "reverse_kl": float(reverse_kl_divergence(log_p, log_q, grid)),
        "jsd": float(js_divergence(log_p, log_q, grid)),
    }


def expectation(log_p: LogProb, fn: Callable[[Tensor], Tensor], grid: Grid) -> Tensor:
    """``E_P[fn(x)] = ∫ p(x) fn(x) dx`` for ``fn: (n, d) -> (n,)``."""
    return grid.integrate(log_p(grid.points).exp() * fn(grid.points))


# --- the optimal discriminator -----------------------------------------------------------------

def optimal_logit(log_p_data: LogProb, log_p_g: LogProb, x: Tensor) -> Tensor:
    """Logit of ``D*``: ``log p_data(x) - log p_g(x)`` at ``x (n, d)``; shape ``(n,)``."""
    return log_p_data(x) - log_p_g(x)


def optimal_discriminator(log_p_data: LogProb, log_p_g: LogProb, x: Tensor) -> Tensor:
    """``D*(x) = p_data / (p_data + p_g)`` at ``x (n, d)``, computed as ``sigmoid`` of the logit."""
    return torch.sigmoid(optimal_logit(log_p_data, log_p_g, x))


def value_function(log_p_data: LogProb, log_p_g: LogProb, grid: Grid,
                   logit: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """``V(D, G) = ∫ p_data log D + ∫ p_g log(1 - D)`` for ``D = sigmoid(logit)``
    (default: the optimal ``D*``, where ``V = 2 JSD - log 4``).

    Written with ``log D = -softplus(-a)`` and ``log(1 - D) = -softplus(a)``.
    """
    x = grid.points
    a = optimal_logit(log_p_data, log_p_g, x) if logit is None else logit(x)
    return grid.integrate(-log_p_data(x).exp() * F.softplus(-a) - log_p_g(x).exp() * F.softplus(a))
