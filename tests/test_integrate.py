"""Grid integration of divergences and of D*, against closed forms and scipy.integrate.quad."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate as sint
from scipy.stats import norm

from gankit.data.toy import GaussianMixture
from gankit.integrate import (
    divergences,
    expectation,
    grid_1d,
    grid_2d,
    js_divergence,
    kl_divergence,
    mixture_log_prob,
    normal_log_prob,
    optimal_discriminator,
    reverse_kl_divergence,
    span,
    value_function,
)


def kl_normal(m1: float, s1: float, m2: float, s2: float, d: int = 1) -> float:
    """KL(N(m1, s1² I) || N(m2, s2² I)) in d dimensions."""
    return d * math.log(s2 / s1) + (d * s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - d / 2


@pytest.mark.parametrize("m1,s1,m2,s2", [(0.0, 1.0, 1.0, 2.0), (0.5, 0.3, -0.5, 1.5), (1.0, 2.0, 1.0, 2.0)])
def test_kl_between_gaussians_matches_closed_form(m1, s1, m2, s2):
    grid = grid_1d(*span([m1, m2], [s1, s2]))
    p, q = normal_log_prob(m1, s1), normal_log_prob(m2, s2)
    assert float(kl_divergence(p, q, grid)) == pytest.approx(kl_normal(m1, s1, m2, s2), abs=1e-10)
    assert float(reverse_kl_divergence(p, q, grid)) == pytest.approx(kl_normal(m2, s2, m1, s1), abs=1e-10)


def test_jsd_of_a_mixture_matches_scipy_quad():
    p = mixture_log_prob([-2.0, 2.0], [0.5, 0.5], [0.3, 0.7])
    q = normal_log_prob(0.5, 1.5)

    def pdf_p(x):
        return 0.3 * norm.pdf(x, -2, 0.5) + 0.7 * norm.pdf(x, 2, 0.5)

    def pdf_q(x):
        return norm.pdf(x, 0.5, 1.5)

    def integrand(x):
        a, b = pdf_p(x), pdf_q(x)
        m = 0.5 * (a + b)
        return 0.5 * (a * math.log(a / m) if a > 0 else 0.0) + 0.5 * (b * math.log(b / m) if b > 0 else 0.0)

    expected, _ = sint.quad(integrand, -15, 15, points=[-2, 0.5, 2], epsabs=1e-13, limit=200)
    got = divergences(p, q, grid_1d(-15, 15))
    assert got["jsd"] == pytest.approx(expected, abs=1e-9)
    assert 0.05 < got["jsd"] < math.log(2)
    kl_expected, _ = sint.quad(lambda x: pdf_p(x) * math.log(pdf_p(x) / pdf_q(x)), -15, 15,
                               points=[-2, 0.5, 2], epsabs=1e-13, limit=200)
    assert got["kl"] == pytest.approx(kl_expected, abs=1e-9)


def test_jsd_limits_zero_and_log2():
    grid = grid_1d(-40, 40, 40001)
    p = normal_log_prob(0.0, 1.0)
    assert float(js_divergence(p, p, grid)) == pytest.approx(0.0, abs=1e-12)
    # 30 standard deviations apart: the supports are disjoint to machine precision
    assert float(js_divergence(p, normal_log_prob(30.0, 1.0), grid)) == pytest.approx(math.log(2), abs=1e-10)


def test_value_function_at_optimal_d_is_2jsd_minus_log4():
    p, q = mixture_log_prob([-1.0, 1.5], [0.4, 0.6]), normal_log_prob(0.0, 1.2)
    grid = grid_1d(-12, 12)
    v = float(value_function(p, q, grid))
    assert v == pytest.approx(2 * float(js_divergence(p, q, grid)) - math.log(4), abs=1e-10)
    # equal densities: D* = 1/2 everywhere and V = -log 4
    assert float(value_function(q, q, grid)) == pytest.approx(-math.log(4), abs=1e-10)
    d = optimal_discriminator(q, q, grid.points)
    assert float((d - 0.5).abs().max()) == 0.0


def test_value_function_of_a_constant_discriminator():
    # D = sigmoid(c) everywhere: V = log sigmoid(c) + log(1 - sigmoid(c)) whatever the densities
    p, q = normal_log_prob(0.0, 1.0), normal_log_prob(2.0, 0.5)
    c = 0.7
    v = float(value_function(p, q, grid_1d(-12, 12), logit=lambda x: torch.full((x.shape[0],), c, dtype=torch.float64)))
    s = 1 / (1 + math.exp(-c))
    assert v == pytest.approx(math.log(s) + math.log(1 - s), abs=1e-10)


def test_optimal_discriminator_pointwise():
    p, q = normal_log_prob(0.0, 1.0), normal_log_prob(1.0, 2.0)
    x = torch.tensor([[-1.0], [0.0], [2.5]], dtype=torch.float64)
    a, b = norm.pdf(x.numpy()[:, 0], 0, 1), norm.pdf(x.numpy()[:, 0], 1, 2)
    np.testing.assert_allclose(optimal_discriminator(p, q, x).numpy(), a / (a + b), rtol=1e-12)


def test_expectation_second_moment():
    p = normal_log_prob(0.7, 1.3)
    got = float(expectation(p, lambda x: x[:, 0] ** 2, grid_1d(-15, 15)))
    assert got == pytest.approx(0.7**2 + 1.3**2, abs=1e-10)


def test_kl_is_differentiable_in_the_parameters():
    m2 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    s2 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    kl = kl_divergence(normal_log_prob(0.0, 1.0), normal_log_prob(m2, s2), grid_1d(-20, 20))
    g_m, g_s = torch.autograd.grad(kl, [m2, s2])
    # d/dm2 = (m2 - m1)/s2²; d/ds2 = 1/s2 - (s1² + (m1 - m2)²)/s2³
    assert float(g_m) == pytest.approx(1.0 / 4.0, abs=1e-9)
    assert float(g_s) == pytest.approx(0.5 - 2.0 / 8.0, abs=1e-9)


def test_2d_grid_kl_and_jsd_against_closed_form_and_1d():
    # isotropic 2-D Gaussians through the toy data source's exact log_prob
    f64 = torch.float64  # float32 0.8 would be 0.800000012, an error larger than the tolerance
    p = GaussianMixture(torch.tensor([[0.0, 0.0]], dtype=f64), torch.tensor(0.8, dtype=f64))
    q = GaussianMixture(torch.tensor([[1.0, -0.5]], dtype=f64), torch.tensor(1.1, dtype=f64))
    grid = grid_2d(-9.0, 9.0, 401)
    m1, m2 = np.array([0.0, 0.0]), np.array([1.0, -0.5])
    expected = 2 * math.log(1.1 / 0.8) + (2 * 0.8**2 + np.sum((m1 - m2) ** 2)) / (2 * 1.1**2) - 1
    assert float(kl_divergence(p.log_prob, q.log_prob, grid)) == pytest.approx(expected, abs=1e-8)
    # V(D*, G) = 2 JSD - log 4 holds on the 2-D grid as well
    jsd = float(js_divergence(p.log_prob, q.log_prob, grid))
    assert float(value_function(p.log_prob, q.log_prob, grid)) == pytest.approx(2 * jsd - math.log(4), abs=1e-10)
    assert 0.0 < jsd < math.log(2)


def test_grid_rejects_even_point_counts():
    with pytest.raises(ValueError):
        grid_1d(0.0, 1.0, 10)
