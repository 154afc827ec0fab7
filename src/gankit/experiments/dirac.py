"""The Dirac GAN (Mescheder, Geiger & Nowozin 2018): two parameters, one equilibrium.

Data is a point mass at 0, the generator a point mass at ``theta`` and the discriminator
linear, ``D(x) = psi * x`` (a logit). With the GAN loss (Mescheder et al. 2018, eq. 16,
``f(t) = -log(1 + exp(-t))``) the game is ``min_theta max_psi f(psi*0) + f(-psi*theta)``;
its only equilibrium is ``(theta, psi) = (0, 0)``. The gradient field there is a pure rotation
(eigenvalues ``±i f'(0) = ±i/2``): in continuous time ``theta² + psi²`` is conserved, so
simultaneous steps spiral out and alternating steps circle. Regularisers give the Jacobian a
negative real part (Mescheder et al. 2018, §3-4):

* instance noise ``N(0, sigma²)`` on real and fake points (the notes' *noise injection*): linearisation ``[[0, 1/2], [-1/2, -sigma²/2]]``;
* R1, ``gamma/2 * |grad_x D(x_real)|² = gamma/2 * psi²``: ``[[0, 1/2], [-1/2, -gamma]]``;
* WGAN-GP's one-centred penalty ``w * (|grad_x D| - 1)²`` with the WGAN loss pushes
  ``|psi|`` towards 1, not 0, so the critic never settles at the equilibrium; it is not
  differentiable at ``psi = 0`` and has no linearisation there.

The relativistic pairing GAN (RpGAN, Huang et al. 2024) pairs each real with a fake sample:
D minimises ``softplus(D(G(z)) - D(x)) = softplus(psi*theta)``, G minimises
``softplus(-psi*theta)``. Its field ``(psi sigmoid(-u), -theta sigmoid(u))``, ``u = psi*theta``,
has the same linearisation at (0, 0) as the GAN's (a rotation, eigenvalues ``±i/2``), so it is
not locally convergent either; away from (0, 0) it dissipates,
``d/dt (theta² + psi²)/2 = -u tanh(u/2) <= 0``, but only at fourth order in the distance, so
the distance shrinks sublinearly and never reaches the tolerance. R1 (real) and R2 (fake) both
add ``-gamma`` to the critic's diagonal (with a linear critic ``|grad_x D| = |psi|`` at every
point, so the two penalties coincide here), R1 + R2 with one gamma adds ``-2 gamma``: all
three converge locally at the linearised rate.

Every loss and penalty comes from :mod:`gankit.losses`; gradients are taken by autograd, so
this runs the same code as a real training step. Float64 throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.experiments.base import EXPERIMENTS, ExperimentResult
from gankit.losses import gan, relativistic, wasserstein
from gankit.losses.penalties import PENALTIES
from gankit.plotting.experiments import plot_dirac

NAME = "dirac-gan"
CLAIM = ("on the Dirac GAN, unregularised gradient descent (simultaneous or alternating) does not "
         "converge: the distance to the equilibrium does not shrink; instance noise (the notes' noise "
         "injection) and the R1 gradient penalty make it converge to (0, 0); WGAN-GP's "
         "one-centred penalty does not; the relativistic pairing GAN alone does not converge (its "
         "distance shrinks only sublinearly), with R1, R2 or R1 + R2 it does")
REGULARISERS = ("none", "instance-noise", "r1", "wgan-gp", "rpgan", "rpgan+r1", "rpgan+r2", "rpgan+r1r2")
PENALTY_OF = {"r1": "r1", "rpgan+r1": "r1", "rpgan+r2": "r2", "rpgan+r1r2": "r1r2"}
SCHEMES = ("simultaneous", "alternating")
F64 = torch.float64

# (theta, psi, noise_real, noise_fake) -> (d_loss, g_loss); noise tensors are (B, 1)
Losses = Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


def noise_nodes(n: int, std: float) -> Tensor:
    """``n`` equal-weight quadrature nodes for ``N(0, std²)``: normal quantiles at the midpoints
    of ``n`` equal-probability cells, rescaled so their mean square is exactly ``std²``
    (the only moment the linearisation at the equilibrium sees). Shape ``(n, 1)``."""
    e = torch.special.ndtri((torch.arange(n, dtype=F64) + 0.5) / n)
    return (e / e.pow(2).mean().sqrt() * std)[:, None]


def make_losses(regulariser: str, *, r1_gamma: float, gp_weight: float) -> Losses:
    """The discriminator's and generator's losses of the regularised Dirac GAN.

    The generator uses the saturating (minimax) loss, so the game is zero-sum as in Mescheder
    et al.'s analysis; with the non-saturating loss the field is no longer a rotation away from
    the equilibrium and the distance first shrinks before circling.
    """
    penalty = (PENALTIES.build(PENALTY_OF[regulariser], {"gamma": r1_gamma}) if regulariser in PENALTY_OF
               else PENALTIES.build("gp", {"weight": gp_weight, "center": 1.0}) if regulariser == "wgan-gp" else None)

    def losses(theta: Tensor, psi: Tensor, noise_real: Tensor, noise_fake: Tensor) -> tuple[Tensor, Tensor]:
        def critic(x: Tensor) -> Tensor:                      # D(x) = psi * x, x (B, 1) -> (B, 1)
            return psi * x

        real = noise_real                                    # the data: a Dirac at 0 (+ noise)
        fake = theta + noise_fake                            # the generator: a Dirac at theta
        if regulariser == "wgan-gp":
            d_loss = wasserstein.critic_loss(critic(real), critic(fake))
            g_loss = wasserstein.generator_loss(critic(fake))
        elif regulariser.startswith("rpgan"):
            d_loss = relativistic.relativistic_discriminator_loss(critic(real), critic(fake))
            g_loss = relativistic.relativistic_generator_loss(critic(fake), critic(real))
        else:
            d_loss = gan.discriminator_loss(critic(real), critic(fake))
            g_loss = gan.saturating_generator_loss(critic(fake))
        if penalty is not None:
            d_loss = d_loss + penalty.loss(critic, real, fake)
        return d_loss, g_loss

    return losses


def step(losses: Losses, z: Tensor, lr: float, scheme: str, noise: tuple[Tensor, Tensor]) -> Tensor:
    """One gradient step on ``z = (theta, psi)``: D descends its loss (ascends V), G descends its.
    Alternating: D first, then G against the updated D (k = 1, as in Goodfellow et al. 2014)."""
    theta, psi = z[0].clone().requires_grad_(True), z[1].clone().requires_grad_(True)
    d_loss, g_loss = losses(theta, psi, *noise)
    (g_psi,) = torch.autograd.grad(d_loss, psi)
    psi_new = psi.detach() - lr * g_psi
    if scheme == "alternating":
        psi = psi_new.clone().requires_grad_(True)
        _, g_loss = losses(theta, psi, *noise)
    (g_theta,) = torch.autograd.grad(g_loss, theta)
    return torch.stack([theta.detach() - lr * g_theta, psi_new])


def linearised_radius(losses: Losses, lr: float, scheme: str, noise: tuple[Tensor, Tensor], h: float = 1e-6) -> float:
    """Spectral radius of the step map's Jacobian at (0, 0), by central differences (the map is
    smooth there for the unregularised, noisy and R1 games)."""
    cols = []
    for j in range(2):
        e = torch.zeros(2, dtype=F64)
        e[j] = h
        cols.append((step(losses, e, lr, scheme, noise) - step(losses, -e, lr, scheme, noise)) / (2 * h))
    return float(np.abs(np.linalg.eigvals(torch.stack(cols, dim=1).numpy())).max())


def simulate(losses: Losses, z0: Tensor, lr: float, steps: int, scheme: str,
             noise: Callable[[], tuple[Tensor, Tensor]]) -> np.ndarray:
    """Iterates ``(theta, psi)``, shape ``(steps + 1, 2)``."""
    out = torch.empty(steps + 1, 2, dtype=F64)
    out[0] = z = z0
    for t in range(1, steps + 1):
        z = step(losses, z, lr, scheme, noise())
        out[t] = z
    return out.numpy()


@EXPERIMENTS.register(NAME, claim=CLAIM, plot=plot_dirac,
                      paper="Mescheder, Geiger & Nowozin 2018, 'Which Training Methods for GANs do actually "
                            "Converge?'; instance noise: Sonderby et al. 2017, Arjovsky & Bottou 2017")
def dirac_gan(*, lr: float = 0.1, steps: int = 500, theta0: float = 1.0, psi0: float = 1.0,
              noise_std: float = 1.0, noise_estimate: Literal["quadrature", "mc"] = "quadrature",
              noise_samples: int = 64, r1_gamma: float = 1.0, gp_weight: float = 1.0,
              tolerance: float = 1e-3, seed: int = 0) -> ExperimentResult:
    """Dirac GAN: unregularised GD circles the equilibrium; instance noise and R1 converge;
    RpGAN alone does not, RpGAN with R1, R2 or R1 + R2 (one gamma, ``r1_gamma``) does.

    Options: ``lr`` step size; ``steps``; start ``(theta0, psi0)``; ``noise_std`` of the instance
    noise, its expectation taken by ``quadrature`` over ``noise_samples`` nodes or by a fresh
    ``mc`` batch of that size per step (seeded); ``r1_gamma``; ``gp_weight`` of WGAN-GP;
    ``tolerance``: a run has converged when its distance fell below ``tolerance * |z_0|``.
    With ``mc`` noise the iterates settle in a ball of radius ~ sqrt(lr / noise_samples) around
    the equilibrium rather than at it, so the default tolerance is not reached.
    """
    if lr <= 0 or steps < 10 or noise_std <= 0 or noise_samples < 2 or r1_gamma < 0 or gp_weight < 0:
        raise ConfigError("dirac-gan needs lr > 0, steps >= 10, noise_std > 0, noise_samples >= 2, "
                          "r1_gamma >= 0 and gp_weight >= 0")
    z0 = torch.tensor([theta0, psi0], dtype=F64)
    d0 = float(z0.norm())
    if d0 == 0:
        raise ConfigError("dirac-gan: start (theta0, psi0) must not be the equilibrium (0, 0)")
    rng = torch.Generator().manual_seed(seed)
    zero = torch.zeros(1, 1, dtype=F64)
    nodes = noise_nodes(noise_samples, noise_std)

    def noise_for(reg: str) -> Callable[[], tuple[Tensor, Tensor]]:
        if reg != "instance-noise":
            return lambda: (zero, zero)
        if noise_estimate == "quadrature":
            return lambda: (nodes, nodes)   # the losses are separate expectations over real and fake
        return lambda: tuple(torch.randn(noise_samples, 1, generator=rng, dtype=F64) * noise_std for _ in range(2))

    rows, trajs, dists, checks, summary = [], {}, {}, {}, {}
    with torch.random.fork_rng():           # WGAN-GP's interpolation weights use the global RNG
        torch.manual_seed(seed)
        for reg in REGULARISERS:
            losses = make_losses(reg, r1_gamma=r1_gamma, gp_weight=gp_weight)
            for scheme in SCHEMES:
                label = f"{reg}, {scheme}"
                traj = simulate(losses, z0, lr, steps, scheme, noise_for(reg))
                dist = np.linalg.norm(traj, axis=1)
                half = len(dist) // 2
                rate = float((dist[-1] / dist[half]) ** (1 / (len(dist) - 1 - half))) if dist[half] > 0 else 0.0
                radius = (linearised_radius(losses, lr, scheme, (nodes, nodes) if reg == "instance-noise" else (zero, zero))
                          if reg != "wgan-gp" else math.nan)
                converged = bool(dist[-1] < tolerance * d0)
                rows.append([reg, scheme, float(dist[-1] / d0), float(dist[half:].min() / d0), rate, radius, converged])
                trajs[label], dists[label] = traj, dist
                summary[f"|z_T|/|z_0| {label}"] = float(dist[-1] / d0)
                if reg == "none":       # not shrinking: the circle (alternating) or an outward spiral
                    checks[label] = bool(dist[half:].min() >= 0.95 * d0)
                elif reg == "rpgan":    # shrinks at most sublinearly: far from the tolerance, rate -> 1
                    checks[label] = bool(not converged and rate > 0.99)
                elif reg.startswith("rpgan+"):  # linear convergence at the linearised rate (R1 + R2 with
                    # one gamma doubles the damping: overdamped at gamma = 1, slower than R1 alone)
                    checks[label] = bool(radius < 1 and abs(rate / radius - 1) < 0.01 and dist[-1] < 0.01 * d0)
                elif reg == "wgan-gp":  # stays away from the equilibrium
                    checks[label] = bool(dist[half:].min() >= 0.1 * d0)
                else:
                    checks[label] = converged
    return ExperimentResult(
        NAME, CLAIM,
        ["regulariser", "scheme", "|z_T|/|z_0|", "min |z_t|/|z_0| (last half)", "rate (last half)",
         "linearised radius at (0,0)", f"converged (< {tolerance:g})"],
        rows, summary, all(checks.values()),
        series={"trajectories": trajs, "distance": dists, "lr": lr},
    )
