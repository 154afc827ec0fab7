"""optimal-discriminator: a D trained alone against fixed densities approaches D* (Goodfellow et al.
2014, Prop. 1) and V(D, G) approaches 2 JSD - log 4, both computed here independently with scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from gankit.experiments.optimal_discriminator import compare, make_case, optimal_discriminator

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def result():
    return optimal_discriminator(cases=["1d"], steps=1500, batch_size=512, lr=1e-2, width=64, depth=2,
                                 mc_samples=400_000, record_every=500, seed=0)


def scipy_v_star_1d() -> float:
    """2 JSD - log 4 for 0.5 N(-2, .25) + 0.5 N(2, .25) vs N(0, 1.5²) by adaptive quadrature."""
    def p_data(x: float) -> float:
        return 0.5 * stats.norm.pdf(x, -2, 0.5) + 0.5 * stats.norm.pdf(x, 2, 0.5)

    def integrand(x: float) -> float:
        p, q = p_data(x), stats.norm.pdf(x, 0, 1.5)
        return special.xlogy(p, p / (p + q)) + special.xlogy(q, q / (p + q))

    return integrate.quad(integrand, -12, 12, points=[-2, 0, 2], limit=200, epsabs=1e-12)[0]


def test_trained_d_matches_d_star_and_v_matches_2jsd_minus_log4(result, record):
    (row,) = result.rows
    _, max_err, mean_err, v_star, v_quad, v_mc, se, gap_quad, gap_mc, ok = row
    assert v_star == pytest.approx(scipy_v_star_1d(), abs=1e-8)
    assert record("max |D - D*|", max_err, "0 < x < 0.05") and record("mean |D - D*|", mean_err, "0 < x < 0.01")
    # D* maximises V: the trained D's value lies below 2 JSD - log 4, and close to it
    assert record("V* - V (quadrature)", gap_quad, "0 < x < 0.005")
    assert record("(V* - V MC) / max(0.01, 4 se)", gap_mc / max(0.01, 4 * se), "< 1")
    assert record("se of V MC", se, "1e-4 < x < 3e-3")
    # the Monte Carlo and quadrature values of the same D agree within the sampling error
    assert record("|V MC - V quad| / 4 se", abs(v_mc - v_quad) / (4 * se), "< 1")
    assert ok and result.holds


def test_training_drives_the_error_down(result, record):
    h = result.series["cases"]["1d"]["history"]
    assert h["step"] == [0, 500, 1000, 1500]
    # the untrained D is far from D*
    assert record("untrained max |D - D*|", h["max_error"][0], "> 0.3")
    assert record("untrained mean |D - D*|", h["mean_error"][0], "> 0.1")
    assert record("final / best earlier max error", h["max_error"][-1] / min(h["max_error"][:-1]), "< 1")
    assert record("final / best earlier mean error", h["mean_error"][-1] / min(h["mean_error"][:-1]), "< 1")


def test_comparison_against_an_exact_d_star_network_is_zero_and_a_constant_d_is_off_by_the_jsd():
    case = make_case("1d", equal=False, g_std=1.5, ring_sigma=0.25)

    class Exact(torch.nn.Module):       # logit = log p_data - log p_g, the optimal D itself
        def forward(self, x):
            x = x.double()
            return (case.p_data.log_prob(x) - case.p_g.log_prob(x)).float()

    class Half(torch.nn.Module):        # D = 1/2: V = -log 4, |D - D*| up to max D*
        def forward(self, x):
            return torch.zeros(x.shape[0])

    exact = compare(Exact(), case, 1e-3)
    v_star = scipy_v_star_1d()
    assert exact["max_error"] < 1e-6 and exact["v_quad"] == pytest.approx(v_star, abs=1e-6)
    half = compare(Half(), case, 1e-3)
    assert half["v_quad"] == pytest.approx(-math.log(4), abs=1e-9)
    x = np.linspace(-10, 10, 5001)
    p = 0.5 * stats.norm.pdf(x, -2, 0.5) + 0.5 * stats.norm.pdf(x, 2, 0.5)
    q = stats.norm.pdf(x, 0, 1.5)
    mass = p + q > 1e-3 * (p + q).max()
    assert half["max_error"] == pytest.approx(np.abs(p / (p + q) - 0.5)[mass].max(), abs=1e-6)


def test_ring_case_in_two_dimensions(record):
    r = optimal_discriminator(cases=["2d"], steps=2000, batch_size=512, lr=1e-2, width=64, depth=3,
                              mc_samples=200_000, record_every=2000, seed=0)
    (row,) = r.rows
    _, max_err, mean_err, v_star, v_quad, v_mc, se, gap_quad, gap_mc, ok = row
    # a short run: the mean error is already small, the max (on the modes' flanks) not yet 0.05
    assert record("mean |D - D*|", mean_err, "0 < x < 0.01") and record("max |D - D*|", max_err, "0 < x < 0.25")
    assert record("V* - V (quadrature)", gap_quad, "0 < x < 0.01")
    assert record("|V MC - V quad| / 4 se", abs(v_mc - v_quad) / (4 * se), "< 1")
    # 2 JSD - log 4 by an independent scipy quadrature in polar coordinates (ring vs N(0, 1.5² I))
    means = np.stack([2 * np.cos(np.arange(8) * np.pi / 4), 2 * np.sin(np.arange(8) * np.pi / 4)], 1)

    def integrand(rad: float, phi: float) -> float:
        x = rad * np.array([np.cos(phi), np.sin(phi)])
        p = np.mean(np.exp(-((x - means) ** 2).sum(1) / (2 * 0.25**2))) / (2 * np.pi * 0.25**2)
        q = np.exp(-(x @ x) / (2 * 1.5**2)) / (2 * np.pi * 1.5**2)
        return rad * (special.xlogy(p, p / (p + q)) + special.xlogy(q, q / (p + q)))

    # one eighth of the ring by symmetry: phi in [0, pi/4]
    val = 8 * integrate.dblquad(integrand, 0, np.pi / 4, 0, 10, epsabs=1e-10, epsrel=1e-9)[0]
    assert v_star == pytest.approx(val, abs=1e-5)
