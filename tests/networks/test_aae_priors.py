"""AAE priors (densities, labelled components) and encoders, against scipy and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from gankit.errors import ConfigError
from gankit.networks import ENCODERS, PRIORS
from gankit.networks.aae_priors import BoxPrior, CircleMixture, GaussianPrior, SwissRoll, as_latent_prior
from gankit.networks.encoders import halvings


def planar_mass(prior, lim: float, m: int = 101) -> float:
    """Integral of exp(log_prob) over [-lim, lim]^2 by the composite Simpson rule (node spacing
    at most 0.53 sigma: the error on these Gaussian bumps is far below the tolerance)."""
    g = np.linspace(-lim, lim, m)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    pts = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    dens = prior.log_prob(pts).exp().numpy().reshape(m, m)
    return float(integrate.simpson(integrate.simpson(dens, x=g, axis=1), x=g))


@pytest.mark.parametrize("prior,lim", [(GaussianPrior(2), 8.0), (CircleMixture(2, 10, 4.0, 0.5), 7.0),
                                       (SwissRoll(2), 4.0)], ids=["normal", "mog", "swissroll"])
def test_density_integrates_to_one(prior, lim):
    assert planar_mass(prior, lim) == pytest.approx(1.0, abs=2e-3)


def test_mixture_density_and_marginal_match_scipy():
    prior = CircleMixture(3, components=5, radius=2.0, sigma=0.4)
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    angles = 2 * np.pi * np.arange(5) / 5
    means = np.stack([2 * np.cos(angles), 2 * np.sin(angles), np.zeros(5)], 1)
    np.testing.assert_allclose(prior.means.numpy(), means, atol=1e-6)
    means = prior.means.numpy()  # float32-rounded, as mog's are: compare the densities exactly
    cov = np.diag([0.16, 0.16, 1.0])
    full = np.mean([stats.multivariate_normal(means[k], cov).pdf(z.numpy()) for k in range(5)], axis=0)
    plane = np.mean([stats.multivariate_normal(means[k, :2], cov[:2, :2]).pdf(z[:, :2].numpy()) for k in range(5)], axis=0)
    np.testing.assert_allclose(prior.log_prob(z).numpy(), np.log(full), rtol=1e-10)
    np.testing.assert_allclose(prior.log_prob(z[:, :2]).numpy(), np.log(plane), rtol=1e-10)


def test_swissroll_density_matches_quadrature():
    """p(z | k) = K int_{k/K}^{(k+1)/K} N(z; c(u), s^2 I) du by scipy's adaptive quad."""
    prior = SwissRoll(2, components=10, radius=3.0, sigma=0.15)
    z = torch.cat([prior.curve(torch.tensor([0.13, 0.55, 0.91], dtype=torch.float64)) + 0.1,
                   torch.tensor([[0.0, 0.0], [1.0, -2.0]], dtype=torch.float64)])
    ours = prior.component_log_prob(z).exp().numpy()

    def dens(zz, u):  # the roll's definition, written again: t = (1.5 + 3u) pi, c = 3 t (cos t, sin t) / (4.5 pi)
        t = (1.5 + 3 * u) * math.pi
        c0, c1 = 3 * t * math.cos(t) / (4.5 * math.pi), 3 * t * math.sin(t) / (4.5 * math.pi)
        return math.exp(-((zz[0] - c0) ** 2 + (zz[1] - c1) ** 2) / (2 * 0.15**2)) / (2 * math.pi * 0.15**2)

    for i, zz in enumerate(z.numpy()):
        for k in range(10):
            ref = 10 * integrate.quad(lambda u: dens(zz, u), k / 10, (k + 1) / 10, limit=200, epsabs=1e-14)[0]
            assert ours[i, k] == pytest.approx(ref, rel=1e-4, abs=1e-12)


def test_mog_view_draws_exactly_what_mog_draws():
    mog = PRIORS.build("mog", {"components": 10, "radius": 4.0, "sigma": 0.5}, dim=3)
    view = as_latent_prior(mog)
    assert isinstance(view, CircleMixture)
    a = mog.sample(500, generator=torch.Generator().manual_seed(4))
    b = view.sample(500, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    normal = as_latent_prior(PRIORS.build("normal", {}, dim=2))
    assert torch.equal(normal.sample(7, generator=torch.Generator().manual_seed(1)),
                       torch.randn(7, 2, generator=torch.Generator().manual_seed(1)))
    assert isinstance(as_latent_prior(PRIORS.build("uniform", {}, dim=2)), BoxPrior)


def test_labelled_mixture_samples_and_bayes_assignment():
    """Samples of component k: mean = means[k] (4 standard errors); the fraction assigned back
    to their own component equals the wedge probability (polar quadrature; half-plane bound)."""
    K, R, s, n = 10, 4.0, 0.5, 20000
    prior = CircleMixture(2, K, R, s)
    labels = torch.arange(n) % K
    z = prior.sample(n, generator=torch.Generator().manual_seed(2), labels=labels).double()
    for k in (0, 3, 7):
        mean = z[labels == k].mean(0)
        assert torch.allclose(mean, prior.means[k], atol=4 * s / math.sqrt(n / K))

    def angular(th: float) -> float:
        # int_0^inf r N((r cos th, r sin th); (R, 0), s^2 I) dr in closed form, b = R cos th.
        b = R * math.cos(th)
        return (math.exp(-R**2 / (2 * s**2)) + b / s * math.sqrt(2 * math.pi) * stats.norm.cdf(b / s)
                * math.exp(-(R * math.sin(th)) ** 2 / (2 * s**2))) / (2 * math.pi)

    wedge = integrate.quad(angular, -math.pi / K, math.pi / K, epsabs=1e-12)[0]
    # The wedge is the component's Voronoi cell; two half-planes at distance R sin(pi/K) nearly bound it.
    assert wedge == pytest.approx(1 - 2 * stats.norm.cdf(-R * math.sin(math.pi / K) / s), abs=1e-4)
    hit = float((prior.assign(z) == labels).double().mean())
    assert hit == pytest.approx(wedge, abs=4 * math.sqrt(wedge * (1 - wedge) / n))


def test_swissroll_labels_select_their_stretch():
    prior = SwissRoll(3, components=5, radius=3.0, sigma=0.05)
    labels = torch.arange(4000) % 5
    z = prior.sample(4000, generator=torch.Generator().manual_seed(3), labels=labels)
    # Thin roll: a point is assigned to its own stretch except within ~sigma of a stretch's end.
    hit = float((prior.assign(z) == labels).double().mean())
    assert 0.97 < hit < 1.0
    assert z[:, 2].std().item() == pytest.approx(1.0, abs=0.05)  # the extra coordinate is N(0, 1)


def test_priors_refuse_bad_labels_and_dims():
    with pytest.raises(ConfigError, match="no components"):
        GaussianPrior(2).sample(3, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        CircleMixture(2, 4).sample(3, labels=torch.tensor([0, 1, 4]))
    with pytest.raises(ConfigError, match="latent_dim"):
        PRIORS.build("swissroll", {}, dim=1)
    assert BoxPrior(2).log_prob(torch.tensor([[0.5, -0.5], [1.5, 0.0]])).tolist() == [math.log(0.25), -math.inf]


@pytest.mark.parametrize("size,stages", [(8, 1), (28, 2), (32, 3), (64, 4), (7, 0), (12, 1)])
def test_conv_halvings(size, stages):
    assert halvings(size, size) == stages


@pytest.mark.parametrize("name,shape", [("mlp", (2,)), ("mlp", (1, 8, 8)), ("conv", (1, 8, 8)),
                                        ("conv", (1, 28, 28)), ("conv", (3, 32, 32))])
def test_encoder_contract(name, shape):
    """E(x) -> (B, latent_dim), finite, deterministic under a seed, depends on x, survives a
    weights-only state_dict round trip."""
    import io

    torch.manual_seed(0)
    enc = ENCODERS.build(name, {}, data_shape=shape, latent_dim=5)
    x = torch.rand(6, *shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    z = enc(x)
    assert z.shape == (6, 5) and torch.isfinite(z).all()
    assert (enc(x.flip(0)) - z.flip(0)).abs().max() < 1e-5 and (z[0] - z[1]).abs().max() > 1e-4
    torch.manual_seed(0)
    assert torch.equal(ENCODERS.build(name, {}, data_shape=shape, latent_dim=5)(x), z)
    other = ENCODERS.build(name, {}, data_shape=shape, latent_dim=5)
    buf = io.BytesIO()
    torch.save(enc.state_dict(), buf)
    buf.seek(0)
    other.load_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(other(x), z)


def test_conv_encoder_needs_images():
    with pytest.raises(ConfigError, match="image data"):
        ENCODERS.build("conv", {}, data_shape=(2,), latent_dim=2)
