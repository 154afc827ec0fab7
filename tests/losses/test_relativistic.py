"""RpGAN (relativistic pairing) losses and the R2 / R1+R2 penalties, against closed forms,
hand-derived gradients, an optimisation over D, and a per-sample gradient loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from gankit.losses import LOSSES, PENALTIES
from gankit.losses.penalties import r1_penalty, r2_penalty
from gankit.losses.relativistic import relativistic_discriminator_loss, relativistic_generator_loss

from tests.losses.test_penalties import SHAPES, ConvCritic, loop_norms

RNG = np.random.default_rng(0)
REAL, FAKE = RNG.normal(size=12) * 3, RNG.normal(size=12) * 3 - 1


def softplus(t: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, t)


def sigmoid(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


def t64(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def test_losses_pair_sample_i_with_sample_i():
    r, f = t64(REAL), t64(FAKE)
    assert relativistic_discriminator_loss(r, f).item() == pytest.approx(softplus(FAKE - REAL).mean(), rel=1e-12)
    assert relativistic_generator_loss(f, r).item() == pytest.approx(softplus(REAL - FAKE).mean(), rel=1e-12)
    # a (B, 1) critic output is the same as (B,)
    assert relativistic_discriminator_loss(r[:, None], f[:, None]).item() == pytest.approx(
        softplus(FAKE - REAL).mean(), rel=1e-12)


def test_gradients_by_hand():
    b = len(REAL)
    r, f = t64(REAL), t64(FAKE)
    gr, gf = torch.autograd.grad(relativistic_discriminator_loss(r, f), (r, f))
    s = sigmoid(FAKE - REAL) / b                                  # d softplus(u)/du = sigmoid(u)
    np.testing.assert_allclose(gr.numpy(), -s, rtol=1e-12)
    np.testing.assert_allclose(gf.numpy(), s, rtol=1e-12)
    r, f = t64(REAL), t64(FAKE)
    gf, gr = torch.autograd.grad(relativistic_generator_loss(f, r), (f, r))
    s = sigmoid(REAL - FAKE) / b
    np.testing.assert_allclose(gf.numpy(), -s, rtol=1e-12)
    np.testing.assert_allclose(gr.numpy(), s, rtol=1e-12)


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_exact_at_logits_of_1e4_in_float32(big):
    r = torch.full((4,), big, requires_grad=True)
    f = torch.full((4,), -big, requires_grad=True)
    d, g = relativistic_discriminator_loss(r, f), relativistic_generator_loss(f, r)
    # softplus(-2e4) = 0 and softplus(2e4) = 2e4, exactly representable: no inf, no nan
    assert d.item() == (0.0 if big > 0 else 2e4) and g.item() == (2e4 if big > 0 else 0.0)
    gr, gf = torch.autograd.grad(d + g, (r, f))
    # the saturated loss contributes gradient 0, the other +-1/B exactly
    sign = 1.0 if big > 0 else -1.0
    assert torch.equal(gr, torch.full((4,), sign * 0.25)) and torch.equal(gf, torch.full((4,), -sign * 0.25))


def test_mismatched_batches_are_refused():
    with pytest.raises(ValueError, match="as many real as fake"):
        relativistic_discriminator_loss(torch.zeros(4), torch.zeros(5))


def _optimal_d_value(p: np.ndarray, q: np.ndarray) -> tuple[float, np.ndarray]:
    """min over D (one value per support point) of E_{x~p, y~q} softplus(D(y) - D(x))."""
    w = np.outer(p, q)                                            # w[x, y]

    def f(d: np.ndarray) -> tuple[float, np.ndarray]:
        u = d[None, :] - d[:, None]                               # D(y) - D(x)
        s = sigmoid(u) * w
        return float((softplus(u) * w).sum()), s.sum(0) - s.sum(1)

    res = minimize(f, np.zeros(len(p)), jac=True, method="BFGS", options={"gtol": 1e-12})
    return res.fun, res.x


def test_optimal_critic_value_is_log2_exactly_when_distributions_match():
    # softplus(t) + softplus(-t) >= log 4 with equality at t = 0: for p = q the pairs are
    # exchangeable, so min_D L_D = log 2, reached by a constant D (Sun et al. 2020, Thm 2);
    # for p != q a D that ranks the supports does strictly better.
    p = np.array([0.4, 0.3, 0.2, 0.1])
    value, d = _optimal_d_value(p, p)
    assert value == pytest.approx(math.log(2), abs=1e-10)
    assert np.ptp(d) < 1e-5
    q = np.array([0.1, 0.2, 0.3, 0.4])
    assert _optimal_d_value(p, q)[0] < math.log(2) - 0.05


def test_rpgan_is_registered_with_g_seeing_real_outputs():
    obj = LOSSES.build("rpgan", {})
    assert obj.g_uses_real and obj.critic_dim == 1 and not obj.probability_outputs


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_r2_and_r1r2_equal_a_per_sample_loop(shape):
    torch.manual_seed(1)
    critic = ConvCritic(shape).double()
    real = torch.randn(shape, dtype=torch.float64)
    fake = torch.randn(shape, dtype=torch.float64) + 0.5
    gamma = 3.0
    r1_loop = 0.5 * gamma * np.mean(loop_norms(critic, real) ** 2)
    r2_loop = 0.5 * gamma * np.mean(loop_norms(critic, fake) ** 2)
    assert r2_penalty(critic, fake, gamma=gamma).item() == pytest.approx(r2_loop, rel=1e-10)
    assert PENALTIES.build("r2", {"gamma": gamma}).loss(critic, real, fake).item() == pytest.approx(r2_loop, rel=1e-10)
    both = PENALTIES.build("r1r2", {"gamma": gamma}).loss(critic, real, fake).item()
    assert both == pytest.approx(r1_loop + r2_loop, rel=1e-10)
    assert r1_penalty(critic, real, gamma=gamma).item() == pytest.approx(r1_loop, rel=1e-10)


def test_r2_trains_d_only_and_lazy_scaling():
    torch.manual_seed(2)
    shape = SHAPES["points 2-D"]
    critic = ConvCritic(shape).double()
    theta = torch.zeros(shape, dtype=torch.float64, requires_grad=True)   # a "generator" output
    fake = theta + torch.randn(shape, dtype=torch.float64)
    pen = PENALTIES.build("r2", {"gamma": 2.0, "every": 4})
    value = pen.loss(critic, fake, fake)
    assert pen.every == 4
    assert value.item() == pytest.approx(4 * r2_penalty(critic, fake, gamma=2.0).item(), rel=1e-12)
    value.backward()
    assert theta.grad is None                                      # no gradient reaches G
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in critic.parameters())


def test_negative_gamma_is_refused():
    from gankit.errors import ConfigError
    for name in ("r2", "r1r2"):
        with pytest.raises(ConfigError, match="gamma"):
            PENALTIES.resolve(name, {"gamma": -1.0})
