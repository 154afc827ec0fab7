"""The image-to-image networks (gankit.networks.translation): PatchGAN's receptive field by hand
and by gradient, the U-Net's padding convention, and the translators' raw contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import ConfigError
from gankit.networks.translation import PATCH_DISCRIMINATORS, TRANSLATORS


def hand_receptive_field(layers: int) -> int:
    """1 + sum_l (k_l - 1) prod_{m<l} s_m for pix2pix's NLayerDiscriminator: 4x4 kernels,
    ``layers`` convolutions of stride 2, then two of stride 1."""
    strides = [2] * layers + [1, 1]
    rf, jump = 1, 1
    for s in strides:
        rf += 3 * jump
        jump *= s
    return rf


@pytest.mark.parametrize("layers,expected", [(1, 16), (2, 34), (3, 70), (4, 142)])
def test_receptive_field_by_hand(layers: int, expected: int) -> None:
    # 70 for layers=3 is the paper's "70x70 PatchGAN"; 16 its "16x16 PatchGAN" (Isola et al. 2017, sec. 4.4)
    assert hand_receptive_field(layers) == expected
    D = PATCH_DISCRIMINATORS.build("patchgan", {"layers": layers, "width": 4}, in_channels=2)
    assert D.receptive_field == expected


@pytest.mark.parametrize("layers,size,row,col", [(3, 128, 7, 6), (1, 48, 9, 10), (2, 64, 3, 5)])
def test_one_patch_sees_exactly_its_window(layers: int, size: int, row: int, col: int) -> None:
    """The gradient of one output logit w.r.t. the input is nonzero exactly on the window the
    receptive field predicts (batch norm in eval mode: a per-channel affine map, so no
    coupling between positions; float64 so no gradient underflows to zero by rounding)."""
    torch.manual_seed(0)
    D = PATCH_DISCRIMINATORS.build("patchgan", {"layers": layers, "width": 4}, in_channels=1).double().eval()
    x = torch.randn(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    out = D(x)
    assert 0 <= row < out.shape[2] and 0 <= col < out.shape[3]
    out[0, 0, row, col].backward()
    nz = x.grad[0, 0] != 0
    rows = torch.nonzero(nz.any(1)).flatten()
    cols = torch.nonzero(nz.any(0)).flatten()
    r0, r1 = D.window(row)
    c0, c1 = D.window(col)
    assert 0 <= r0 and r1 <= size and 0 <= c0 and c1 <= size  # the window lies inside the image
    assert (rows.min().item(), rows.max().item() + 1) == (r0, r1)
    assert (cols.min().item(), cols.max().item() + 1) == (c0, c1)
    assert r1 - r0 == D.receptive_field == c1 - c0
    assert bool(nz[r0:r1, c0:c1].all())  # every pixel of the window counts, none outside it
    assert int(nz.sum()) == D.receptive_field ** 2


def test_patchgan_logits_are_unbounded() -> None:
    # raw logits, no sigmoid: scaling the input far enough leaves (0, 1)
    torch.manual_seed(1)
    D = PATCH_DISCRIMINATORS.build("patchgan", {"layers": 1, "width": 4, "norm": "none"}, in_channels=1)
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert float(D(1e3 * x).abs().max()) > 1.0


def test_unet_on_28_is_the_32_unet_on_the_padded_image_cropped() -> None:
    """The U-Net pads a 28x28 input with -1 to its 32x32 canvas and crops the output: the same
    weights in a 32x32 U-Net on the padded input give the same centre."""
    torch.manual_seed(2)
    u28 = TRANSLATORS.build("unet", {"width": 4}, in_shape=(1, 28, 28), out_shape=(1, 28, 28)).eval()
    u32 = TRANSLATORS.build("unet", {"width": 4}, in_shape=(1, 32, 32), out_shape=(1, 32, 32)).eval()
    u32.load_state_dict(u28.state_dict())
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    full = u32(F.pad(x, (2, 2, 2, 2), value=-1.0))
    torch.testing.assert_close(u28(x), full[:, :, 2:30, 2:30], rtol=0, atol=1e-6)


def test_unet_output_pixel_sees_the_whole_image() -> None:
    """The encoder goes down to 1x1, so every output pixel depends on every input pixel (what
    the skips add to an encoder-decoder is detail, not reach)."""
    torch.manual_seed(3)
    u = TRANSLATORS.build("unet", {"width": 4, "dropout": 0.0}, in_shape=(1, 16, 16),
                          out_shape=(1, 16, 16)).double().eval()
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    u(x)[0, 0, 0, 0].backward()
    assert bool((x.grad != 0).all())


def test_unet_dropout_is_its_noise() -> None:
    # training mode: two calls on one input differ (dropout); eval mode: identical
    torch.manual_seed(4)
    u = TRANSLATORS.build("unet", {"width": 4}, in_shape=(1, 16, 16), out_shape=(1, 16, 16))
    x = torch.rand(2, 1, 16, 16)
    assert not torch.equal(u(x), u(x))
    u.eval()
    assert torch.equal(u(x), u(x))


def test_resnet_translator_needs_side_divisible_by_four() -> None:
    with pytest.raises(ConfigError, match="divisible by 4"):
        TRANSLATORS.build("resnet", {}, in_shape=(1, 30, 30), out_shape=(1, 30, 30))
    with pytest.raises(ConfigError, match="square"):
        TRANSLATORS.build("unet", {}, in_shape=(1, 16, 8), out_shape=(1, 16, 8))
