"""Mode metrics on constructed sample sets, and the two-sample distances against scipy."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

from gankit.data.toy import grid, ring
from gankit.metrics.modes import mode_statistics
from gankit.metrics.twosample import energy_distance, gaussian_mmd2


def test_samples_on_every_mode_capture_all():
    data = ring()
    x = data.means.repeat(10, 1).float()
    s = mode_statistics(x, data.means, data.sigma)
    assert s == {"modes": 8.0, "modes_total": 8.0, "hq_percent": 100.0, "reverse_kl": 0.0}


def test_one_mode_only():
    data = grid()
    x = data.means[3].repeat(100, 1) + 0.01
    s = mode_statistics(x, data.means, data.sigma)
    assert s["modes"] == 1.0 and s["hq_percent"] == 100.0
    assert s["reverse_kl"] == pytest.approx(math.log(25), rel=1e-12)


def test_far_points_are_not_high_quality():
    data = ring()
    x = torch.randn(500, 2) * 0.05 + 5.0
    s = mode_statistics(x, data.means, data.sigma)
    assert s["hq_percent"] == 0.0 and s["modes"] == 0.0


def test_true_samples_score_the_gaussian_3sigma_mass():
    # A perfect sampler: HQ -> 1 - exp(-9/2) = 98.89 % (chi-squared with 2 dof at 9).
    data = ring()
    x, _ = data.sample(200_000, torch.Generator().manual_seed(0))
    s = mode_statistics(x, data.means, data.sigma)
    assert s["hq_percent"] == pytest.approx(100 * (1 - math.exp(-4.5)), abs=0.1)
    assert s["modes"] == 8 and s["reverse_kl"] < 1e-3


def test_uneven_histogram_reverse_kl():
    data = ring(modes=4)
    counts = [10, 20, 30, 40]
    x = torch.cat([data.means[i].repeat(c, 1) for i, c in enumerate(counts)]).float()
    p = np.array(counts) / 100
    assert mode_statistics(x, data.means, data.sigma)["reverse_kl"] == pytest.approx(float(np.sum(p * np.log(p * 4))), rel=1e-9)


def test_energy_distance_matches_scipy_in_1d():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 400), rng.normal(0.5, 1.5, 300)
    # scipy: sqrt(2E|X-Y| - E|X-X'| - E|Y-Y'|) with V-statistics (self-pairs included).
    v_stat = scipy.stats.energy_distance(a, b) ** 2
    n, m = len(a), len(b)
    xx = np.abs(a[:, None] - a[None]).sum()
    yy = np.abs(b[:, None] - b[None]).sum()
    # convert our U-statistic to the V-statistic and compare
    ours = energy_distance(torch.tensor(a)[:, None], torch.tensor(b)[:, None])
    u_to_v = ours + xx / (n * (n - 1)) + yy / (m * (m - 1)) - xx / n**2 - yy / m**2
    assert u_to_v == pytest.approx(v_stat, rel=1e-9)


def test_mmd_closed_form_between_gaussians():
    # 1-D N(0,1) vs N(1,1), Gaussian kernel h: E k(x,y) = h / sqrt(h^2 + s^2) exp(-d^2 / (2 (h^2 + s^2))), s^2 = 2.
    h = 1.0
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 1, generator=g, dtype=torch.float64)
    y = torch.randn(4000, 1, generator=g, dtype=torch.float64) + 1
    e = lambda d: h / math.sqrt(h**2 + 2) * math.exp(-d**2 / (2 * (h**2 + 2)))
    exact = 2 * e(0) - 2 * e(1)
    assert gaussian_mmd2(x, y, h) == pytest.approx(exact, abs=0.01)
