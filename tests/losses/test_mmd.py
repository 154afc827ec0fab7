"""MMD^2 estimators against the Gaussian closed form, a numpy double loop, and their bias.

Closed form: for z ~ N(mu, tau^2 I_d),
    E exp(-|z|^2 / (2 sigma^2)) = (sigma^2 / (sigma^2 + tau^2))^(d/2) exp(-|mu|^2 / (2 (sigma^2 + tau^2)))
(complete the square). With x, x' ~ N(m1, s1^2 I), y, y' ~ N(m2, s2^2 I): x - x' has
tau^2 = 2 s1^2, y - y' has 2 s2^2, x - y has s1^2 + s2^2 and mean m1 - m2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from gankit.errors import ConfigError
from gankit.losses import LOSSES, mmd2_biased, mmd2_unbiased

BANDWIDTHS = (0.5, 1.0, 2.0)
D = 2
M1, S1 = np.array([0.0, 0.0]), 1.0
M2, S2 = np.array([1.0, 0.5]), 1.5


def expected_kernel(mu: np.ndarray, tau2: float, bandwidths=BANDWIDTHS) -> float:
    d = len(mu)
    return sum((s * s / (s * s + tau2)) ** (d / 2) * math.exp(-float(mu @ mu) / (2 * (s * s + tau2)))
               for s in bandwidths)


def closed_form_mmd2() -> float:
    return (expected_kernel(np.zeros(D), 2 * S1 ** 2) + expected_kernel(np.zeros(D), 2 * S2 ** 2)
            - 2 * expected_kernel(M1 - M2, S1 ** 2 + S2 ** 2))


def numpy_loops(x: np.ndarray, y: np.ndarray, bandwidths=BANDWIDTHS) -> tuple[float, float]:
    """(unbiased, biased) MMD^2 by explicit double loops."""
    k = lambda a, b: sum(math.exp(-float((a - b) @ (a - b)) / (2 * s * s)) for s in bandwidths)
    n, m = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    k0 = len(bandwidths)
    unbiased = kxx / (n * (n - 1)) + kyy / (m * (m - 1)) - 2 * kxy / (n * m)
    biased = (kxx + n * k0) / n ** 2 + (kyy + m * k0) / m ** 2 - 2 * kxy / (n * m)
    return unbiased, biased


def test_kernel_expectation_closed_form_matches_quadrature():
    for mu, tau2, s in [(0.0, 2.0, 0.5), (1.3, 3.25, 2.0), (-0.4, 0.7, 1.0)]:
        num, _ = integrate.quad(lambda z: math.exp(-(z - mu) ** 2 / (2 * tau2)) / math.sqrt(2 * math.pi * tau2)
                                * math.exp(-z * z / (2 * s * s)), -40, 40, epsabs=1e-13)
        assert expected_kernel(np.array([mu]), tau2, (s,)) == pytest.approx(num, rel=1e-10)


def test_estimators_match_numpy_double_loops():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(5, 3)) + 0.7
    u, b = numpy_loops(x, y)
    assert mmd2_unbiased(torch.as_tensor(x), torch.as_tensor(y), BANDWIDTHS).item() == pytest.approx(u, rel=1e-12)
    assert mmd2_biased(torch.as_tensor(x), torch.as_tensor(y), BANDWIDTHS).item() == pytest.approx(b, rel=1e-12)
    # (B, C, H, W) inputs are flattened per sample
    xi, yi = torch.as_tensor(x).view(6, 3, 1, 1), torch.as_tensor(y).view(5, 3, 1, 1)
    assert mmd2_unbiased(xi, yi, BANDWIDTHS).item() == pytest.approx(u, rel=1e-12)


def _draws(reps: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(M1) + S1 * torch.randn(reps, n, D, generator=g, dtype=torch.float64)
    y = torch.as_tensor(M2) + S2 * torch.randn(reps, n, D, generator=g, dtype=torch.float64)
    return x, y


def test_unbiased_estimator_is_unbiased_and_biased_one_is_off_by_the_predicted_amount():
    """Over 2000 draws of n = m = 20: mean(U) = MMD^2 within 3 SE; mean(V) = MMD^2 +
    (k(0) - E k(x,x'))/n + (k(0) - E k(y,y'))/m within 3 SE, a bias of many SEs."""
    reps, n = 2000, 20
    x, y = _draws(reps, n, seed=0)
    u = np.array([mmd2_unbiased(x[r], y[r], BANDWIDTHS).item() for r in range(reps)])
    v = np.array([mmd2_biased(x[r], y[r], BANDWIDTHS).item() for r in range(reps)])
    truth = closed_form_mmd2()
    k0 = len(BANDWIDTHS)
    bias = (k0 - expected_kernel(np.zeros(D), 2 * S1 ** 2)) / n + (k0 - expected_kernel(np.zeros(D), 2 * S2 ** 2)) / n
    se_u, se_v = u.std(ddof=1) / math.sqrt(reps), v.std(ddof=1) / math.sqrt(reps)
    assert abs(u.mean() - truth) < 3 * se_u
    assert abs(v.mean() - (truth + bias)) < 3 * se_v
    assert bias > 10 * se_v


def test_large_sample_estimate_matches_closed_form():
    """One draw of n = m = 1500: within 4 Monte Carlo standard deviations, the SD taken from
    200 draws at n = 100 and scaled by sqrt(100/1500) (the U-statistic's 1/n variance)."""
    x, y = _draws(1, 1500, seed=1)
    est = mmd2_unbiased(x[0], y[0], BANDWIDTHS).item()
    xs, ys = _draws(200, 100, seed=2)
    sd100 = np.std([mmd2_unbiased(xs[r], ys[r], BANDWIDTHS).item() for r in range(200)], ddof=1)
    truth = closed_form_mmd2()
    assert abs(est - truth) < 4 * sd100 * math.sqrt(100 / 1500)


def test_far_from_origin_float32_and_duplicate_points_stay_exact_and_differentiable():
    x, y = _draws(1, 64, seed=3)
    ref = mmd2_unbiased(x[0], y[0], BANDWIDTHS).item()
    shifted_x = (x[0] + 1e4).float().requires_grad_(True)
    val = mmd2_unbiased(shifted_x, (y[0] + 1e4).float(), BANDWIDTHS)
    assert val.item() == pytest.approx(ref, abs=2e-3)  # float32 spacing at 1e4 is 1e-3
    val.backward()
    assert bool(torch.isfinite(shifted_x.grad).all())
    dup = torch.zeros(8, 2, requires_grad=True)  # every distance exactly 0
    mmd2_unbiased(dup, torch.ones(8, 2), BANDWIDTHS).backward()
    assert bool(torch.isfinite(dup.grad).all())
    with pytest.raises(ValueError):
        mmd2_unbiased(torch.zeros(1, 2), torch.zeros(5, 2), BANDWIDTHS)


def test_gmmn_objective():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(7, 2)), rng.normal(size=(6, 2)) * 2
    obj = LOSSES.build("gmmn", {"bandwidths": [0.5, 1.0, 2.0]})
    u, _ = numpy_loops(fake, real)
    r, f = torch.as_tensor(real), torch.as_tensor(fake)
    assert obj.g_loss(f, r).item() == pytest.approx(u, rel=1e-12)
    assert obj.estimate(r, f).item() == pytest.approx(u, rel=1e-12)  # MMD^2 is symmetric
    assert obj.d_loss(r, f).item() == 0.0
    assert not obj.learned_critic and obj.g_uses_real
    big = torch.tensor(rng.normal(size=(6, 2)) * 1e4, dtype=torch.float32, requires_grad=True)
    value = LOSSES.build("gmmn").g_loss(big, torch.zeros(5, 2))
    value.backward()
    assert bool(torch.isfinite(value)) and bool(torch.isfinite(big.grad).all())


def test_mmd_gan_objective():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(8, 16)), rng.normal(size=(8, 16)) + 0.3
    obj = LOSSES.build("mmd-gan", {"features": 16, "bandwidths": [1.0, 2.0, 4.0]})
    assert obj.critic_dim == 16 and obj.learned_critic and obj.g_uses_real
    u, _ = numpy_loops(real, fake, (1.0, 2.0, 4.0))
    r, f = torch.as_tensor(real), torch.as_tensor(fake)
    assert obj.d_loss(r, f).item() == pytest.approx(-u, rel=1e-12)
    assert obj.g_loss(f, r).item() == pytest.approx(u, rel=1e-12)
    h = torch.full((4, 16), 1e4, requires_grad=True)
    value = obj.d_loss(h, -h)
    value.backward()
    assert bool(torch.isfinite(value)) and bool(torch.isfinite(h.grad).all())


@pytest.mark.parametrize("name, options", [
    ("gmmn", {"bandwidths": []}), ("gmmn", {"bandwidths": [1.0, -2.0]}),
    ("mmd-gan", {"features": 0}), ("mmd-gan", {"bandwidths": "wide"}),
])
def test_bad_mmd_options_are_config_errors(name, options):
    with pytest.raises(ConfigError):
        LOSSES.build(name, options)
