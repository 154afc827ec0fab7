"""D2GAN against its theorem (Nguyen et al. 2017, Prop. 1 and Thm. 2), by numerical
integration on 1-D mixtures: the critics that maximise J are D1* = α p/q and D2* = β q/p,
and J there is α KL(p||q) + β KL(q||p) + α(log α - 1) + β(log β - 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from gankit.losses import LOSSES
from gankit.losses.d2gan import constant, log_positive, positive, value_terms


def p_data(x):
    return 0.3 * stats.norm.pdf(x, -1.5, 0.6) + 0.7 * stats.norm.pdf(x, 1.0, 0.8)


def p_gen(x):
    return 0.5 * stats.norm.pdf(x, -0.5, 1.0) + 0.5 * stats.norm.pdf(x, 1.5, 0.7)


def kl(p, q):
    return integrate.quad(lambda x: p(x) * math.log(p(x) / q(x)), -12, 12, limit=200, epsabs=1e-12)[0]


@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.2, 0.1), (2.0, 0.5)])
def test_maximising_j_gives_the_density_ratios_and_the_two_kls(alpha, beta):
    # J(D1, D2) = sum_x dx [p(x) real_term(a(x)) + q(x) fake_term(a(x))]: the critics are free
    # functions on a grid (one pair of logits per point), maximised with the loss's own terms
    x = np.linspace(-8, 8, 1601)
    dx = x[1] - x[0]
    p, q = torch.tensor(p_data(x)), torch.tensor(p_gen(x))
    # J is a sum of independent per-point problems, so scaling each point by 1/(p+q) keeps
    # its maximiser and makes the problem well conditioned for the optimiser
    wp, wq = p / (p + q), q / (p + q)
    a = torch.zeros(len(x), 2, dtype=torch.float64)
    for _ in range(60):  # Newton's method, point by point (the Hessian of a separable sum is diagonal)
        a.requires_grad_(True)
        real, fake = value_terms(a, a, alpha, beta)
        objective = (wp * real).sum() + (wq * fake).sum()
        (g,) = torch.autograd.grad(objective, a, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), a)
        with torch.no_grad():
            step = torch.where(h < 0, -g / h, g.sign())  # ascend where the curvature is not yet negative
            a = (a + step.clamp(-2, 2)).detach()
    with torch.no_grad():
        d1, d2 = positive(a[:, 0]), positive(a[:, 1])
        core = (p > 1e-3) & (q > 1e-3)  # where both densities are resolved on the grid
        torch.testing.assert_close(d1[core], (alpha * p / q)[core], rtol=1e-4, atol=0)
        torch.testing.assert_close(d2[core], (beta * q / p)[core], rtol=1e-4, atol=0)
        real, fake = value_terms(a, a, alpha, beta)
        j = float(((p * real).sum() + (q * fake).sum()) * dx)
    expected = alpha * kl(p_data, p_gen) + beta * kl(p_gen, p_data) + constant(alpha, beta)
    assert j == pytest.approx(expected, abs=2e-5)


def test_the_generator_objective_at_the_optimal_critics_is_the_weighted_kls():
    """G's loss plus the G-independent real terms, at D1*, D2*, is J*: the weighted KL sum
    (Monte Carlo with 200 000 samples, so within a few standard errors)."""
    alpha, beta = 0.5, 2.0
    rng = np.random.default_rng(0)
    n = 200_000
    xr = np.where(rng.random(n) < 0.3, rng.normal(-1.5, 0.6, n), rng.normal(1.0, 0.8, n))
    xf = np.where(rng.random(n) < 0.5, rng.normal(-0.5, 1.0, n), rng.normal(1.5, 0.7, n))

    def critic(x):  # the optimal critics' logits: softplus^-1 of the density ratios
        r1, r2 = alpha * p_data(x) / p_gen(x), beta * p_gen(x) / p_data(x)
        inv = lambda v: np.where(v > 30, v, np.log(np.expm1(v)))  # noqa: E731
        return torch.tensor(np.stack([inv(r1), inv(r2)], 1))

    obj = LOSSES.build("d2gan", {"alpha": alpha, "beta": beta})
    real, _ = value_terms(critic(xr), critic(xf), alpha, beta)
    j = float(real.mean() + obj.g_loss(critic(xf)))
    expected = alpha * kl(p_data, p_gen) + beta * kl(p_gen, p_data) + constant(alpha, beta)
    assert j == pytest.approx(expected, abs=0.02)
    assert float(obj.estimate(critic(xr), critic(xf))) == pytest.approx(expected - constant(alpha, beta), abs=0.02)
    assert float(obj.d_loss(critic(xr), critic(xf))) == pytest.approx(-j, abs=1e-9)


def test_log_positive_is_stable_and_exact():
    a = torch.tensor([-200.0, -40.0, -15.5, -14.5, 0.0, 3.0, 60.0], dtype=torch.float64)
    expected = torch.log(torch.log1p(torch.exp(a)))
    torch.testing.assert_close(log_positive(a), expected, rtol=1e-6, atol=0)
    a32 = a.float().requires_grad_(True)
    log_positive(a32).sum().backward()
    assert torch.isfinite(log_positive(a32)).all() and torch.isfinite(a32.grad).all()


def test_the_two_critics_are_separate_networks(tmp_path):
    from gankit.session import train

    run = train(overrides=["loss=d2gan", "train.steps=5", "train.progress=false", "eval.num_samples=100",
                           "generator.width=16", "discriminator.width=16"], run_dir=tmp_path / "r")
    d1, d2 = run.recipe.D.critics
    assert d1 is not d2 and not any(p1 is p2 for p1, p2 in zip(d1.parameters(), d2.parameters()))
    x = torch.randn(7, 2)
    out = run.recipe.D(x)
    assert out.shape == (7, 2)
    torch.testing.assert_close(out, torch.cat([d1(x).reshape(7, 1), d2(x).reshape(7, 1)], 1))
