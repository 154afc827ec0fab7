"""InfoGAN's mutual-information lower bound and AC-GAN's class loss against mathematics:
the Barber-Agakov bound on a discrete channel (closed-form I(c; x), the gap is E KL), the
perfect-Q case (L_I = H(c) = log K), the Gaussian part against scipy, AC-GAN's class loss
against an explicit log-softmax sum and its gradient w.r.t. the class head by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from gankit.losses.info import (
    categorical_bound,
    categorical_log_likelihood,
    class_loss,
    gaussian_bound,
    gaussian_log_likelihood,
)
from gankit.networks.codes import LatentCodes
from gankit.networks.priors import StandardNormal

K, X = 4, 6  # code values, channel outputs


def _channel(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random discrete channel p(x | c) (K, X), float64, and the uniform p(c) (K,)."""
    g = torch.Generator().manual_seed(seed)
    p_x_c = torch.rand(K, X, generator=g, dtype=torch.float64) ** 3 + 1e-3
    return p_x_c / p_x_c.sum(1, keepdim=True), torch.full((K,), 1.0 / K, dtype=torch.float64)


def _exact_bound(logits_per_x: torch.Tensor, p_x_c: torch.Tensor, p_c: torch.Tensor) -> float:
    """E_{c, x} log Q(c | x) + H(c), the expectation taken exactly: every (c, x) pair as one row
    of categorical_bound, weighted by p(c, x) (the mean of rows repeated in proportion)."""
    joint = p_c[:, None] * p_x_c                                                     # (K, X)
    c = torch.arange(K).repeat_interleave(X)                                         # (K X,)
    x = torch.arange(X).repeat(K)
    logq = categorical_log_likelihood(logits_per_x[x], c)                            # (K X,)
    h = float(-(p_c * p_c.log()).sum())
    return float((joint.reshape(-1) * logq).sum()) + h


def _mutual_information(p_x_c: torch.Tensor, p_c: torch.Tensor) -> float:
    """I(c; x) = sum p(c, x) log p(c, x) / (p(c) p(x)), closed form."""
    joint = p_c[:, None] * p_x_c
    p_x = joint.sum(0)
    return float((joint * (joint / (p_c[:, None] * p_x[None, :])).log()).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bound_with_the_true_posterior_is_the_mutual_information(seed):
    p_x_c, p_c = _channel(seed)
    posterior = (p_c[:, None] * p_x_c).T                                              # (X, K) ∝ p(c | x)
    logits = posterior.log()                                                          # unnormalised is fine
    assert _exact_bound(logits, p_x_c, p_c) == pytest.approx(_mutual_information(p_x_c, p_c), rel=0, abs=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bound_below_the_information_by_the_expected_kl_for_any_q(seed):
    p_x_c, p_c = _channel(seed)
    g = torch.Generator().manual_seed(100 + seed)
    logits = 3 * torch.randn(X, K, generator=g, dtype=torch.float64)                 # an arbitrary Q
    bound, info = _exact_bound(logits, p_x_c, p_c), _mutual_information(p_x_c, p_c)
    joint = p_c[:, None] * p_x_c
    p_x = joint.sum(0)
    post = (joint / p_x).T                                                            # (X, K)
    q = torch.softmax(logits, 1)
    expected_kl = float((p_x[:, None] * post * (post / q).log()).sum())
    assert info - bound == pytest.approx(expected_kl, rel=1e-12, abs=1e-14)
    assert bound < info <= math.log(K)


def test_perfect_q_reaches_h_of_c_exactly():
    codes = LatentCodes(StandardNormal(3), K, 0)
    assert codes.categorical_entropy == pytest.approx(float(stats.entropy(np.full(K, 1.0 / K))), abs=1e-15)
    c = torch.arange(40) % K
    logits = 1e4 * F.one_hot(c, K).double()                                           # Q reads the code back
    assert float(categorical_bound(logits, c, codes.categorical_entropy)) == math.log(K)
    wrong = 1e4 * F.one_hot((c + 1) % K, K).double()                                  # ... or always misreads it
    assert float(categorical_bound(wrong, c, codes.categorical_entropy)) == pytest.approx(math.log(K) - 1e4, rel=1e-12)


def test_gaussian_log_likelihood_matches_scipy():
    g = torch.Generator().manual_seed(3)
    value = 2 * torch.rand(50, 3, generator=g, dtype=torch.float64) - 1
    mean = torch.randn(50, 3, generator=g, dtype=torch.float64)
    log_std = 0.5 * torch.randn(50, 3, generator=g, dtype=torch.float64)
    ours = gaussian_log_likelihood(value, mean, log_std)
    ref = stats.norm.logpdf(value.numpy(), loc=mean.numpy(), scale=np.exp(log_std.numpy()))
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-13, atol=1e-13)
    fixed = gaussian_log_likelihood(value, mean)                                      # InfoGAN's fixed sigma = 1
    np.testing.assert_allclose(fixed.numpy(), stats.norm.logpdf(value.numpy(), loc=mean.numpy()), rtol=1e-13)
    codes = LatentCodes(StandardNormal(3), 0, 3)
    h = 3 * float(stats.uniform(loc=-1, scale=2).entropy())                           # U[-1, 1]^3: 3 log 2
    assert codes.continuous_entropy == pytest.approx(h, abs=1e-15)
    bound = gaussian_bound(value, mean, log_std, codes.continuous_entropy)
    assert float(bound) == pytest.approx(ref.sum(1).mean() + h, rel=1e-13)


def test_class_loss_is_the_mean_negative_log_softmax_by_hand():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, -3.0]], dtype=torch.float64)
    y = torch.tensor([0, 2])
    by_hand = -0.5 * ((2.0 - math.log(math.exp(2.0) + math.exp(-1.0) + math.exp(0.5)))
                      + (-3.0 - math.log(math.exp(0.1) + math.exp(0.2) + math.exp(-3.0))))
    assert float(class_loss(logits, y)) == pytest.approx(by_hand, rel=1e-15)
    assert float(class_loss(torch.tensor([[1e4, 0.0]], dtype=torch.float64), torch.tensor([1]))) == 1e4  # stable
    with pytest.raises(ValueError):
        class_loss(logits, y[:1])


def test_class_loss_gradient_wrt_the_class_head_by_hand():
    """dL/dW = (1/B) sum_i (softmax(W f_i + b) - onehot(y_i)) f_i^T, dL/db likewise."""
    g = torch.Generator().manual_seed(5)
    f = torch.randn(8, 5, generator=g, dtype=torch.float64)                          # D's body features
    y = torch.randint(3, (8,), generator=g)
    head = torch.nn.Linear(5, 3).double()
    class_loss(head(f), y).backward()
    err = torch.softmax(head(f).detach(), 1) - F.one_hot(y, 3).double()              # (B, K)
    torch.testing.assert_close(head.weight.grad, err.T @ f / 8, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(head.bias.grad, err.mean(0), rtol=1e-13, atol=1e-15)
