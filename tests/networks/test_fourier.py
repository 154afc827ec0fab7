"""Random Fourier features of the MLP discriminator (``discriminator.fourier``).

The features of one octave s are (sin b·x, cos b·x) with b ~ N(0, s² I), so their inner product
averaged over the directions, mean_b cos(b·(x - y)), estimates the Gaussian kernel
exp(-s² |x - y|² / 2) (Bochner's theorem; Rahimi & Recht 2007). The tests check that estimate
against the closed form, and that the features are the run's: saved with the weights."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.networks import DISCRIMINATORS
from gankit.networks.mlp import FourierFeatures


def test_each_octave_estimates_the_gaussian_kernel_of_its_scale() -> None:
    torch.manual_seed(0)
    per, d = 20_000, 3
    ff = FourierFeatures(d, per, max_frequency=8.0).double()   # octaves 1, 2, 4, 8
    assert ff.B.shape == (4 * per, d) and ff.out_dim == d + 8 * per
    x = torch.randn(6, d) * 0.4
    y = x + torch.randn(6, d) * 0.3
    fx, fy = ff(x.double()), ff(y.double())
    assert torch.equal(fx[:, :d], x.double())          # the raw input comes first
    sin_x, cos_x = fx[:, d:].chunk(2, dim=1)
    sin_y, cos_y = fy[:, d:].chunk(2, dim=1)
    prod = sin_x * sin_y + cos_x * cos_y               # cos(b·(x - y)) per direction
    r2 = ((x - y) ** 2).sum(1).double()
    for i, s in enumerate((1.0, 2.0, 4.0, 8.0)):
        est = prod[:, i * per:(i + 1) * per].mean(1)
        exact = torch.exp(-s * s * r2 / 2)
        # each term lies in [-1, 1]: the mean of `per` of them is within 5 / sqrt(per) w.h.p.
        assert torch.allclose(est, exact, atol=5 / math.sqrt(per)), (s, est, exact)


@pytest.mark.parametrize("max_frequency, octaves", [(1.0, 1), (64.0, 7), (100.0, 7), (0.5, 1)])
def test_octaves_run_from_1_to_the_largest_power_of_2_not_above_the_maximum(max_frequency: float,
                                                                            octaves: int) -> None:
    torch.manual_seed(1)
    ff = FourierFeatures(2, 5000, max_frequency)
    assert ff.B.shape == (octaves * 5000, 2)
    # the rows of octave i are N(0, 4^i I): their mean square per coordinate is 4^i
    ms = (ff.B ** 2).view(octaves, 5000, 2).mean(dim=(1, 2))
    expected = torch.tensor([4.0 ** i for i in range(octaves)])
    assert torch.allclose(ms, expected, rtol=0.08)


def test_features_are_saved_with_the_discriminator_and_set_by_the_seed() -> None:
    def build(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return DISCRIMINATORS.build("mlp", {"width": 16, "fourier": 4, "fourier_max": 8.0},
                                    data_shape=(2,), num_classes=0, out_dim=1)

    a, b, c = build(3), build(3), build(4)
    assert "fourier.B" in a.state_dict()
    assert torch.equal(a.state_dict()["fourier.B"], b.state_dict()["fourier.B"])
    assert not torch.equal(a.state_dict()["fourier.B"], c.state_dict()["fourier.B"])
    c.load_state_dict(a.state_dict())                  # a resumed run gets its own features back
    x = torch.randn(7, 2)
    assert torch.equal(a(x), c(x))


def test_conditional_and_projection_discriminators_take_the_features_too() -> None:
    torch.manual_seed(0)
    for projection in (False, True):
        D = DISCRIMINATORS.build("mlp", {"width": 16, "fourier": 3, "projection": projection},
                                 data_shape=(2,), num_classes=4, out_dim=1)
        assert D(torch.randn(5, 2), torch.arange(5) % 4).shape == (5,)
