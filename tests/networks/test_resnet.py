"""R3GAN's ResNet networks: the resampling filters against their closed forms, fix-up
initialisation (every block the identity, the branch scale), no coupling between the samples of
a batch, the projection term, and the sizes it refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.errors import ConfigError
from gankit.networks import DISCRIMINATORS, GENERATORS
from gankit.networks.resnet import GAIN, ResidualBlock, ResNetDiscriminator, downsample, upsample


def test_upsample_is_linear_interpolation():
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    y = upsample(x)
    assert y.shape == (2, 3, 12, 12)
    # even pixels are the input; odd ones (away from the far border) the mean of their neighbours
    torch.testing.assert_close(y[..., ::2, ::2], x, rtol=0, atol=1e-14)
    torch.testing.assert_close(y[..., 1:-1:2, ::2], (x[..., :-1, :] + x[..., 1:, :]) / 2, rtol=0, atol=1e-14)
    torch.testing.assert_close(y[..., 1:-1:2, 1:-1:2],
                               (x[..., :-1, :-1] + x[..., 1:, :-1] + x[..., :-1, 1:] + x[..., 1:, 1:]) / 4,
                               rtol=0, atol=1e-14)


def test_downsample_is_the_121_filter_then_every_second_pixel():
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    y = downsample(x).numpy()
    assert y.shape == (1, 2, 4, 4)
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(4):
        for j in range(4):
            want = (xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * k).sum(axis=(2, 3))
            np.testing.assert_allclose(y[:, :, i, j], want, rtol=1e-12)
    # a constant image stays constant away from the zero-padded border
    assert torch.allclose(downsample(torch.ones(1, 1, 8, 8))[..., 1:, 1:], torch.ones(1, 1, 3, 3))


def test_every_block_is_the_identity_at_initialisation():
    torch.manual_seed(0)
    block = ResidualBlock(32, expansion=2, group_size=16, scale=0.5)
    x = torch.randn(4, 32, 8, 8)
    assert torch.equal(block(x), x)
    assert block.conv.groups == 4                                   # 64 channels in groups of 16


def test_fixup_scale_of_the_branch_weights():
    torch.manual_seed(0)
    blocks_total = 4 * 2                                            # 32x32: stages at 4, 8, 16, 32; 2 blocks each
    d = ResNetDiscriminator((3, 32, 32), width=64, blocks=2, expansion=2, group_size=16)
    std = GAIN / math.sqrt(64) * blocks_total ** (-1 / 4)           # He for 1x1 from 64 channels, times L^(-1/(2*3-2))
    w = torch.cat([b.widen.weight.flatten() for stage in d.stages for b in stage])
    assert w.std().item() == pytest.approx(std, rel=0.03)          # 8 x 8192 weights: sampling error ~0.3 %


@pytest.mark.parametrize("k", [0, 3])
def test_no_normalisation_so_samples_do_not_interact(k):
    torch.manual_seed(1)
    d = DISCRIMINATORS.build("resnet", {"width": 32, "blocks": 2}, data_shape=(3, 16, 16), num_classes=k, out_dim=1)
    g = GENERATORS.build("resnet", {"width": 32, "blocks": 2}, latent_dim=8, data_shape=(3, 16, 16), num_classes=k)
    for m in (d, g):   # train the zero-initialised branches a little so the blocks are not the identity
        for p in m.parameters():
            p.data.add_(torch.randn_like(p) * 0.05)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm))
                   for m in [*d.modules(), *g.modules()])
    y = torch.arange(4) % k if k else None
    z = torch.randn(4, 8)
    x = g(z, y)
    x2 = x.clone()
    x2[1:] = torch.randn_like(x2[1:])
    z2 = z.clone()
    z2[1:] = torch.randn_like(z2[1:])
    assert torch.allclose(d(x, y)[0], d(x2, y)[0], atol=1e-6) and torch.allclose(g(z, y)[0], g(z2, y)[0], atol=1e-6)


def test_projection_adds_the_class_embedding_inner_product():
    torch.manual_seed(2)
    d = DISCRIMINATORS.build("resnet", {"width": 16}, data_shape=(3, 16, 16), num_classes=4, out_dim=1)
    x = torch.randn(5, 3, 16, 16)
    y, y2 = torch.tensor([0, 1, 2, 3, 0]), torch.tensor([3, 2, 1, 0, 2])
    f = d.phi(x)
    want = ((d.project.weight[y] - d.project.weight[y2]) * f).sum(1)
    torch.testing.assert_close(d(x, y) - d(x, y2), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 4, 4), (3, 32, 16), (32, 32)])
def test_sizes_that_are_not_a_power_of_two_are_refused(shape):
    with pytest.raises(ConfigError, match="resnet needs"):
        DISCRIMINATORS.build("resnet", {}, data_shape=shape, num_classes=0, out_dim=1)
    with pytest.raises(ConfigError, match="resnet needs"):
        GENERATORS.build("resnet", {}, latent_dim=4, data_shape=shape, num_classes=0)


def test_64x64_has_one_more_stage_than_32x32():
    g32 = GENERATORS.build("resnet", {}, latent_dim=4, data_shape=(3, 32, 32), num_classes=0)
    g64 = GENERATORS.build("resnet", {}, latent_dim=4, data_shape=(3, 64, 64), num_classes=0)
    assert len(g64.stages) == len(g32.stages) + 1 == 5
    assert g64(torch.randn(2, 4)).shape == (2, 3, 64, 64)
