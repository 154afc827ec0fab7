"""Classic GAN losses against independent numpy computations and closed-form gradients."""

import math

import numpy as np
import pytest
import torch

from gankit.losses import LOSSES
from gankit.losses import gan as L

RNG = np.random.default_rng(0)
REAL = RNG.normal(1.0, 2.0, 64)
FAKE = RNG.normal(-1.0, 2.0, 64)


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def t(a):
    return torch.tensor(a, dtype=torch.float64)


def test_discriminator_loss_is_minus_value_function():
    expected = -(np.log(sig(REAL)).mean() + np.log(1 - sig(FAKE)).mean())
    assert L.discriminator_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected, rel=1e-12)
    assert L.value_function(t(REAL), t(FAKE)).item() == pytest.approx(-expected, rel=1e-12)


@pytest.mark.parametrize("fn, ref", [
    (L.saturating_generator_loss, lambda a: np.log(1 - sig(a)).mean()),
    (L.non_saturating_generator_loss, lambda a: -np.log(sig(a)).mean()),
    (L.maximum_likelihood_generator_loss, lambda a: -np.exp(a).mean()),
    (L.least_squares_generator_loss, lambda a: 0.5 * ((a - 1) ** 2).mean()),
    (L.hinge_generator_loss, lambda a: -a.mean()),
])
def test_generator_losses_match_numpy(fn, ref):
    assert fn(t(FAKE)).item() == pytest.approx(ref(FAKE), rel=1e-12)


def test_critic_losses_match_numpy():
    ls = 0.5 * ((REAL - 1) ** 2).mean() + 0.5 * (FAKE**2).mean()
    hinge = np.maximum(0, 1 - REAL).mean() + np.maximum(0, 1 + FAKE).mean()
    assert L.least_squares_discriminator_loss(t(REAL), t(FAKE)).item() == pytest.approx(ls, rel=1e-12)
    assert L.hinge_discriminator_loss(t(REAL), t(FAKE)).item() == pytest.approx(hinge, rel=1e-12)


def test_value_at_half_is_minus_log4():
    zeros = torch.zeros(10)
    assert L.value_function(zeros, zeros).item() == pytest.approx(-math.log(4), abs=1e-7)


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_finite_at_extreme_logits(name):
    obj = LOSSES.build(name, {})
    if not obj.learned_critic:
        pytest.skip("no critic outputs")
    dim = obj.critic_dim
    shape = (8,) if dim == 1 else (8, dim)
    for big in (1e4, -1e4):
        real = torch.full(shape, big, requires_grad=True)
        fake = torch.full(shape, -big, requires_grad=True)
        d = obj.d_loss(real, fake)
        g = obj.g_loss(fake, real)
        assert torch.isfinite(d) and torch.isfinite(g), (name, big, d, g)
        (d + g).backward()
        assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_saturating_gradient_vanishes_non_saturating_does_not():
    # d/da of the generator losses per sample: -sigmoid(a) (saturating) vs -(1 - sigmoid(a)).
    for d_fake in (1e-2, 1e-4, 1e-6):
        a = torch.tensor([math.log(d_fake / (1 - d_fake))], dtype=torch.float64, requires_grad=True)
        (gs,) = torch.autograd.grad(L.saturating_generator_loss(a), a)
        (gn,) = torch.autograd.grad(L.non_saturating_generator_loss(a), a)
        (gm,) = torch.autograd.grad(L.maximum_likelihood_generator_loss(a), a)
        assert gs.item() == pytest.approx(-d_fake, rel=1e-9)
        assert gn.item() == pytest.approx(-(1 - d_fake), rel=1e-9)
        assert gm.item() == pytest.approx(-d_fake / (1 - d_fake), rel=1e-9)
    # at D(G(z)) = 1e-6 the saturating gradient is a million times smaller than the non-saturating one
    assert abs(gs.item()) / abs(gn.item()) < 1.1e-6


def test_optimal_discriminator_value_is_2jsd_minus_log4():
    # Two discrete distributions: V(D*, G) = 2 JSD - log 4 exactly (Goodfellow et al. 2014, Thm 1).
    p = np.array([0.5, 0.3, 0.2, 0.0])
    q = np.array([0.1, 0.2, 0.3, 0.4])
    logit = torch.tensor(np.log(np.where(p > 0, p, 1e-300)) - np.log(q))  # log(D*/(1 - D*)) = log p/q
    # expectation under p and q as weighted sums instead of samples
    vp = -(torch.nn.functional.softplus(-logit) * torch.tensor(p)).sum()
    vq = -(torch.nn.functional.softplus(logit) * torch.tensor(q)).sum()
    m = 0.5 * (p + q)
    kl = lambda a: np.sum(np.where(a > 0, a * np.log(np.where(a > 0, a, 1) / m), 0))
    jsd = 0.5 * kl(p) + 0.5 * kl(q)
    assert (vp + vq).item() == pytest.approx(2 * jsd - math.log(4), abs=1e-9)
