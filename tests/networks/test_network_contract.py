"""The contract every registered generator and discriminator meets (``gankit.networks.base``).

Parametrised over every registry entry (and its ``projection`` / ``spectral_norm`` variants),
unconditional and conditional. An entry registered with ``data="images"`` is tested on image
shapes only; any other on points and on images.
"""

from __future__ import annotations

import io

import pytest
import torch

from gankit.networks import DISCRIMINATORS, GENERATORS

B, NZ, K = 8, 6, 3
SHAPES = {"points": [(2,)], "images": [(1, 16, 16), (3, 28, 28)], "pow2": [(1, 16, 16), (3, 32, 32)]}


def shapes_for(entry) -> list[tuple[int, ...]]:
    kind = entry.meta.get("sizes", entry.meta.get("data", "any"))
    return SHAPES[kind] if kind in SHAPES else SHAPES["points"] + SHAPES["images"][:1]


def variants(entry) -> list[dict]:
    opts = entry.options(DISCRIMINATORS.context)
    return [{}] + [{flag: True} for flag in ("projection", "spectral_norm") if flag in opts]


G_CASES = [pytest.param(e.name, s, k, id=f"{e.name}-{'x'.join(map(str, s))}-k{k}")
           for e in GENERATORS for s in shapes_for(e) for k in (0, K)]
D_CASES = [pytest.param(e.name, s, k, o, id=f"{e.name}-{'x'.join(map(str, s))}-k{k}-{'-'.join(o) or 'default'}")
           for e in DISCRIMINATORS for s in shapes_for(e) for k in (0, K) for o in variants(e)]


def make_g(name, shape, k, seed=0):
    torch.manual_seed(seed)
    return GENERATORS.build(name, {}, latent_dim=NZ, data_shape=shape, num_classes=k)


def make_d(name, shape, k, opts, out_dim=1, seed=0):
    torch.manual_seed(seed)
    return DISCRIMINATORS.build(name, opts, data_shape=shape, num_classes=k, out_dim=out_dim)


def inputs(shape, k, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(B, *shape, generator=gen) * 2 - 1
    z = torch.randn(B, NZ, generator=gen)
    y = torch.arange(B) % k if k else None
    return x, z, y


def round_trip(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    buf = io.BytesIO()
    torch.save(src.state_dict(), buf)
    buf.seek(0)
    dst.load_state_dict(torch.load(buf, weights_only=True))


def seeded(net: torch.nn.Module, *args) -> torch.Tensor:
    torch.manual_seed(123)  # dropout draws from the global generator
    return net(*args)


def leaves_unit_interval(d: torch.nn.Module, x: torch.Tensor, y) -> bool:
    """Walk along the input gradient: a logit is unbounded there (piecewise-linear nets), a
    probability would stay in (0, 1) however far we go."""
    d.eval()
    x = x.clone().requires_grad_(True)
    d(x, y).sum().backward()
    u = x.grad / x.grad.norm()
    with torch.no_grad():
        vals = torch.cat([d(x + t * u, y) for t in (-1e3, -1e2, -10.0, 10.0, 1e2, 1e3)])
    assert torch.isfinite(vals).all()
    return bool(vals.min() < 0 or vals.max() > 1)


@pytest.mark.parametrize("name,shape,k", G_CASES)
def test_generator_contract(name, shape, k):
    x, z, y = inputs(shape, k)
    g = make_g(name, shape, k)
    out = seeded(g, z, y)                             # training mode
    assert out.shape == (B, *shape) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert torch.equal(seeded(make_g(name, shape, k), z, y), out)    # determinism under a seed
    # state_dict round trip through torch.save / torch.load(weights_only=True), incl. buffers
    a = g.eval()(z, y)
    other = make_g(name, shape, k, seed=1).eval()
    assert not torch.allclose(other(z, y), a)
    round_trip(g, other)
    assert torch.equal(other(z, y), a)
    if k:  # the label matters
        assert (g(z, (y + 1) % k) - a).abs().max() > 1e-6
        with pytest.raises(ValueError, match="labels"):
            g(z, None)


@pytest.mark.parametrize("name,shape,k,opts", D_CASES)
def test_discriminator_contract(name, shape, k, opts):
    x, _, y = inputs(shape, k)
    d = make_d(name, shape, k, opts)
    out = seeded(d, x, y)
    assert out.shape == (B,) and torch.isfinite(out).all()
    assert make_d(name, shape, k, opts, out_dim=4)(x, y).shape == (B, 4)
    assert leaves_unit_interval(make_d(name, shape, k, opts), x, y)  # raw outputs, not probabilities
    assert torch.equal(seeded(make_d(name, shape, k, opts), x, y), out)
    a = d.eval()(x, y)
    other = make_d(name, shape, k, opts, seed=1).eval()
    assert not torch.allclose(other(x, y), a)
    round_trip(d, other)
    assert torch.equal(other(x, y), a)
    if k:
        assert (d(x, (y + 1) % k) - a).abs().max() > 1e-6
        with pytest.raises(ValueError, match="labels"):
            d(x, None)


def test_every_entry_is_covered():
    assert {"mlp", "dcgan"} <= set(GENERATORS.names())
    assert {"mlp", "maxout", "dcgan"} <= set(DISCRIMINATORS.names())
    assert {p.values[0] for p in D_CASES} == set(DISCRIMINATORS.names())
    assert {p.values[0] for p in G_CASES} == set(GENERATORS.names())
