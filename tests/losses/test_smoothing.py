"""One-sided label smoothing (Salimans et al. 2016, §3.4) of the classic GAN losses, against
its closed-form optimum ``D*(x) = (1 - alpha) p_data / (p_data + p_g)`` and hand values."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.errors import ConfigError
from gankit.losses import LOSSES
from gankit.losses.gan import discriminator_loss

P = torch.distributions.Normal(0.0, 1.0)       # p_data
Q = torch.distributions.Normal(1.5, 1.2)       # p_g
EDGES = torch.linspace(-2.0, 3.5, 23)           # 22 bins of width 0.25


def _optimal_bin_logits(real: torch.Tensor, fake: torch.Tensor, alpha: float) -> torch.Tensor:
    """The D minimising the smoothed loss among functions constant on each bin (convex in the
    bin logits: L-BFGS to the optimum)."""
    rb, fb = torch.bucketize(real, EDGES) - 1, torch.bucketize(fake, EDGES) - 1
    keep_r, keep_f = (rb >= 0) & (rb < len(EDGES) - 1), (fb >= 0) & (fb < len(EDGES) - 1)
    a = torch.zeros(len(EDGES) - 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([a], lr=1.0, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        # the means over all samples, out-of-range ones contributing a constant 0 logit
        r = torch.zeros(len(real), dtype=torch.float64).masked_scatter(keep_r, a[rb[keep_r]])
        f = torch.zeros(len(fake), dtype=torch.float64).masked_scatter(keep_f, a[fb[keep_f]])
        loss = discriminator_loss(r, f, smoothing=alpha)
        loss.backward()
        return loss

    opt.step(closure)
    return a.detach()


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3])
def test_optimum_is_one_minus_alpha_times_the_classic_one(alpha):
    g = torch.Generator().manual_seed(0)
    n = 400_000
    real = P.mean + P.stddev * torch.randn(n, generator=g, dtype=torch.float64)
    fake = Q.mean + Q.stddev * torch.randn(n, generator=g, dtype=torch.float64)
    d = torch.sigmoid(_optimal_bin_logits(real, fake, alpha))
    # exactly, on the sample: (1 - alpha) c_data / (c_data + c_g) per bin (equal sample sizes)
    c_r = torch.histc(real, len(EDGES) - 1, float(EDGES[0]), float(EDGES[-1]))
    c_f = torch.histc(fake, len(EDGES) - 1, float(EDGES[0]), float(EDGES[-1]))
    assert torch.allclose(d, (1 - alpha) * c_r / (c_r + c_f), atol=1e-6)
    # and the densities' closed form at the bin centres, within the sampling error of the counts
    mid = 0.5 * (EDGES[1:] + EDGES[:-1]).double()
    p, q = P.log_prob(mid).exp(), Q.log_prob(mid).exp()
    closed = (1 - alpha) * p / (p + q)
    assert (d - closed).abs().max() < 0.02          # bins of 0.25: density curvature + 1/sqrt(count) noise
    if alpha > 0:  # smoothing caps D below 1 - alpha: never 1 on the data
        assert float(d.max()) < 1 - alpha


def test_hand_values_and_stability():
    a, b = torch.tensor([2.0, -0.5]), torch.tensor([-1.0, 3.0])
    def sp(t: float) -> float:
        return math.log1p(math.exp(t))

    hand = (0.8 * (sp(-2.0) + sp(0.5)) + 0.2 * (sp(2.0) + sp(-0.5))) / 2 + (sp(-1.0) + sp(3.0)) / 2
    assert discriminator_loss(a, b, smoothing=0.2).item() == pytest.approx(hand, rel=1e-6)
    assert discriminator_loss(a, b).item() == pytest.approx((sp(-2.0) + sp(0.5)) / 2 + (sp(-1.0) + sp(3.0)) / 2, rel=1e-6)
    big = torch.tensor([1e4, -1e4])
    out = discriminator_loss(big, big, smoothing=0.1)
    assert math.isfinite(out.item())
    # the real 1e4 costs alpha * 1e4 (softplus(1e4) = 1e4), the real -1e4 (1 - alpha) * 1e4; fakes 1e4 / 2
    assert out.item() == pytest.approx((0.1 * 1e4 + 0.9 * 1e4) / 2 + 1e4 / 2, rel=1e-6)


@pytest.mark.parametrize("name", ["ns", "minimax", "ml", "feature-matching"])
def test_smoothing_is_a_d_option_only(name):
    plain, smooth = LOSSES.build(name, {}), LOSSES.build(name, {"smoothing": 0.2})
    a, b = torch.randn(16), torch.randn(16)
    assert smooth.d_loss(a, b).item() == pytest.approx(discriminator_loss(a, b, smoothing=0.2).item(), rel=1e-6)
    assert plain.d_loss(a, b).item() == pytest.approx(discriminator_loss(a, b).item(), rel=1e-6)
    assert smooth.g_loss is plain.g_loss     # the generator's loss is unchanged: one-sided, D only
    with pytest.raises(ConfigError, match="smoothing"):
        LOSSES.build(name, {"smoothing": 1.0})
