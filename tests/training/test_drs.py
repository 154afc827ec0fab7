"""Discriminator rejection sampling (``mitigations.drs``), checked against its mathematics.

With p_g = N(0, I) and p_data = N(0, s² I) in d dimensions the log density ratio is
``r(x) = d log(1/s) - (1/s² - 1) |x|² / 2``, largest at x = 0. Accepting a sample of p_g with
probability ``min(1, exp(r(x) - M))`` gives exactly p_data when M = sup r, and otherwise the
density ``p_g(x) min(1, exp(r(x) - M))`` normalised, whose moments are one-dimensional
integrals. The tests compare the sampler's moments with those integrals; the fitted critic is
compared with r itself."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate

from gankit.config import build_config
from gankit.mitigations.rejection import acceptance
from gankit.session import Run

S = 0.5          # the data's standard deviation; G is N(0, I)


def log_ratio(x: torch.Tensor, d: int, s: float = S) -> torch.Tensor:
    return d * math.log(1 / s) - (1 / s**2 - 1) * (x.double() ** 2).sum(1) / 2


def accepted_moments(M: float, d: int, s: float = S) -> tuple[float, float]:
    """Acceptance rate and E|x|² of the accepted samples, by integrating over the radius (the
    chi distribution with d degrees of freedom)."""
    chi = lambda t: t ** (d - 1) * math.exp(-t * t / 2) / (2 ** (d / 2 - 1) * math.gamma(d / 2))  # noqa: E731
    acc = lambda t: min(1.0, math.exp(d * math.log(1 / s) - (1 / s**2 - 1) * t * t / 2 - M))  # noqa: E731
    rate = integrate.quad(lambda t: chi(t) * acc(t), 0, 12, limit=200)[0]
    second = integrate.quad(lambda t: t * t * chi(t) * acc(t), 0, 12, limit=200)[0]
    return rate, second / rate


@pytest.mark.parametrize("d, shift", [(1, 0.0), (1, -1.0), (2, 0.0), (2, -1.5)])
def test_acceptance_turns_samples_of_g_into_the_stated_density(d: int, shift: float) -> None:
    g = torch.Generator().manual_seed(d)
    x = torch.randn(400_000, d, generator=g, dtype=torch.float64)
    M = d * math.log(1 / S) + shift          # shift 0: M = sup r, exact; below it: capped
    keep = torch.rand(len(x), generator=g, dtype=torch.float64) < acceptance(log_ratio(x, d), M)
    rate, second = accepted_moments(M, d)
    kept = x[keep]
    assert abs(float(keep.double().mean()) - rate) < 4 * math.sqrt(rate / len(x))
    assert abs(float((kept ** 2).sum(1).mean()) - second) < 0.01 * second
    if shift == 0.0:                         # exactly the data: E|x|² = d s²
        assert second == pytest.approx(d * S * S, rel=1e-6)


class ExactLogRatio(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return log_ratio(x, x.shape[1]).float()


def gaussian_run(tmp_path, **drs: object) -> Run:
    """G = N(0, I) exactly (the Gaussian generator at its initialisation), data N(0, S² I); not
    trained (its 2,000 planned steps only allow the critic 2,000 steps of its own)."""
    cfg = {"data": {"name": "mixture", "means": [[0.0, 0.0]], "sigmas": S}, "latent_dim": 2,
           "generator": {"name": "gaussian", "init_spread": 0.0}, "discriminator": {"width": 16},
           "mitigations": {"drs": dict(drs)}, "train": {"steps": 2000, "progress": False, "standardize": False},
           "device": "cpu"}
    return Run(build_config(cfg), tmp_path / "run")


def test_generate_rejects_with_the_critic_of_the_current_step(tmp_path) -> None:
    run = gaussian_run(tmp_path)
    rec = run.recipe
    (drs,) = rec.mitigations
    before = rec.generate(50_000, seed=0)    # no critic fitted yet: plain G
    assert float((before ** 2).sum(1).mean()) == pytest.approx(2.0, rel=0.03)
    drs.critic.net = ExactLogRatio()
    drs.critic.threshold.fill_(2 * math.log(1 / S))
    drs.critic.fitted_step.fill_(rec.trainer.step)
    x = rec.generate(50_000, seed=0)
    assert float((x ** 2).sum(1).mean()) == pytest.approx(2 * S * S, rel=0.03)   # exactly the data
    assert torch.equal(x, rec.generate(50_000, seed=0))                            # a seed fixes the draw
    drs.critic.fitted_step.fill_(rec.trainer.step + 1)                             # stale critic: ignored
    assert float((rec.generate(50_000, seed=0) ** 2).sum(1).mean()) == pytest.approx(2.0, rel=0.03)


@pytest.mark.training
def test_fitted_critic_estimates_the_log_density_ratio(tmp_path, record) -> None:
    # The logistic loss's minimiser is the log density ratio; 2,000 steps of fresh batches of
    # 512 bring the critic within a fraction of a nat of it where p_g has its mass.
    run = gaussian_run(tmp_path, quantile=0.5)   # a threshold where p_g has mass (0.2's is in its tail)
    rec = run.recipe
    rec.finish()
    (drs,) = rec.mitigations
    assert int(drs.critic.fitted_step) == rec.trainer.step
    x = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(5))
    inside = x[(x ** 2).sum(1) < 1.5 ** 2]                      # 68 % of p_g's mass
    with torch.no_grad():
        err = (drs.critic(inside).double() - log_ratio(inside, 2)).abs()
    assert record("median |critic - log ratio| within 1.5 sigma of G", float(err.median()), "< 0.25")
    # the threshold is the q-quantile of the logits on G's samples: for the exact ratio, r at
    # the (1 - q)-quantile of |x|² ~ chi²(2), which is -2 log q; the rejection sampler then has
    # the moments of accepted_moments at that M (between G's E|x|² = 2 and the data's 0.5)
    q = drs.quantile
    m_exact = 2 * math.log(1 / S) - (1 / S**2 - 1) * (-2 * math.log(q)) / 2
    assert record("threshold - exact log-ratio quantile", float(drs.critic.threshold) - m_exact, "-0.2 < x < 0.2")
    second = float((rec.generate(20_000, seed=1) ** 2).sum(1).mean())
    expected = accepted_moments(m_exact, 2)[1]
    assert record("E|x|^2 after rejection - its value for the exact critic", second - expected, "-0.1 < x < 0.1")


def test_a_data_set_smaller_than_the_critics_batch_fits_it_on_all_its_rows(tmp_path) -> None:
    # 20 images against the critic's batch of 512: the fit takes all 20 each step (it used to
    # stop the run after its last step with "global batch 512 exceeds the data set's 20 examples")
    import numpy as np

    from gankit.session import train

    path = tmp_path / "tiny.npz"
    np.savez(path, x=(np.random.default_rng(0).random((20, 8, 8)) * 255).astype("uint8"))
    cfg = build_config({"data": {"name": "npz", "path": str(path)}, "seed": 0,
                        "model": {"mitigations": {"drs": {"steps": 5}}},
                        "train": {"steps": 3, "batch_size": 8, "progress": False}, "eval": {"metrics": []}})
    seen: list[int] = []
    run = train(cfg, run_dir=tmp_path / "run")
    (drs,) = run.recipe.mitigations
    assert drs.batch == 512 and int(drs.critic.fitted_step) == 3 and math.isfinite(float(drs.critic.threshold))
    real = run.recipe.batches.real
    run.recipe.batches.real = lambda n, g: (seen.append(n), real(n, g))[1]   # type: ignore[method-assign]
    run.recipe.finish()                                                        # a refit, watched
    assert seen == [20] * 3                     # min(the critic's steps, the run's steps) batches of 20
