"""Differentiable augmentation (DiffAugment) and ADA's adaptive probability: each transform's
mathematics, gradients through every transform, the controller on a simulated overfitting D,
and validation; exact resume, the probability in the checkpoint, is in tests/contracts/."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import ConfigError
from gankit.mitigations.augment import AugmentState, color, cut, cutout, shift, translation, update
from gankit.mitigations.base import MITIGATIONS


def test_shift_moves_pixels_exactly_and_fills_zeros():
    x = torch.randn(3, 2, 6, 7)
    dy, dx = torch.tensor([1, -2, 0]), torch.tensor([0, 3, -1])
    out = shift(x, dy, dx)
    for b in range(3):
        for i in range(6):
            for j in range(7):
                si, sj = i - int(dy[b]), j - int(dx[b])
                want = x[b, :, si, sj] if 0 <= si < 6 and 0 <= sj < 7 else torch.zeros(2)
                assert torch.equal(out[b, :, i, j], want)


def test_translation_is_a_shift_of_at_most_the_ratio():
    torch.manual_seed(0)
    x = torch.arange(16.0).view(1, 1, 4, 4).expand(64, 1, 4, 4) + 1     # distinct, non-zero pixels
    out = translation(x, 0.25)                                            # at most 1 pixel each way
    for b in range(64):
        found = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                 if torch.equal(out[b:b + 1], shift(x[b:b + 1], torch.tensor([dy]), torch.tensor([dx])))]
        assert len(found) == 1


def test_cutout_zeroes_the_stated_fraction_inside_the_image():
    torch.manual_seed(1)
    x = torch.rand(50, 3, 16, 16) + 0.5                                   # no zero pixel to start with
    out = cutout(x, 0.5)
    zero = (out == 0).all(dim=1).flatten(1).sum(1)                        # zeroed pixels per sample
    assert torch.equal(zero, torch.full((50,), 64))                       # 8 x 8 of 16 x 16 = 1/4, always inside
    assert torch.equal(out[out != 0], x[out != 0])
    top, left = torch.tensor([0, 8]), torch.tensor([8, 0])
    c = cut(torch.ones(2, 1, 16, 16), top, left, (8, 8))
    assert c[0, 0, :8, 8:].sum() == 0 and c[0, 0, 8:, :].sum() == 128 and c[1, 0, 8:, :8].sum() == 0


def test_color_is_the_three_affine_maps():
    torch.manual_seed(2)
    x = torch.rand(5, 3, 4, 4) * 2 - 1
    torch.manual_seed(3)
    out = color(x)
    torch.manual_seed(3)                                                  # replay the same three draws
    u1, u2, u3 = (torch.rand(5, 1, 1, 1) for _ in range(3))
    h = x + (u1 - 0.5)
    m = h.mean(1, keepdim=True)
    h = m + 2 * u2 * (h - m)
    m = h.mean((1, 2, 3), keepdim=True)
    torch.testing.assert_close(out, m + (u3 + 0.5) * (h - m))


@pytest.mark.parametrize("policy", [["color"], ["translation"], ["cutout"]])
def test_gradients_reach_g_through_every_transform(policy):
    torch.manual_seed(4)
    aug = MITIGATIONS.build("augment", {"policy": policy})
    theta = torch.randn(4, 3, 8, 8, requires_grad=True)                  # a generator's output
    w = torch.randn(3, 8, 8)
    (aug.apply(theta) * w).sum().backward()                               # a linear D
    assert theta.grad is not None and theta.grad.abs().sum() > 0
    if policy == ["translation"]:     # the gradient is D's weight shifted back: its sum over kept pixels
        assert theta.grad.abs().sum() <= w.abs().sum() * 4 + 1e-4


def test_probability_zero_is_the_identity_and_one_always_augments():
    x = torch.randn(8, 3, 8, 8)
    assert torch.equal(MITIGATIONS.build("augment", {"p": 0.0}).apply(x), x)
    torch.manual_seed(5)
    out = MITIGATIONS.build("augment", {"p": 1.0, "policy": ["cutout"]}).apply(x)
    assert ((out == 0).all(1).flatten(1).sum(1) == 16).all()


def test_ada_controller_on_a_simulated_overfitting_discriminator():
    aug = MITIGATIONS.build("augment", {"p": 0.0, "adaptive": True, "interval": 4, "ada_kimg": 1.0, "target": 0.6})
    b = 32
    step = 4 * b / (1.0 * 1000)                                          # images per update / images per unit p
    overfit = torch.cat([torch.ones(29), -torch.ones(3)])                # E sign = 0.8125 > 0.6
    for _ in range(4 * 3):                                                # three updates
        aug.observe_critic(overfit, -overfit)
    assert aug.state.p.item() == pytest.approx(3 * step, abs=1e-12)
    healthy = torch.cat([torch.ones(16), -torch.ones(16)])               # E sign = 0 < 0.6
    for _ in range(4):
        aug.observe_critic(healthy, -healthy)
    assert aug.state.p.item() == pytest.approx(2 * step, abs=1e-12)
    for _ in range(4 * 100):                                              # clamped at 0
        aug.observe_critic(healthy, -healthy)
    assert aug.state.p.item() == 0.0
    s = AugmentState(0.99)
    s.sign_sum.fill_(10.0)
    s.sign_count.fill_(10.0)
    update(s, 0.6, 0.001)
    assert s.p.item() == 1.0 and s.sign_count.item() == 0                # clamped at 1, statistics reset


@pytest.mark.parametrize("options,match", [({"policy": ["blur"]}, "policy"), ({"policy": []}, "policy"),
                                           ({"p": 1.5}, "p"), ({"target": -0.1}, "target")])
def test_bad_options_are_one_line_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        MITIGATIONS.build("augment", options)
