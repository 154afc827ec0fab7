"""bilinear-game: measured growth per step against the spectral radii of REFERENCE.md §5."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gankit.errors import ConfigError
from gankit.experiments.bilinear import bilinear_game, running_average, spectral_radius_eig, trajectory


@pytest.fixture(scope="module", params=[0.1, 0.3])
def result(request):
    return bilinear_game(eta=request.param, steps=1000, seed=0)


def test_simultaneous_grows_at_sqrt_1_plus_eta2(result):
    eta = result.series["eta"]
    rate = result.summary["rate simultaneous"]
    assert rate == pytest.approx(math.sqrt(1 + eta**2), rel=0.01)
    assert rate > 1.0
    # the running average of a spiral going out goes out too
    assert result.summary["rate average of simultaneous"] == pytest.approx(math.sqrt(1 + eta**2), rel=0.01)


def test_extragradient_and_proximal_contract_at_their_radius(result):
    eta = result.series["eta"]
    assert result.summary["rate extragradient"] == pytest.approx(math.sqrt(1 - eta**2 + eta**4), rel=0.01)
    assert result.summary["rate proximal"] == pytest.approx(1 / math.sqrt(1 + eta**2), rel=0.01)
    assert result.holds


def test_alternating_is_bounded_and_its_average_goes_to_zero():
    eta, steps = 0.3, 2000
    z0 = np.array([0.6, -0.8])
    traj = trajectory("alternating", z0, eta, steps)
    # M = [[1, -eta], [eta, 1 - eta^2]] has |eigenvalues| = 1, so |M^t z0| <= cond(V) |z0|
    M = np.array([[1.0, -eta], [eta, 1 - eta**2]])
    lam, V = np.linalg.eig(M)
    np.testing.assert_allclose(np.abs(lam), 1.0, atol=1e-12)
    cond = np.linalg.cond(V)
    norms = np.linalg.norm(traj, axis=1)
    assert norms.max() <= cond * 1.0 + 1e-12 and norms.min() >= 1.0 / cond - 1e-12
    # the running average: closed form (I - M)^{-1} (I - M^{T+1}) z0 / (T + 1)
    avg = running_average(traj)[-1]
    expected = np.linalg.solve(np.eye(2) - M, (np.eye(2) - np.linalg.matrix_power(M, steps + 1)) @ z0) / (steps + 1)
    np.testing.assert_allclose(avg, expected, rtol=1e-9, atol=1e-13)
    bound = np.linalg.norm(np.linalg.inv(np.eye(2) - M), 2) * (1 + cond) / (steps + 1)
    assert 0.0 < np.linalg.norm(avg) <= bound
    assert bound < 0.02  # i.e. the average really is near 0 after 2000 steps, unlike the iterates


@pytest.mark.parametrize("eta", [0.1, 0.3, 0.55, 0.65])
def test_optimistic_converges_below_one_over_sqrt3(eta):
    r = bilinear_game(eta=eta, steps=600, seed=1)
    # w = x + iy obeys w' = w + i eta (2w - w_prev): roots of mu^2 - (1 + 2i eta) mu + i eta
    radius = max(abs(np.roots([1.0, -(1 + 2j * eta), 1j * eta])))
    rate = r.summary["rate optimistic"]
    assert rate == pytest.approx(radius, rel=0.01)
    assert (rate < 1.0) == (eta < 1 / math.sqrt(3))


@pytest.mark.parametrize("eta", [0.2, 0.9, 2.5])
def test_eigvals_of_the_update_maps_match_the_closed_forms(eta):
    assert spectral_radius_eig("simultaneous", eta) == pytest.approx(math.sqrt(1 + eta**2), rel=1e-12)
    assert spectral_radius_eig("extragradient", eta) == pytest.approx(math.sqrt(1 - eta**2 + eta**4), rel=1e-12)
    assert spectral_radius_eig("proximal", eta) == pytest.approx(1 / math.sqrt(1 + eta**2), rel=1e-12)
    # alternating: trace 2 - eta^2, det 1 -> on the unit circle iff eta < 2
    alt = max(abs(np.roots([1.0, -(2 - eta**2), 1.0])))
    assert spectral_radius_eig("alternating", eta) == pytest.approx(alt, rel=1e-6)
    assert (alt > 1 + 1e-9) == (eta > 2)


def test_overflowing_settings_are_refused():
    with pytest.raises(ConfigError, match="float64"):
        bilinear_game(eta=1.0, steps=5000)
