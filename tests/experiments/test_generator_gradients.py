"""generator-gradients: loss gradients at a fixed optimal D vs gradients of exact divergences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.experiments.generator_gradients import generator_gradients
from gankit.integrate import grid_1d, mixture_log_prob, normal_log_prob
from gankit.losses import gan

MU, S = 0.5, 1.5


@pytest.fixture(scope="module")
def result():
    return generator_gradients(mu=MU, s=S, data_mean=0.0, data_std=1.0, mixture_means=[-1.5, 1.5],
                               mixture_std=0.5, mc_samples=100_000, seed=0)


def rows(result, case, loss):
    return {r[3]: r for r in result.rows if r[0] == case and r[1] == loss}


def test_maximum_likelihood_gradient_is_the_kl_gradient_in_closed_form(result):
    # KL(N(0,1) || N(mu, s^2)) = log s + (1 + mu^2)/(2 s^2) - 1/2
    r = rows(result, "gaussian", "maximum-likelihood")
    assert r["mu"][4] == pytest.approx(MU / S**2, rel=1e-8)
    assert r["s"][4] == pytest.approx(1 / S - (1 + MU**2) / S**3, rel=1e-7)


def test_every_loss_matches_its_divergence(result):
    assert len(result.rows) == 12
    for r in result.rows:
        quad, mc, div, err_quad, err_mc, z = r[4:10]
        assert abs(quad - div) <= 1e-6 * abs(div) + 1e-9, r
        assert err_quad < 1e-6 and err_mc < 0.05 and z < 5, r
    # the mixture makes KL(p_data||p_g) want a wider generator and JSD a narrower one here:
    # the sign of d/ds differs between the ML and the non-saturating losses
    assert rows(result, "mixture", "maximum-likelihood")["s"][6] < 0 < rows(result, "mixture", "non-saturating")["s"][6]
    assert result.holds


def test_differentiating_through_d_star_would_give_another_gradient(result):
    """Why D* must be held fixed: if p_g inside D* moves with the parameters, the ML loss is
    E_z[-p_data(G(z)) / p_g(G(z))] = -∫ p_data = -1 for every (mu, s), so its gradient is 0,
    not the KL gradient."""
    grid = grid_1d(-12.0, 12.0, 4001)
    z = grid.points[:, 0]
    w = grid.weights * torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    params = torch.tensor([MU, S], dtype=torch.float64, requires_grad=True)
    x = params[0] + params[1] * z
    log_p_data = mixture_log_prob([-1.5, 1.5], [0.5, 0.5])
    a = log_p_data(x) - normal_log_prob(params[0], params[1])(x)       # D* NOT held fixed
    per_sample = torch.func.vmap(lambda t: gan.maximum_likelihood_generator_loss(t[None]))(a)
    value = (w * per_sample).sum()
    (g,) = torch.autograd.grad(value, params)
    assert value.item() == pytest.approx(-1.0, abs=1e-10)
    assert float(g.norm()) < 1e-9
    div = np.array([rows(result, "mixture", "maximum-likelihood")[p][6] for p in ("mu", "s")])
    assert np.linalg.norm(div) > 0.2
