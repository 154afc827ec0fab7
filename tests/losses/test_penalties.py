"""Gradient penalty, R1 and weight clipping against analytic critics and a per-sample loop.

The per-sample loop computes each sample's gradient on its own (batch of one), so it
cannot share the batch-wide or channel-wise norm bug the penalty must avoid.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.losses import PENALTIES
from gankit.losses.penalties import gradient_penalty, r1_penalty

SHAPES = {"points 2-D": (16, 2), "images C=1": (6, 1, 5, 5), "images C=3": (6, 3, 4, 4)}


class ConvCritic(nn.Module):
    """A small nonlinear critic on (B, C, H, W) or (B, D): gradients vary per sample."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.image = len(shape) == 4
        c = shape[1]
        self.conv = nn.Conv2d(c, 4, 3, padding=1) if self.image else nn.Linear(c, 8)
        self.head = nn.Linear(4 * math.prod(shape[2:]) if self.image else 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv(x))
        return self.head(h.flatten(1)).squeeze(1)                    # (B,)


def loop_norms(critic, x_hat: torch.Tensor) -> np.ndarray:
    """||grad_x D(x_i)|| for each sample on its own."""
    norms = []
    for i in range(x_hat.shape[0]):
        xi = x_hat[i:i + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(critic(xi).sum(), xi)
        norms.append(np.linalg.norm(g.numpy().ravel()))
    return np.array(norms)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_gradient_penalty_is_per_sample_for_any_shape(shape):
    torch.manual_seed(0)
    critic = ConvCritic(shape).double()
    real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64) + 0.5
    alpha = torch.rand(shape[0], dtype=torch.float64)
    a = alpha.view(-1, *[1] * (len(shape) - 1))
    x_hat = a * real + (1 - a) * fake
    norms = loop_norms(critic, x_hat)
    expected = 10.0 * np.mean((norms - 1.0) ** 2)
    got = gradient_penalty(critic, real, fake, weight=10.0, center=1.0, alpha=alpha).item()
    assert got == pytest.approx(expected, rel=1e-9)

    # The buggy variants give different numbers: one norm over the whole batch, or a norm
    # over the channel axis only (per pixel).
    x = x_hat.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x).sum(), x)
    batch_wide = 10.0 * (g.norm().item() - 1.0) ** 2
    assert abs(batch_wide - expected) > 0.1 * expected
    if len(shape) == 4:
        channel_wise = 10.0 * ((g.norm(dim=1) - 1.0) ** 2).mean().item()
        assert abs(channel_wise - expected) > 0.1 * expected


def test_gradient_penalty_of_a_linear_critic_and_its_parameter_gradient():
    """D(x) = <w, x>: the gradient is w at every point, so gp = λ(|w| - 1)^2 and
    d gp / dw = 2λ(|w| - 1) w / |w| (the penalty must stay in the graph)."""
    torch.manual_seed(1)
    shape = (5, 3, 4, 4)
    lin = nn.Linear(math.prod(shape[1:]), 1, bias=True).double()
    critic = lambda x: lin(x.flatten(1)).squeeze(1)
    real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, weight=7.0, center=1.0)
    w = lin.weight.detach().numpy().ravel()
    nw = np.linalg.norm(w)
    assert gp.item() == pytest.approx(7.0 * (nw - 1.0) ** 2, rel=1e-10)
    gp.backward()
    np.testing.assert_allclose(lin.weight.grad.numpy().ravel(), 2 * 7.0 * (nw - 1.0) * w / nw, rtol=1e-8)
    assert lin.bias.grad is None or float(lin.bias.grad.abs().max()) == 0.0


def test_gp_penalty_entry_draws_uniform_interpolates():
    torch.manual_seed(2)
    shape = (8, 2)
    critic = ConvCritic(shape).double()
    real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    pen = PENALTIES.build("gp", {"weight": 3.0, "center": 0.5})
    torch.manual_seed(5)
    got = pen.loss(critic, real, fake).item()
    torch.manual_seed(5)
    alpha = torch.rand(shape[0], dtype=torch.float64)
    assert got == pytest.approx(gradient_penalty(critic, real, fake, weight=3.0, center=0.5, alpha=alpha).item(),
                                rel=1e-12)
    assert pen.every == 1 and pen.after_step is None


# ------------------------------------------------------------------------------- R1


def test_r1_of_linear_and_quadratic_critics():
    torch.manual_seed(3)
    x = torch.randn(7, 3, 4, 4, dtype=torch.float64)
    w = torch.randn(48, dtype=torch.float64)
    linear = lambda z: z.flatten(1) @ w + 0.3                        # grad = w
    assert r1_penalty(linear, x, gamma=10.0).item() == pytest.approx(5.0 * float(w @ w), rel=1e-12)
    quadratic = lambda z: z.flatten(1).pow(2).sum(1)                  # grad = 2x, |grad|^2 = 4|x|^2
    expected = 0.5 * 10.0 * 4.0 * x.flatten(1).pow(2).sum(1).mean().item()
    assert r1_penalty(quadratic, x, gamma=10.0).item() == pytest.approx(expected, rel=1e-12)


def test_r1_lazy_scaling_and_parameter_gradient():
    """Every k steps the penalty is k times stronger (StyleGAN2); for D(x) = a|x|^2,
    R1 = γ/2 · 4a² E|x|², so dR1/da = 4γa E|x|²."""
    x = torch.randn(9, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    critic = lambda z: a * z.pow(2).sum(1)
    pen = PENALTIES.build("r1", {"gamma": 2.0, "every": 4})
    assert pen.every == 4
    value = pen.loss(critic, x, x.flip(0))
    ex2 = x.pow(2).sum(1).mean().item()
    assert value.item() == pytest.approx(4 * 0.5 * 2.0 * 4 * 0.49 * ex2, rel=1e-12)
    value.backward()
    assert a.grad.item() == pytest.approx(4 * 4 * 2.0 * 0.7 * ex2, rel=1e-12)


# ----------------------------------------------------------------------------- clipping


def test_clip_clamps_every_parameter_like_numpy():
    torch.manual_seed(6)
    net = nn.Sequential(nn.Linear(3, 5), nn.LeakyReLU(0.2), nn.Linear(5, 1))
    before = [p.detach().numpy().copy() for p in net.parameters()]
    PENALTIES.build("clip", {"value": 0.1}).after_step(net)
    for b, p in zip(before, net.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), np.clip(b, -0.1, 0.1))
    assert any(np.abs(b).max() > 0.1 for b in before)  # the clamp actually bit
    assert PENALTIES.build("clip").loss is None


@pytest.mark.parametrize("name, options", [
    ("gp", {"weight": -1.0}), ("gp", {"center": -0.5}), ("gp", {"weight": "ten"}),
    ("r1", {"gamma": -1.0}), ("r1", {"every": 0}), ("clip", {"value": 0.0}), ("clip", {"size": 1.0}),
])
def test_bad_penalty_options_are_config_errors(name, options):
    with pytest.raises(ConfigError):
        PENALTIES.build(name, options)
