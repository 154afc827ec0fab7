"""DCGAN networks: parameter counts by hand, shape progression, BN placement, init, receptive field,
28 <-> 32 equivalence, spectral norm, projection discriminator formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import ConfigError
from gankit.networks import DISCRIMINATORS, GENERATORS
from gankit.networks.conditional import ProjectionDiscriminator


def G(shape, k=0, nz=100, **opts):
    return GENERATORS.build("dcgan", opts, latent_dim=nz, data_shape=shape, num_classes=k)


def D(shape, k=0, out_dim=1, **opts):
    return DISCRIMINATORS.build("dcgan", opts, data_shape=shape, num_classes=k, out_dim=out_dim)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def conv(cin: int, cout: int, bias: bool) -> int:
    return 16 * cin * cout + (cout if bias else 0)   # 4x4 kernels throughout


def test_parameter_count_64x64_by_hand():
    nz, w, c = 100, 64, 3
    # G: 100 -> 8w (4x4) -> 4w -> 2w -> w -> 3, BN (2 params/channel) after all but the last
    g = (conv(nz, 8 * w, False) + 2 * 8 * w + conv(8 * w, 4 * w, False) + 2 * 4 * w
         + conv(4 * w, 2 * w, False) + 2 * 2 * w + conv(2 * w, w, False) + 2 * w + conv(w, c, True))
    # D: 3 -> w (no BN) -> 2w -> 4w -> 8w (BN) -> 1 logit
    d = (conv(c, w, True) + conv(w, 2 * w, False) + 2 * 2 * w + conv(2 * w, 4 * w, False) + 2 * 4 * w
         + conv(4 * w, 8 * w, False) + 2 * 8 * w + conv(8 * w, 1, True))
    assert n_params(G((3, 64, 64))) == g == 3_576_707
    assert n_params(D((3, 64, 64))) == d == 2_765_633
    # pytorch/examples' dcgan has no biases at all: 3,576,704 and 2,765,568 parameters.
    assert g - 3 == 3_576_704 and d - w - 1 == 2_765_568


def test_parameter_count_conditional_and_28():
    w, k = 16, 10
    g32, d32 = n_params(G((1, 32, 32), width=w)), n_params(D((1, 32, 32), width=w))
    assert n_params(G((1, 28, 28), width=w)) == g32 and n_params(D((1, 28, 28), width=w)) == d32
    # one-hot y adds K inputs to G's first (4w-wide) layer and K label maps to D's first conv
    assert n_params(G((1, 32, 32), k, width=w)) - g32 == 16 * k * 4 * w
    assert n_params(D((1, 32, 32), k, width=w)) - d32 == 16 * k * w
    # projection: an embedding (K, F) with F = 4w * 4 * 4 the flattened 4x4 features
    assert n_params(D((1, 32, 32), k, width=w, projection=True)) - d32 == k * 4 * w * 16


def spatial_trace(net: nn.Module, x: torch.Tensor, kinds) -> list[tuple[int, int]]:
    out = []
    hooks = [m.register_forward_hook(lambda m, i, o: out.append((o.shape[1], o.shape[2])))
             for m in net.modules() if isinstance(m, kinds)]
    net(x)
    for h in hooks:
        h.remove()
    return out


def test_shape_progression_32():
    w = 8
    g, d = G((3, 32, 32), nz=20, width=w), D((3, 32, 32), width=w)
    assert spatial_trace(g, torch.randn(2, 20), nn.ConvTranspose2d) == [
        (4 * w, 4), (2 * w, 8), (w, 16), (3, 32)]
    assert spatial_trace(d, torch.randn(2, 3, 32, 32), nn.Conv2d) == [(w, 16), (2 * w, 8), (4 * w, 4), (1, 1)]


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """r = 1 + sum_l (k_l - 1) prod_{j<l} s_j."""
    r, jump = 1, 1
    for k, s in layers:
        r, jump = r + (k - 1) * jump, jump * s
    return r


@pytest.mark.parametrize("size", [16, 32])
def test_receptive_field_covers_the_image(size):
    d = D((1, size, size), width=4).eval()
    convs = [(m.kernel_size[0], m.stride[0]) for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert receptive_field(convs) == {16: 22, 32: 46}[size] >= size
    x = torch.randn(1, 1, size, size, requires_grad=True)
    d(x).sum().backward()
    assert (x.grad.abs() > 0).all()  # every pixel, corners included, reaches the logit


def call_order(net: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The leaf modules of ``net`` in the order the forward pass calls them."""
    out: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, i, o: out.append(m)) for m in net.modules() if not list(m.children())]
    net(x)
    for h in hooks:
        h.remove()
    return out


def test_batchnorm_placement():
    g = G((3, 32, 32), width=8)
    mods = call_order(g, torch.randn(2, 100))
    convs = [i for i, m in enumerate(mods) if isinstance(m, nn.ConvTranspose2d)]
    assert [isinstance(mods[i + 1], nn.BatchNorm2d) for i in convs] == [True, True, True, False]
    assert [type(mods[i + 2]) for i in convs[:-1]] == [nn.ReLU] * 3
    assert isinstance(mods[-1], nn.Tanh) and mods[convs[-1]].bias is not None
    d = D((3, 32, 32), width=8)
    feats = list(d.features)
    convs = [i for i, m in enumerate(feats) if isinstance(m, nn.Conv2d)]
    assert [type(feats[i + 1]) for i in convs] == [nn.LeakyReLU, nn.BatchNorm2d, nn.BatchNorm2d]
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    assert not any(isinstance(m, (nn.Linear, nn.Sigmoid)) for m in list(g.modules()) + list(d.modules()))
    sn = D((3, 32, 32), width=8, spectral_norm=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in sn.modules())
    assert sum(isinstance(m, nn.GroupNorm) for m in D((3, 32, 32), width=8, norm="layer").modules()) == 2


def test_init_std():
    torch.manual_seed(0)
    g = G((3, 64, 64))
    first = g.convs[0].weight                          # 100 * 512 * 16 = 819200 weights
    assert abs(first.std().item() - 0.02) < 0.0002 and abs(first.mean().item()) < 0.0002
    bn = torch.cat([m.weight for m in g.modules() if isinstance(m, nn.BatchNorm2d)])  # 960 scales
    assert abs(bn.mean().item() - 1.0) < 0.003 and abs(bn.std().item() - 0.02) < 0.003
    biases = [m.bias for m in g.modules() if isinstance(m, (nn.BatchNorm2d, nn.ConvTranspose2d)) and m.bias is not None]
    assert all((b == 0).all() for b in biases)


def test_28_is_the_32_network_cropped_and_padded():
    g28, g32 = G((1, 28, 28), nz=10, width=8).eval(), G((1, 32, 32), nz=10, width=8).eval()
    g28.load_state_dict(g32.state_dict())
    z = torch.randn(4, 10)
    assert torch.equal(g28(z), g32(z)[:, :, 2:30, 2:30])
    d28, d32 = D((1, 28, 28), width=8).eval(), D((1, 32, 32), width=8).eval()
    d28.load_state_dict(d32.state_dict())
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert torch.equal(d28(x), d32(F.pad(x, (2, 2, 2, 2), value=-1.0)))


def test_spectral_norm_bounds_the_largest_singular_value():
    d = D((3, 16, 16), width=8, spectral_norm=True)
    x = torch.randn(16, 3, 16, 16)
    for _ in range(30):                               # power iterations run in training mode
        d(x)
    for m in d.modules():
        if isinstance(m, nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item()
            assert sigma == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("out_dim", [1, 3])
def test_projection_formula(out_dim):
    """D(x, y) = psi(phi(x)) + <V_y, phi(x)> with the unconditional body's own output as psi(phi(x))."""
    k = 4
    d = D((1, 16, 16), k, out_dim=out_dim, width=4, projection=True).eval()
    assert isinstance(d, ProjectionDiscriminator)
    x, y = torch.randn(5, 1, 16, 16), torch.tensor([0, 3, 1, 3, 2])
    with torch.no_grad():
        nn.init.normal_(d.embed.weight)               # make the class term large
        base = d.body(x).reshape(5, out_dim)
        phi = d.body.features(x).flatten(1)          # (5, F)
        v = d.embed.weight[y].view(5, out_dim, -1)
        want = base + (v * phi[:, None, :]).sum(-1)
        got = d(x, y).reshape(5, out_dim)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert (got - base).abs().max() > 0.01  # the class term is not negligible


def test_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError, match=r"square images \(C, S, S\), got data shape \(2,\)"):
        G((2,))
    with pytest.raises(ConfigError, match=r"got data shape \(3, 32, 16\)"):
        D((3, 32, 16))
    with pytest.raises(ValueError, match="without labels"):
        G((1, 16, 16), 3, nz=4)(torch.randn(2, 4))


def test_conditional_batch_norm_is_batch_norm_then_the_class_affine():
    from gankit.networks.conditional import ConditionalBatchNorm2d

    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(3, num_classes=4)
    with torch.no_grad():
        cbn.gamma.weight.normal_()
        cbn.beta.weight.normal_()
    x, y = torch.randn(6, 3, 5, 5) * 2 + 1, torch.tensor([0, 1, 2, 3, 1, 1])
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)                 # batch statistics, training mode
    expected = (x - mean) / torch.sqrt(var + 1e-5) * cbn.gamma.weight[y][:, :, None, None] \
        + cbn.beta.weight[y][:, :, None, None]
    assert torch.allclose(cbn(x, y), expected, atol=1e-5)
    # one class everywhere with gamma = 1, beta = 0: exactly a plain batch norm
    with torch.no_grad():
        cbn.gamma.weight.fill_(1.0)
        cbn.beta.weight.zero_()
    plain = nn.BatchNorm2d(3, affine=False)
    assert torch.allclose(cbn(x, torch.zeros(6, dtype=torch.long)), plain(x), atol=1e-6)


def test_conditional_bn_generator_has_per_class_norms_in_every_hidden_layer():
    torch.manual_seed(0)
    g = GENERATORS.build("dcgan", {"width": 4, "conditional_bn": True}, latent_dim=5, data_shape=(1, 16, 16),
                         num_classes=3)
    norms = [m for m in g.modules() if type(m).__name__ == "ConditionalBatchNorm2d"]
    assert len(norms) == 2                                                   # every hidden layer, not the output
    # same parameter count as the one-hot generator plus 2 K C per norm
    plain = GENERATORS.build("dcgan", {"width": 4}, latent_dim=5, data_shape=(1, 16, 16), num_classes=3)
    extra = sum(2 * 3 * n.bn.num_features - 2 * n.bn.num_features for n in norms)
    assert sum(p.numel() for p in g.parameters()) == sum(p.numel() for p in plain.parameters()) + extra
