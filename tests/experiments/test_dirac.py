"""dirac-gan: Mescheder et al. 2018's two-parameter GAN, checked against its linearisation."""

from __future__ import annotations

import numpy as np
import pytest

from gankit.experiments.dirac import dirac_gan

LR, STEPS = 0.1, 400

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def result():
    return dirac_gan(lr=LR, steps=STEPS, theta0=1.0, psi0=1.0, noise_std=1.0, r1_gamma=1.0)


def row(result, reg, scheme):
    (r,) = [r for r in result.rows if r[0] == reg and r[1] == scheme]
    return dict(zip(["reg", "scheme", "final", "min_last_half", "rate", "radius", "converged"], r))


def linear_map(scheme: str, damping: float) -> np.ndarray:
    """One step at the equilibrium for the field (theta, psi)' = (psi/2, -theta/2 - damping*psi)
    (Mescheder et al. 2018: f'(0) = 1/2; damping = gamma for R1, -2 f''(0) sigma^2 = sigma^2/2 for
    instance noise). Alternating = D first, then G against the new psi."""
    if scheme == "simultaneous":
        return np.eye(2) + LR * np.array([[0.0, 0.5], [-0.5, -damping]])
    d_step = np.array([[1.0, 0.0], [-LR / 2, 1 - LR * damping]])
    g_step = np.array([[1.0, LR / 2], [0.0, 1.0]])
    return g_step @ d_step


def radius(m: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvals(m)).max())


def test_unregularised_does_not_converge(result, record):
    sim, alt = row(result, "none", "simultaneous"), row(result, "none", "alternating")
    # spirals out
    assert record("simultaneous final", sim["final"], ">= 1.0")
    assert record("simultaneous min last half", sim["min_last_half"], ">= 0.99")
    # a bounded cycle
    assert record("alternating min last half", alt["min_last_half"], ">= 0.95")
    assert record("alternating final", alt["final"], "<= 1.01")
    # linearisation: rotation; simultaneous |1 + i lr/2| > 1, alternating det = 1
    assert sim["radius"] == pytest.approx(np.sqrt(1 + LR**2 / 4), abs=1e-8)
    assert alt["radius"] == pytest.approx(1.0, abs=1e-8)
    assert record("|alternating rate - 1|", abs(alt["rate"] - 1.0), "<= 1e-3")


@pytest.mark.parametrize("reg,damping", [("instance-noise", 0.5), ("r1", 1.0)])
@pytest.mark.parametrize("scheme", ["simultaneous", "alternating"])
def test_instance_noise_and_r1_converge_at_the_linearised_rate(result, reg, damping, scheme, record):
    r = row(result, reg, scheme)
    expected = radius(linear_map(scheme, damping))
    assert r["radius"] == pytest.approx(expected, abs=1e-7)
    assert expected < 1
    assert record("final distance", r["final"], "< 1e-3") and r["converged"]
    # near the equilibrium the measured contraction is the spectral radius (R1 + simultaneous
    # has a double eigenvalue, whose t*rho^t transient costs ~0.2 % here)
    assert record("|rate / radius - 1|", abs(r["rate"] / expected - 1), "<= 0.01")


def test_wgan_gp_does_not_converge(result, record):
    for scheme in ("simultaneous", "alternating"):
        assert record(f"{scheme} min last half", row(result, "wgan-gp", scheme)["min_last_half"], "> 0.5")
    assert result.holds


def test_monte_carlo_instance_noise_settles_in_a_noise_ball(record):
    r = dirac_gan(lr=LR, steps=300, noise_estimate="mc", noise_samples=64, seed=3)
    final = row(r, "instance-noise", "simultaneous")["final"]
    # no longer at 1e-5 like the exact expectation, but far inside the unregularised circle
    assert record("final distance", final, "1e-4 < x < 0.1")


def test_rpgan_alone_has_the_gan_rotation_and_shrinks_only_sublinearly(result, record):
    sim, alt = row(result, "rpgan", "simultaneous"), row(result, "rpgan", "alternating")
    # same linearisation as the GAN at (0, 0): eigenvalues +-i/2
    assert sim["radius"] == pytest.approx(np.sqrt(1 + LR**2 / 4), abs=1e-8)
    assert alt["radius"] == pytest.approx(1.0, abs=1e-8)
    for r in (sim, alt):
        assert not r["converged"]
        # the distance shrinks (the field dissipates away from (0, 0)) but far from linearly
        assert record("final distance", r["final"], "0.05 < x < 1") and 0.05 < r["final"] < 1
        assert record("rate (last half)", r["rate"], "> 0.995")


def test_rpgan_field_dissipates_at_fourth_order():
    # d/dt |z|^2 / 2 = theta theta' + psi psi' = -u tanh(u / 2), u = psi theta, for the continuous
    # field (theta', psi') = (-dL_G/dtheta, -dL_D/dpsi), at random points, from autograd.
    import torch
    from gankit.experiments.dirac import make_losses
    losses = make_losses("rpgan", r1_gamma=0.0, gp_weight=0.0)
    zero = torch.zeros(1, 1, dtype=torch.float64)
    for theta0, psi0 in np.random.default_rng(0).normal(size=(5, 2)) * 2:
        theta = torch.tensor(theta0, requires_grad=True)
        psi = torch.tensor(psi0, requires_grad=True)
        d_loss, g_loss = losses(theta, psi, zero, zero)
        (gp,) = torch.autograd.grad(d_loss, psi)
        (gt,) = torch.autograd.grad(g_loss, theta)
        u = theta0 * psi0
        assert (-theta0 * gt - psi0 * gp).item() == pytest.approx(-u * np.tanh(u / 2), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("reg,damping", [("rpgan+r1", 1.0), ("rpgan+r2", 1.0), ("rpgan+r1r2", 2.0)])
@pytest.mark.parametrize("scheme", ["simultaneous", "alternating"])
def test_rpgan_with_zero_centred_penalties_converges_at_the_linearised_rate(result, reg, damping, scheme, record):
    # with D linear, grad_x D = psi at every x: R1 and R2 each add -gamma to the critic's diagonal,
    # R1 + R2 with one gamma adds -2 gamma (overdamped at gamma = 1: a slower slow mode)
    r = row(result, reg, scheme)
    expected = radius(linear_map(scheme, damping))
    assert r["radius"] == pytest.approx(expected, abs=1e-7) and expected < 1
    assert record("|rate / radius - 1|", abs(r["rate"] / expected - 1), "<= 0.01")
    assert record("final distance", r["final"], "< 0.01")


def test_r1_and_r2_coincide_for_a_linear_critic(result):
    for scheme in ("simultaneous", "alternating"):
        a, b = row(result, "rpgan+r1", scheme), row(result, "rpgan+r2", scheme)
        assert a["final"] == pytest.approx(b["final"], rel=1e-9)
