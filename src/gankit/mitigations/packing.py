"""Packing (PacGAN; Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in GANs").

The discriminator judges ``m`` samples at once: ``m`` consecutive samples of a batch (all
real or all fake) are concatenated into one input, along the feature axis for points
``(m*d,)`` and along channels for images ``(m*C, H, W)``. The packed D is the configured
network built for that larger input (list ``pack`` before other mitigations that change D:
it rebuilds D, and they then act on the packed network). Lin et al. show that the packed divergence penalises
mode collapse more strongly, at no change to the loss.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.mitigations.base import MITIGATIONS, Mitigation
from gankit.registry import Count

LIN = "Lin, Khetan, Fanti & Oh 2018, 'PacGAN: The power of two samples in generative adversarial networks'"


def pack(x: Tensor, m: int) -> Tensor:
    """``(B, d) -> (B/m, m*d)`` or ``(B, C, H, W) -> (B/m, m*C, H, W)``: row ``i`` of the result
    is samples ``i*m, ..., i*m + m - 1`` concatenated in that order."""
    b = x.shape[0]
    if b % m:
        raise ConfigError(f"packing: batch of {b} is not a multiple of mitigations.pack.m={m}")
    return x.reshape(b // m, m * x.shape[1], *x.shape[2:])


def packed_shape(shape: tuple[int, ...], m: int) -> tuple[int, ...]:
    return (m * shape[0], *shape[1:])


class PackedDiscriminator(nn.Module):
    """``x (B, *shape) -> D(pack(x)) (B/m,)``.

    In eval mode (used only to draw D's decision surface) each input is judged as a pack of
    ``m`` copies of itself, so the output keeps one value per input.
    """

    def __init__(self, D: nn.Module, m: int) -> None:
        super().__init__()
        self.inner, self.m = D, m

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if y is not None:
            raise ConfigError("packing does not support conditional discriminators (a pack mixes labels)")
        if not self.training:
            x = x.repeat_interleave(self.m, dim=0)                    # (B*m, *shape)
        return self.inner(pack(x, self.m))                                # (B/m,) or (B,) in eval mode


class Packing(Mitigation):
    name = "pack"

    def __init__(self, m: int) -> None:
        self.m = m

    def wrap_discriminator(self, D: nn.Module, recipe: Any) -> nn.Module:
        from gankit.networks import DISCRIMINATORS

        if recipe.num_classes:
            raise ConfigError("mitigations.pack does not support conditional=true")
        d = recipe.options.discriminator
        # The configured network again, for the packed input; the unpacked one is discarded.
        inner = DISCRIMINATORS.build(d.name, d.options,
                                     data_shape=packed_shape(tuple(recipe.data.shape), self.m),
                                     num_classes=0, out_dim=recipe.objective.critic_dim)
        return PackedDiscriminator(inner, self.m)

    def batch_multiple(self) -> int:
        return self.m


@MITIGATIONS.register("pack", paper=LIN)
def packing(*, m: Count = 2) -> Mitigation:
    """PacGAN: D sees m samples concatenated (batch size must be a multiple of m)."""
    return Packing(m)
