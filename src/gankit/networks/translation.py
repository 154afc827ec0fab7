"""Image-to-image networks: the U-Net and ResNet translators and the PatchGAN discriminator.

They have registries of their own, :data:`TRANSLATORS` and :data:`PATCH_DISCRIMINATORS`:
a translator maps an image to an image (``G(a) -> b``), not a latent code to an image as
the GENERATORS contract says (``G(z, y)``), and a PatchGAN returns a *map* of logits, one per
overlapping patch, where the DISCRIMINATORS contract asks for one logit per sample. Losses
accept either (``gankit.losses.gan`` averages over everything after the batch axis).

* U-Net (Ronneberger et al. 2015; pix2pix's generator, Isola et al. 2017): an encoder of
  stride-2 4x4 convolutions down to 1x1 and a mirrored decoder, each decoder stage fed the
  encoder's feature map of its size (the skips); dropout in the innermost decoder stages is
  pix2pix's only noise (no z).
* ResNet translator (Johnson et al. 2016; CycleGAN's generator, Zhu et al. 2017): c7s1-w,
  two stride-2 downsamplings, ``blocks`` residual blocks, two upsamplings, c7s1-C, tanh.
* PatchGAN (Isola et al. 2017, "NLayerDiscriminator"): ``layers`` stride-2 4x4 convolutions,
  one stride-1, then a stride-1 convolution to one logit per patch. Its receptive field is
  ``1 + sum_l (k_l - 1) prod_{m<l} s_m``: 70 pixels for ``layers=3`` (the paper's 70x70), 34
  for 2, 16 for 1.

Sizes: images are ``(C, S, S)``; the U-Net pads to the next power of two (with -1, the
background of [-1, 1] images) and crops its output back, as DCGAN does for 28x28.
Weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), as in both papers' code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.dcgan import _init
from gankit.registry import Count, Fraction, NonNegativeInt, Registry

Norm = Literal["batch", "instance", "none"]

# image -> image networks; context: the input and output shapes (C, S, S)
TRANSLATORS: Registry[Callable[..., nn.Module]] = Registry("translator", context=("in_shape", "out_shape"))
# image -> (B, 1, h, w) patch logits; context: the channels of what it judges
PATCH_DISCRIMINATORS: Registry[Callable[..., nn.Module]] = Registry("patch discriminator", context=("in_channels",))


def _norm(kind: Norm, channels: int) -> nn.Module:
    if kind == "batch":
        return _init(nn.BatchNorm2d(channels))
    if kind == "instance":  # CycleGAN's: no affine parameters, no running statistics
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def _square(shape: tuple[int, ...], who: str) -> tuple[int, int]:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(f"{who} needs square images (C, S, S), got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


class UNet(nn.Module):
    """``a (B, Ca, S, S) -> b (B, Cb, S, S)`` in (-1, 1).

    Level ``i`` of ``L = log2(P)`` (canvas ``P``) has ``width * min(2**i, 8)`` feature maps at
    side ``P / 2**(i+1)``. Encoder: conv (no norm at the outermost and innermost level),
    LeakyReLU(0.2) before every conv but the first. Decoder: ReLU, transposed conv, norm,
    dropout in the ``dropout_layers`` stages after the innermost, then the skip is concatenated."""

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...], *, width: int = 64,
                 norm: Norm = "batch", dropout: float = 0.5, dropout_layers: int = 3) -> None:
        super().__init__()
        ca, s = _square(in_shape, "the U-Net")
        cb, sb = _square(out_shape, "the U-Net")
        if s != sb:
            raise ConfigError(f"the U-Net maps images of one size; input {s}x{s}, output {sb}x{sb}")
        self.size, self.canvas = s, max(2, 1 << (s - 1).bit_length())
        levels = self.canvas.bit_length() - 1                                # P = 2^L -> 1x1 after L convs
        ch = [width * min(2 ** i, 8) for i in range(levels)]
        bias = norm != "batch"  # a bias before batch norm is cancelled by its mean
        self.down = nn.ModuleList()
        for i in range(levels):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(_init(nn.Conv2d(ca if i == 0 else ch[i - 1], ch[i], 4, 2, 1, bias=bias or i in (0, levels - 1))))
            if 0 < i < levels - 1:
                layers.append(_norm(norm, ch[i]))
            self.down.append(nn.Sequential(*layers))                        # (B, ch[i], P/2^(i+1), ...)
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            c_in = ch[i] if i == levels - 1 else 2 * ch[i]                  # innermost: no skip yet
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(True), _init(nn.ConvTranspose2d(c_in, cb, 4, 2, 1)), nn.Tanh()))
                continue
            layers = [nn.ReLU(True), _init(nn.ConvTranspose2d(c_in, ch[i - 1], 4, 2, 1, bias=bias)),
                      _norm(norm, ch[i - 1])]
            if dropout > 0 and levels - 1 - dropout_layers <= i < levels - 1:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))                          # (B, ch[i-1], P/2^i, ...)

    def forward(self, a: Tensor) -> Tensor:
        o = self.canvas - self.size
        h = F.pad(a, (o // 2, o - o // 2, o // 2, o - o // 2), value=-1.0) if o else a   # (B, Ca, P, P)
        skips = []
        for down in self.down:
            h = down(h)
            skips.append(h)
        skips.pop()                                                         # the innermost has no skip
        for up in self.up:
            h = up(h)
            if skips:
                h = torch.cat([h, skips.pop()], 1)                          # (B, 2 ch[i-1], P/2^i, ...)
        return h[:, :, o // 2:o // 2 + self.size, o // 2:o // 2 + self.size]  # (B, Cb, S, S)


class ResidualBlock(nn.Module):
    """``x + conv-norm-ReLU-conv-norm(x)`` with reflection padding (Johnson et al. 2016)."""

    def __init__(self, channels: int, norm: Norm) -> None:
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(nn.ReflectionPad2d(1), _init(nn.Conv2d(channels, channels, 3, bias=bias)),
                                  _norm(norm, channels), nn.ReLU(True), nn.ReflectionPad2d(1),
                                  _init(nn.Conv2d(channels, channels, 3, bias=bias)), _norm(norm, channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetTranslator(nn.Module):
    """``a (B, Ca, S, S) -> b (B, Cb, S, S)``: c7s1-w, d2w, d4w, ``blocks`` x R4w, u2w, uw, c7s1-Cb, tanh
    (S divisible by 4)."""

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...], *, width: int = 64,
                 blocks: int = 6, norm: Norm = "instance") -> None:
        super().__init__()
        ca, s = _square(in_shape, "the ResNet translator")
        cb, sb = _square(out_shape, "the ResNet translator")
        if s != sb or s % 4:
            raise ConfigError(f"the ResNet translator needs input and output of one size divisible by 4, got "
                              f"{s} and {sb}")
        bias = norm != "batch"
        w = width
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), _init(nn.Conv2d(ca, w, 7, bias=bias)), _norm(norm, w),
                                   nn.ReLU(True)]                           # (B, w, S, S)
        for m in (1, 2):
            layers += [_init(nn.Conv2d(w * m, w * 2 * m, 3, 2, 1, bias=bias)), _norm(norm, w * 2 * m), nn.ReLU(True)]
        layers += [ResidualBlock(4 * w, norm) for _ in range(blocks)]      # (B, 4w, S/4, S/4)
        for m in (4, 2):
            layers += [_init(nn.ConvTranspose2d(w * m, w * m // 2, 3, 2, 1, output_padding=1, bias=bias)),
                       _norm(norm, w * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), _init(nn.Conv2d(w, cb, 7)), nn.Tanh()]  # (B, Cb, S, S)
        self.net = nn.Sequential(*layers)

    def forward(self, a: Tensor) -> Tensor:
        return self.net(a)


class PatchGAN(nn.Module):
    """``x (B, C, H, W) -> logits (B, 1, h, w)``, one per (overlapping) patch; raw, no sigmoid."""

    def __init__(self, in_channels: int, *, width: int = 64, layers: int = 3, norm: Norm = "batch") -> None:
        super().__init__()
        bias = norm != "batch"
        mods: list[nn.Module] = [_init(nn.Conv2d(in_channels, width, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        c = width
        for n in range(1, layers + 1):
            stride = 2 if n < layers else 1
            c_out = width * min(2 ** n, 8)
            mods += [_init(nn.Conv2d(c, c_out, 4, stride, 1, bias=bias)), _norm(norm, c_out), nn.LeakyReLU(0.2, True)]
            c = c_out
        mods.append(_init(nn.Conv2d(c, 1, 4, 1, 1)))                         # (B, 1, h, w)
        self.net = nn.Sequential(*mods)

    def convs(self) -> list[nn.Conv2d]:
        return [m for m in self.net if isinstance(m, nn.Conv2d)]

    @property
    def receptive_field(self) -> int:
        """Side of the input window one output logit sees: ``1 + sum_l (k_l - 1) d_l prod_{m<l} s_m``."""
        rf, jump = 1, 1
        for c in self.convs():
            rf += (c.kernel_size[0] - 1) * c.dilation[0] * jump
            jump *= c.stride[0]
        return rf

    def window(self, i: int) -> tuple[int, int]:
        """Input rows ``[start, stop)`` that output row ``i`` sees (before clipping to the image)."""
        jump, offset = 1, 0
        for c in self.convs():
            offset += c.padding[0] * jump
            jump *= c.stride[0]
        start = i * jump - offset
        return start, start + self.receptive_field

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@TRANSLATORS.register("unet", paper="Ronneberger et al. 2015; Isola et al. 2017 (pix2pix)")
def unet(in_shape: tuple[int, ...], out_shape: tuple[int, ...], *, width: Count = 64, norm: Norm = "batch",
         dropout: Fraction = 0.5, dropout_layers: NonNegativeInt = 3) -> nn.Module:
    """U-Net: encoder to 1x1, mirrored decoder with skips, dropout as the noise (pix2pix)."""
    return UNet(in_shape, out_shape, width=width, norm=norm, dropout=dropout, dropout_layers=dropout_layers)


@TRANSLATORS.register("resnet", paper="Johnson et al. 2016; Zhu et al. 2017 (CycleGAN)")
def resnet(in_shape: tuple[int, ...], out_shape: tuple[int, ...], *, width: Count = 64, blocks: Count = 6,
           norm: Norm = "instance") -> nn.Module:
    """ResNet translator: two downsamplings, residual blocks, two upsamplings (CycleGAN)."""
    return ResNetTranslator(in_shape, out_shape, width=width, blocks=blocks, norm=norm)


@PATCH_DISCRIMINATORS.register("patchgan", paper="Isola et al. 2017 (PatchGAN); Li & Wand 2016")
def patchgan(in_channels: int, *, width: Count = 64, layers: Count = 3, norm: Norm = "batch") -> nn.Module:
    """PatchGAN: a logit per overlapping patch (70x70 for layers=3)."""
    return PatchGAN(in_channels, width=width, layers=layers, norm=norm)


__all__ = ["PATCH_DISCRIMINATORS", "TRANSLATORS", "PatchGAN", "ResNetTranslator", "UNet"]
