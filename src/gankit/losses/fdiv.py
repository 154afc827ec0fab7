"""f-divergences and the f-GAN objective (Nowozin, Cseke & Tomioka 2016, 'f-GAN').

``D_f(P||Q) = ∫ q(x) f(p(x)/q(x)) dx`` with ``f`` convex. Fenchel duality gives the bound

    D_f(P||Q) >= sup_T  E_P[T(x)] - E_Q[f*(T(x))],   tight at T*(x) = f'(p(x)/q(x)),

and f-GAN parametrises the critic as ``T = g_f(v)``: the network outputs an unconstrained
``v`` and the activation ``g_f`` maps it into dom f*. Every row of REFERENCE.md §2 is one
:class:`FDivergence` in :data:`DIVERGENCES`; adding a divergence is adding one entry.

Numerics: the losses use ``conjugate_of_activation`` (``f*(g_f(v))`` simplified by hand, e.g.
``softplus(v)`` for the GAN row) rather than composing the two, which would lose everything
to cancellation near the boundary of dom f*. Where an exponential of ``±v`` remains, it is
continued by its tangent line beyond ``|v| = 50``, so that losses and gradients stay finite
for critic outputs up to ``|v| = 1e4`` in float32 (``exp(89) = inf``) while the gradient
still pushes a runaway critic back. Below 50 every value is exact.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError
from gankit.losses.base import LOSSES, Objective
from gankit.registry import Registry

Fn = Callable[[Tensor], Tensor]

NOWOZIN = "Nowozin et al. 2016, 'f-GAN: Training Generative Neural Samplers using Variational Divergence Minimization'"
LOG2 = math.log(2.0)
LINEAR_BEYOND = 50.0  # exponentials exp(x) are continued by their tangent for x > 50


@dataclasses.dataclass(frozen=True)
class Interval:
    """A real interval with open or closed ends: the effective domain of a conjugate f*."""

    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = False
    high_closed: bool = False

    def contains(self, t: Tensor) -> Tensor:
        """Elementwise membership (bool tensor of ``t``'s shape)."""
        above = t >= self.low if self.low_closed else t > self.low
        below = t <= self.high if self.high_closed else t < self.high
        return above & below

    def __str__(self) -> str:
        return f"{'[' if self.low_closed else '('}{self.low:g}, {self.high:g}{']' if self.high_closed else ')'}"


REALS = Interval()


@dataclasses.dataclass(frozen=True)
class FDivergence:
    """One f-divergence: f, its conjugate, the critic activation and the optimal critic.

    Attributes:
        f: ``u >= 0 -> f(u)`` (elementwise; ``inf`` where f is infinite).
        conjugate: ``t -> f*(t) = sup_{u>=0} (t u - f(u))``, valid on ``domain``.
        activation: ``v in R -> g_f(v) in domain`` (the critic's output activation).
        conjugate_of_activation: ``v -> f*(g_f(v))`` in numerically stable form.
        derivative: ``u > 0 -> f'(u)``; the optimal critic is ``T* = f'(p/q)``.
        domain: effective domain of f* (where it is finite).
        f_one: ``f(1)``, 0 except for the GAN row (``-log 4``).
    """

    name: str
    f: Fn
    conjugate: Fn
    activation: Fn
    conjugate_of_activation: Fn
    derivative: Fn
    domain: Interval
    f_one: float
    summary: str
    paper: str = NOWOZIN


# Each entry is a zero-option factory returning its FDivergence, so that the registry's
# generic machinery (names, summaries, option listing) works as for every other kind.
DIVERGENCES: Registry[Callable[[], FDivergence]] = Registry("divergence")


def _add(div: FDivergence) -> FDivergence:
    DIVERGENCES.register(div.name, summary=div.summary, paper=div.paper)(lambda: div)
    return div


def get_divergence(name: str) -> FDivergence:
    """The registered divergence ``name``; ``ConfigError`` naming the choices otherwise."""
    return DIVERGENCES.build(name)


# --------------------------------------------------------------------------- numerics


def _exp(x: Tensor) -> Tensor:
    """``exp(x)`` for ``x <= 50``, its tangent line ``e^50 (1 + x - 50)`` beyond.

    Written without ``torch.where`` so the unused branch cannot inject ``0 * inf = nan``
    into the gradient.
    """
    xc = x.clamp(max=LINEAR_BEYOND)
    return torch.exp(xc) * (1.0 + (x - xc))


def _softplus(x: Tensor) -> Tensor:
    """``log(1 + e^x)``; torch's default switches to ``x`` at 20, an absolute error of
    ``e^-20 = 2e-9``, while ``e^-40`` is below float64 resolution at 40."""
    return F.softplus(x, threshold=40.0)


def _log_exp(x: Tensor) -> Tensor:
    """``log(_exp(x))`` without forming ``_exp(x)``."""
    xc = x.clamp(max=LINEAR_BEYOND)
    return xc + torch.log1p(x - xc)


def wright_omega(y: Tensor, iterations: int = 4) -> Tensor:
    """``W(e^y)`` for real ``y``: the principal Lambert W of ``e^y``, computed in log space.

    Solves ``l + e^l = y`` for ``l = log W(e^y)`` by Halley's method: ``F(l) = e^l + l - y``
    is increasing and convex, and never forming ``e^y`` keeps it finite for ``|y|`` up to the
    float range (``W(e^y) ~ y - log y`` for large y, ``~ e^y`` for very negative y). The
    start (``log(y - log y)`` above 1, ``logsigmoid(y)`` below) is close enough that two
    cubically convergent steps already reach float64 precision; four are taken. The
    gradient ``W / (1 + W)`` comes from one Newton step taken with the graph attached
    (implicit differentiation; second derivatives are not exact).
    """
    with torch.no_grad():
        y_big = y.clamp(min=1.0)
        log_w = torch.where(y > 1.0, torch.log(y_big - torch.log(y_big)), F.logsigmoid(y))
        for _ in range(iterations):
            e = torch.exp(log_w)
            fx, d1 = e + log_w - y, e + 1.0
            log_w = log_w - 2.0 * fx * d1 / (2.0 * d1 * d1 - fx * e)
        w0 = torch.exp(log_w)
    # Newton step on G(w) = w + log w - y: value unchanged (residual ~ 0), dW/dy = w/(1+w).
    return w0 + (y - w0 - log_w) * (w0 / (1.0 + w0))


def lambertw(x: Tensor) -> Tensor:
    """Principal branch ``W(x)`` of the Lambert W function for ``x >= 0`` (``nan`` below 0).

    ``W(x) e^{W(x)} = x``; computed as :func:`wright_omega` of ``log x``, so it is accurate
    from subnormal ``x`` up to the largest float. torch has no Lambert W of its own.
    """
    positive = x > 0
    w = wright_omega(torch.log(torch.where(positive, x, torch.ones_like(x))))
    w = torch.where(positive, w, x)  # W(0) = 0 with W'(0) = 1
    return torch.where(x < 0, torch.full_like(x, math.nan), w)


def _jeffreys_conjugate(t: Tensor, linear_beyond: float = math.inf) -> Tensor:
    """``f*(t) = W(e^{1-t}) + 1/W(e^{1-t}) + t - 2`` for ``f(u) = (u - 1) log u``.

    The maximiser is ``u* = 1/W(e^{1-t})``, which is also the slope of f*; beyond
    ``linear_beyond`` f* is continued along that tangent (f* grows like ``e^{t-1}``).
    """
    tc = t.clamp(max=linear_beyond)
    w = wright_omega(1.0 - tc)
    return w + 1.0 / w + tc - 2.0 + (t - tc) / w


# --------------------------------------------------------------------------- the table

_add(FDivergence(
    "kl", summary="Kullback-Leibler KL(P||Q)",
    f=lambda u: torch.xlogy(u, u),
    conjugate=lambda t: torch.exp(t - 1.0),
    activation=lambda v: v,
    conjugate_of_activation=lambda v: _exp(v - 1.0),
    derivative=lambda u: 1.0 + torch.log(u),
    domain=REALS, f_one=0.0))

_add(FDivergence(
    "reverse-kl", summary="reverse Kullback-Leibler KL(Q||P)",
    f=lambda u: -torch.log(u),
    conjugate=lambda t: -1.0 - torch.log(-t),
    activation=lambda v: -_exp(-v),
    conjugate_of_activation=lambda v: -1.0 - _log_exp(-v),          # = v - 1
    derivative=lambda u: -1.0 / u,
    domain=Interval(high=0.0), f_one=0.0))

# f* below is the conjugate over all real u (the paper's); over u >= 0 it is -1 for
# t < -2, so for t < -2 it is a looser, still valid, bound (see REFERENCE.md §2).
_add(FDivergence(
    "pearson", summary="Pearson chi-squared",
    f=lambda u: (u - 1.0) ** 2,
    conjugate=lambda t: 0.25 * t * t + t,
    activation=lambda v: v,
    conjugate_of_activation=lambda v: 0.25 * v * v + v,
    derivative=lambda u: 2.0 * (u - 1.0),
    domain=REALS, f_one=0.0))

# f*(1) = sup_u 2 - 1/u = 2 is finite, so the domain is closed at 1.
_add(FDivergence(
    "neyman", summary="Neyman chi-squared",
    f=lambda u: (1.0 - u) ** 2 / u,
    conjugate=lambda t: 2.0 - 2.0 * torch.sqrt(1.0 - t),
    activation=lambda v: 1.0 - _exp(-v),
    conjugate_of_activation=lambda v: 2.0 - 2.0 * _exp(-0.5 * v),   # sqrt(1 - g) = e^{-v/2}
    derivative=lambda u: 1.0 - 1.0 / (u * u),
    domain=Interval(high=1.0, high_closed=True), f_one=0.0))

_add(FDivergence(
    "hellinger", summary="squared Hellinger ∫(√p - √q)² (= 2 - 2 BC)",
    f=lambda u: (torch.sqrt(u) - 1.0) ** 2,
    conjugate=lambda t: t / (1.0 - t),
    activation=lambda v: 1.0 - _exp(-v),
    conjugate_of_activation=lambda v: _exp(v) - 1.0,                 # g/(1-g) = e^v - 1
    derivative=lambda u: 1.0 - 1.0 / torch.sqrt(u),
    domain=Interval(high=1.0), f_one=0.0))

_add(FDivergence(
    "jeffreys", summary="Jeffreys (symmetric KL) KL(P||Q) + KL(Q||P)",
    f=lambda u: (u - 1.0) * torch.log(u),
    conjugate=_jeffreys_conjugate,
    activation=lambda v: v,
    conjugate_of_activation=lambda v: _jeffreys_conjugate(v, LINEAR_BEYOND),
    derivative=lambda u: torch.log(u) + 1.0 - 1.0 / u,
    domain=REALS, f_one=0.0))

# Nowozin et al.'s JS row: D_f = KL(P||M) + KL(Q||M) = 2 JSD, M = (P + Q)/2.
_add(FDivergence(
    "js", summary="Jensen-Shannon, 2·JSD(P, Q)",
    f=lambda u: torch.xlogy(u, u) - (u + 1.0) * (torch.log1p(u) - LOG2),
    conjugate=lambda t: -torch.log(2.0 - torch.exp(t)),
    activation=lambda v: LOG2 - _softplus(-v),
    conjugate_of_activation=lambda v: _softplus(v) - LOG2,          # 2 - 2σ(v) = 2σ(-v)
    derivative=lambda u: LOG2 + torch.log(u) - torch.log1p(u),
    domain=Interval(high=LOG2), f_one=0.0))

# Goodfellow's game as an f-divergence: D_f = 2 JSD - log 4, and sigmoid(v) is D(x).
_add(FDivergence(
    "gan", summary="GAN (Goodfellow et al. 2014), 2·JSD - log 4",
    f=lambda u: torch.xlogy(u, u) - (u + 1.0) * torch.log1p(u),
    conjugate=lambda t: -torch.log(-torch.expm1(t)),
    activation=lambda v: -_softplus(-v),                            # log D(x)
    conjugate_of_activation=_softplus,                              # -log(1 - D(x))
    derivative=lambda u: torch.log(u) - torch.log1p(u),
    domain=Interval(high=0.0), f_one=-math.log(4.0)))

# f' is the subgradient ½ sign(u - 1); the optimal critic ±½ sits on the boundary of
# dom f*, which ½ tanh(v) approaches but never reaches.
_add(FDivergence(
    "tv", summary="total variation ½∫|p - q|",
    f=lambda u: 0.5 * torch.abs(u - 1.0),
    conjugate=lambda t: t,
    activation=lambda v: 0.5 * torch.tanh(v),
    conjugate_of_activation=lambda v: 0.5 * torch.tanh(v),
    derivative=lambda u: 0.5 * torch.sign(u - 1.0),
    domain=Interval(-0.5, 0.5, True, True), f_one=0.0))

# Seed 000's Bhattacharyya row as an f-divergence: 1 - BC(P, Q) = ½ squared Hellinger.
_add(FDivergence(
    "bhattacharyya", summary="Bhattacharyya 1 - BC(P, Q), BC = ∫√(pq)",
    f=lambda u: 1.0 - torch.sqrt(u),
    conjugate=lambda t: -1.0 - 0.25 / t,
    activation=lambda v: -_exp(-v),
    conjugate_of_activation=lambda v: _exp(v - 2.0 * LOG2) - 1.0,    # e^v / 4 - 1
    derivative=lambda u: -0.5 / torch.sqrt(u),
    domain=Interval(high=0.0), f_one=0.0,
    paper="Bhattacharyya 1943; as an f-GAN divergence, " + NOWOZIN))


# --------------------------------------------------------------------------- the objective


def variational_bound(div: FDivergence, real_v: Tensor, fake_v: Tensor) -> Tensor:
    """``E_P[g_f(v_real)] - E_Q[f*(g_f(v_fake))]``: a lower bound on ``D_f(P||Q)``.

    ``real_v``, ``fake_v``: critic outputs, ``(B,)`` or ``(B, 1)``.
    """
    return div.activation(real_v.reshape(-1)).mean() - div.conjugate_of_activation(fake_v.reshape(-1)).mean()


# Rows whose activation is log D(x) up to a constant, so sigmoid(v) is a probability.
_SIGMOID_ROWS = ("gan", "js")


@LOSSES.register("fgan", paper=NOWOZIN)
def fgan(*, divergence: str = "gan",
         generator: Literal["minimax", "alternative"] = "alternative") -> Objective:
    """f-GAN: the critic maximises the variational bound of D_f(P||Q), G minimises it.

    critic: ``-(E_P[g_f(v)] - E_Q[f*(g_f(v))])``; generator ``minimax``: the bound itself,
    ``alternative`` (§3.2 of the paper): ``-E_Q[g_f(v)]``, the f-GAN analogue of the
    non-saturating loss. ``estimate`` is the bound, an estimate of ``D_f`` (``2 JSD - log 4``
    for ``gan``).
    """
    div = get_divergence(divergence)
    if generator not in ("minimax", "alternative"):
        raise ConfigError(f"loss.generator must be 'minimax' or 'alternative', got {generator!r}")

    def d_loss(real_v: Tensor, fake_v: Tensor) -> Tensor:
        return -variational_bound(div, real_v, fake_v)

    def estimate(real_v: Tensor, fake_v: Tensor) -> Tensor:
        return variational_bound(div, real_v, fake_v)

    def g_minimax(fake_v: Tensor, real_v: Tensor | None = None) -> Tensor:
        if real_v is None:  # the real term carries no gradient to G
            return -div.conjugate_of_activation(fake_v.reshape(-1)).mean()
        return variational_bound(div, real_v, fake_v)

    def g_alternative(fake_v: Tensor, real_v: Tensor | None = None) -> Tensor:
        return -div.activation(fake_v.reshape(-1)).mean()

    g_loss = g_minimax if generator == "minimax" else g_alternative
    return Objective("fgan", d_loss, g_loss, estimate=estimate,
                     probability_outputs=divergence in _SIGMOID_ROWS)
