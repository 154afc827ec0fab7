"""divergence-fit: Gaussian fits to a two-mode mixture, exact and adversarial, against theory.

Data: 0.6 N(-2, 0.5^2) + 0.4 N(2, 0.5^2) (the experiment's default). The exact fits are checked
against closed forms: moment matching for KL(p||q), the separated-modes limits for reverse KL
and JSD, and a quadrature of MMD^2. The adversarial fits (gankit's recipe and loop, seed 0,
reduced to 400 steps of batch 256 to keep this file near 30 s of CPU) against the exact
descent from the same start.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from gankit import experiments
from gankit.data.toy import mixture1d
from gankit.experiments.divergence_fit import mmd2_to_gaussian
from gankit.networks import GENERATORS

W, M, SIG = np.array([0.6, 0.4]), np.array([-2.0, 2.0]), 0.5
MIX_MEAN = float(W @ M)                                        # -0.4
MIX_STD = math.sqrt(float(W @ (SIG**2 + M**2)) - MIX_MEAN**2)  # sqrt(4.09)
DIVERGENCES = ("kl", "reverse-kl", "jsd", "mmd")

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("divergence-fit")
    return experiments.run("divergence-fit", out_dir=out, batch_size=256, steps=400, critic_warmup=100, seed=0)


def fit(result, name):
    return result.series["fits"][name]


def test_kl_fit_is_moment_matching_and_covers_both_modes(result):
    # argmin_q KL(p||q) over Gaussians matches the mean and the variance of p (a theorem)
    f = fit(result, "kl")
    assert f["mean"] == pytest.approx(MIX_MEAN, abs=1e-4)
    assert f["scale"] == pytest.approx(MIX_STD, rel=1e-4)
    assert f["scale"] > (M[1] - M[0]) / 2                     # 2.022 > 2: wider than half the gap
    assert len(result.series["minima"]["kl"]) == 1             # KL(p||q) has one minimum here
    assert result.series["checks"]["kl covers both modes"]


@pytest.mark.parametrize("name", ["reverse-kl", "jsd"])
def test_reverse_kl_and_jsd_lock_onto_the_heavy_mode(result, name, record):
    f = fit(result, name)
    assert record("|exact mean + 2|", abs(f["mean"] + 2.0), "<= 0.01")          # 0.02 mode sigmas
    assert record("|exact scale / sigma - 1|", abs(f["scale"] / SIG - 1), "<= 0.01")
    # separated-modes limits (q = one component, the other component's overlap ~ e^-32):
    # KL(q||p) = -log w1; JSD = (w log(2w/(1+w)) + (1-w) log 2 + log(2/(1+w))) / 2
    w = W[0]
    expected = {"reverse-kl": -math.log(w),
                "jsd": 0.5 * (w * math.log(2 * w / (1 + w)) + (1 - w) * math.log(2) + math.log(2 / (1 + w)))}[name]
    assert record("|exact value - limit|", abs(f["value"] - expected), "<= 1e-3")
    # the light mode is a worse local minimum; reverse KL there is -log w2
    light = [m for m in result.series["minima"][name] if abs(m["mean"] - 2.0) < 0.05]
    assert len(light) == 1 and light[0]["value"] > f["value"]
    if name == "reverse-kl":
        assert light[0]["value"] == pytest.approx(-math.log(W[1]), abs=1e-3)


def test_mmd_fit_sits_in_between(result, record):
    f, kl, rkl = fit(result, "mmd"), fit(result, "kl"), fit(result, "reverse-kl")
    cross = result.series["cross"]
    # measured: mean -1.994, scale 0.892: the heavy mode, widened towards the other one
    assert SIG < f["scale"] < kl["scale"]
    assert record("|exact scale - 0.892|", abs(f["scale"] - 0.892), "<= 0.01")
    assert record("|exact mean + 1.994|", abs(f["mean"] + 1.994), "<= 0.01")
    # a trade-off: less forward KL than the mode-seeking fit, less reverse KL than the covering fit
    assert cross["kl"]["kl"] < cross["mmd"]["kl"] < cross["reverse-kl"]["kl"]
    assert cross["reverse-kl"]["reverse-kl"] < cross["mmd"]["reverse-kl"] < cross["kl"]["reverse-kl"]
    assert rkl["scale"] < f["scale"]
    assert result.series["checks"]["mmd in between"]


@pytest.mark.parametrize("mu,s,h", [(-1.0, 0.8, 0.5), (0.3, 2.0, 1.5)])
def test_mmd_closed_form_matches_quadrature(mu, s, h):
    # MMD^2 = ∫∫ k(x, y) (p - q)(x) (p - q)(y) dx dy on a trapezoidal grid, numpy only
    x = np.linspace(-14, 14, 2801)
    dx = x[1] - x[0]
    diff = (W[:, None] * stats.norm.pdf(x[None, :], M[:, None], SIG)).sum(0) - stats.norm.pdf(x, mu, s)
    k = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * h * h))
    quad = float(diff @ k @ diff) * dx * dx
    closed = float(mmd2_to_gaussian(mixture1d(weights=[0.6, 0.4]), torch.tensor(mu), torch.tensor(s), (h,)))
    assert closed == pytest.approx(quad, rel=1e-6)


@pytest.mark.parametrize("name", DIVERGENCES)
def test_adversarial_fit_agrees_with_the_exact_one(result, name, record):
    (adv,) = result.series["adversarial_fits"][name]
    same, best = adv["same_start"], fit(result, name)
    # from (-1.5, 1) the exact descent ends in the global minimum of every divergence
    assert same["mean"] == pytest.approx(best["mean"], abs=1e-4) and same["scale"] == pytest.approx(best["scale"], rel=1e-4)
    # stated tolerances: mean within 0.15 (0.3 mode sigmas), scale within 10 %
    assert record("|adversarial - exact mean|", abs(adv["mean"] - same["mean"]), "<= 0.15")
    assert record("|adversarial / exact scale - 1|", abs(adv["scale"] / same["scale"] - 1), "<= 0.10")
    # its exact divergence is at most 1 % above the minimum (and not below it: a minimum)
    excess = adv["value"] - same["value"]
    assert -1e-9 <= excess and record("divergence excess / minimum", excess / same["value"], "<= 0.01")
    assert adv["agree"]


def test_claim_holds_and_is_written(result):
    assert result.holds
    saved = experiments.ExperimentResult.load(result.run_dir)
    assert saved.summary["kl exact scale"] == pytest.approx(MIX_STD, rel=1e-4)
    assert (result.run_dir / "divergence-fit.png").stat().st_size > 10_000
    # each adversarial fit is a gankit run: its checkpoint reloads the fitted generator
    from gankit.session import load_run

    run = load_run(result.run_dir / "adversarial" / "kl-start0")
    mu, s = run.recipe.G.params()
    assert float(mu) == pytest.approx(result.series["paths"]["adversarial"]["kl start 0"][-1][0], abs=1e-6)


def test_gaussian_generator_draws_its_law():
    torch.manual_seed(0)
    g = GENERATORS.build("gaussian", {"init_mean": 1.5, "init_spread": 0.0, "init_scale": 0.7},
                         latent_dim=3, data_shape=(1,), num_classes=0)
    z = torch.randn(200_000, 3, generator=torch.Generator().manual_seed(1))
    x = g(z).detach().double()
    assert float(x.mean()) == pytest.approx(1.5, abs=0.01) and float(x.std()) == pytest.approx(0.7, rel=0.01)
    pts = torch.linspace(-2, 5, 9)[:, None]
    np.testing.assert_allclose(g.log_prob(pts).detach().numpy(), stats.norm.logpdf(pts[:, 0].numpy(), 1.5, 0.7),
                               rtol=1e-5)
