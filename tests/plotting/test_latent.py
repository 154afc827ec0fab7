"""Latent interpolation and vector arithmetic, against closed forms and manual computations."""

import math

import numpy as np
import pytest
import torch

from gankit.config import build_config
from gankit.errors import ConfigError
from gankit.plotting.latent import (arithmetic, candidates, interpolate, latent_arithmetic, lerp, render,
                                    seeded_latents, slerp)
from gankit.session import Run


def _unit(d: int, n: int, seed: int) -> torch.Tensor:
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return z / z.norm(dim=1, keepdim=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """An (untrained) conditional DCGAN on 8x8 digits; batch-norm statistics perturbed so
    that eval-mode outputs are not those of a freshly initialised network."""
    cfg = build_config({"data": {"name": "digits"}, "conditional": True, "latent_dim": 16,
                        "generator": {"name": "dcgan", "width": 16},
                        "discriminator": {"name": "dcgan", "width": 16}, "device": "cpu"})
    recipe = Run(cfg, tmp_path_factory.mktemp("run")).recipe
    gen = torch.Generator().manual_seed(3)
    for m in recipe.G.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    return recipe


# --------------------------------------------------------------------------- paths

def test_lerp_matches_numpy():
    z0, z1 = _unit(7, 3, 0), _unit(7, 3, 1)
    t = torch.tensor([0.0, 0.25, 0.6, 1.0], dtype=torch.float64)
    got = lerp(z0, z1, t).numpy()
    want = np.stack([[(1 - s) * a + s * b for s in t.numpy()] for a, b in zip(z0.numpy(), z1.numpy())])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)


def test_slerp_keeps_unit_norm_and_angle_grows_linearly():
    z0, z1 = _unit(16, 5, 2), _unit(16, 5, 3)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    path = slerp(z0, z1, t)                                                 # (5, 11, 16)
    np.testing.assert_allclose(path.norm(dim=-1).numpy(), 1.0, rtol=0, atol=1e-12)
    theta = np.arccos(np.clip((z0 * z1).sum(1).numpy(), -1, 1))             # (5,)
    angle_from_z0 = np.arccos(np.clip(np.einsum("btd,bd->bt", path.numpy(), z0.numpy()), -1, 1))
    np.testing.assert_allclose(angle_from_z0, theta[:, None] * t.numpy()[None, :], rtol=0, atol=1e-6)


def test_slerp_midpoint_closed_form():
    # For unit vectors at angle theta: slerp(1/2) = (z0 + z1) / (2 cos(theta / 2)).
    z0, z1 = _unit(9, 4, 4), _unit(9, 4, 5)
    mid = slerp(z0, z1, torch.tensor([0.5], dtype=torch.float64))[:, 0]
    theta = torch.arccos((z0 * z1).sum(1))
    want = (z0 + z1) / (2 * torch.cos(theta / 2))[:, None]
    np.testing.assert_allclose(mid.numpy(), want.numpy(), rtol=0, atol=1e-12)


def test_slerp_of_non_unit_vectors_and_parallel_fallback():
    z0 = torch.tensor([[3.0, 0.0]], dtype=torch.float64)
    z1 = torch.tensor([[0.0, 3.0]], dtype=torch.float64)
    # quarter circle of radius 3: at t = 1/3 the point is 3 (cos 30deg, sin 30deg)
    p = slerp(z0, z1, torch.tensor([1 / 3], dtype=torch.float64))[0, 0]
    np.testing.assert_allclose(p.numpy(), [3 * math.cos(math.pi / 6), 3 * math.sin(math.pi / 6)], atol=1e-12)
    # parallel latents: the circle is undefined, the path is the straight line
    par = slerp(z0, 2 * z0, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))[0]
    np.testing.assert_allclose(par.numpy(), [[3, 0], [4.5, 0], [6, 0]], atol=1e-12)


# --------------------------------------------------------------------------- with a generator

def test_numbered_latents_do_not_depend_on_the_grid(model):
    a = seeded_latents(model, range(20), seed=4)
    b = seeded_latents(model, [13, 2], seed=4)
    assert torch.equal(b, a[[13, 2]])
    assert not torch.allclose(seeded_latents(model, [2], seed=5), a[2:3])


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolation_endpoints_are_exactly_G_of_the_latents(model, spherical):
    res = interpolate(model, pairs=3, steps=5, seed=7, spherical=spherical)
    z = seeded_latents(model, range(6), seed=7)
    assert torch.equal(res.latents[:, 0], z[0::2]) and torch.equal(res.latents[:, -1], z[1::2])
    assert res.labels.tolist() == [0, 1, 2]                                 # row p: class p mod 10
    G = model.sampler().eval()
    with torch.no_grad():
        start = G(z[0::2], res.labels)
        end = G(z[1::2], res.labels)
    assert torch.equal(res.images[:, 0], start)
    assert torch.equal(res.images[:, -1], end)
    assert (res.images[:, 0] - res.images[:, 1]).abs().max() > 1e-3      # the path moves


def test_interpolation_midpoint_is_G_of_the_midpoint_latent(model):
    res = interpolate(model, pairs=2, steps=3, seed=1, label=4)
    z = seeded_latents(model, range(4), seed=1)
    mid = (z[0::2] + z[1::2]) / 2
    assert torch.allclose(res.latents[:, 1], mid, rtol=0, atol=1e-7)
    with torch.no_grad():
        want = model.sampler().eval()(mid, torch.full((2,), 4))
    assert torch.allclose(res.images[:, 1], want, rtol=0, atol=1e-6)


def test_arithmetic_averages_three_latents_per_concept(model, tmp_path):
    a, b, c = [3, 7, 12], [1, 2, 9], [0, 5, 20]
    res = arithmetic(model, a, b, c, seed=2, label=6, noise=0.25, variations=3, out=tmp_path / "arith.png")
    pool = seeded_latents(model, range(21), seed=2).double().numpy()
    want = pool[a].mean(0) - pool[b].mean(0) + pool[c].mean(0)            # Radford et al. 2016, section 6.3
    np.testing.assert_allclose(res.z.double().numpy(), want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(res.means.double().numpy(), np.stack([pool[a].mean(0), pool[b].mean(0),
                                                                       pool[c].mean(0)]), atol=1e-6)
    # the result differs from the one-latent version (z_3 - z_1 + z_0)
    assert np.abs(want - (pool[3] - pool[1] + pool[0])).max() > 0.1
    dev = (res.variations - res.z).abs()
    assert 0.2 < dev.max() <= 0.25                                          # U[-0.25, 0.25] noise
    labels = torch.full((1,), 6)
    with torch.no_grad():
        G = model.sampler().eval()
        result_img = G(torch.as_tensor(want, dtype=torch.float32)[None], labels)[0]
        mean_b = G(torch.as_tensor(pool[b].mean(0), dtype=torch.float32)[None], labels)[0]
        exemplar = G(torch.as_tensor(pool[[7]], dtype=torch.float32), labels)[0]
    assert res.images.shape[:2] == (4, 4)
    torch.testing.assert_close(res.images[3, 0], result_img, rtol=0, atol=1e-5)
    torch.testing.assert_close(res.images[1, 3], mean_b, rtol=0, atol=1e-5)
    torch.testing.assert_close(res.images[0, 1], exemplar, rtol=0, atol=1e-5)
    assert res.path.is_file()


def test_latent_arithmetic_formula():
    za = torch.tensor([[1.0, 0.0], [3.0, 0.0], [2.0, 3.0]])
    zb = torch.tensor([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])
    zc = torch.tensor([[5.0, 5.0], [5.0, 5.0], [5.0, 8.0]])
    assert latent_arithmetic(za, zb, zc).tolist() == [2.0 + 5.0, 1.0 - 2.0 + 6.0]


def test_candidates_match_render_and_class_checks(model, tmp_path):
    z, imgs = candidates(model, 12, seed=3, label=9, out=tmp_path / "grid.png")
    assert torch.equal(z, seeded_latents(model, range(12), seed=3))
    torch.testing.assert_close(imgs, render(model, z, torch.full((12,), 9)), rtol=0, atol=0)
    from PIL import Image

    w, h = Image.open(tmp_path / "grid.png").size
    # 8 columns, 2 rows of 48 px cells (8 px images upscaled 6x), 4 px gaps, 12 px label strips
    assert (w, h) == (4 + 8 * (48 + 4), 4 + 2 * (12 + 48 + 4))
    with pytest.raises(ConfigError, match="class must be in 0..9"):
        candidates(model, 4, label=10)
    with pytest.raises(ConfigError, match="index must be >= 0"):
        arithmetic(model, [-1], [0], [1])
