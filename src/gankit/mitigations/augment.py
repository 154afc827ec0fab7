"""Differentiable augmentation of every input of D, with ADA's adaptive probability.

With a few thousand images, D memorises the training set within minutes and its feedback to G
stops making sense. DiffAugment (Zhao et al. 2020) applies the same random, differentiable
transforms to real and generated images wherever D sees them (in D's phase and in G's), so D
never sees an un-augmented image and G's gradient flows back through the transforms; the
augmentations do not leak into G's distribution because both sides get them. ADA (Karras et
al. 2020) applies each transform to a sample with probability ``p`` and steers ``p`` with the
overfitting heuristic ``r_t = E[sign(D(x_real))]``: every ``interval`` D steps ``p`` moves by
``sign(r_t - target) * images / (ada_kimg * 1000)`` (``target`` 0.6, ``ada_kimg`` 500 in the
paper: ``p`` can go from 0 to 1 in 500k real images), clamped to [0, 1].

The transforms (DiffAugment's policy ``color,translation,cutout``), for images in [-1, 1]:

* ``color``: brightness ``x + (u - 1/2)``, saturation ``m_c + 2u (x - m_c)`` (``m_c`` the mean over
  channels), contrast ``m + (u + 1/2)(x - m)`` (``m`` the image mean), ``u ~ U(0, 1)`` each;
* ``translation``: an integer shift of up to ``translation`` of the side in each direction,
  zeros (mid-grey) shifted in;
* ``cutout``: a square of ``cutout`` of the side, placed wholly inside the image, set to 0.

Gradient penalties (R1, R2) are taken with respect to the non-augmented input of ``D(aug(x))``,
as StyleGAN2-ADA does. The probability and its running statistics are saved with the run, so a
resumed run continues bit-identically.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.registry import Bounds, Count, Fraction, Positive
from gankit.mitigations.base import MITIGATIONS, Mitigation

PAPERS = ("Zhao et al. 2020, 'Differentiable Augmentation for Data-Efficient GAN Training'; Karras et al. 2020, "
          "'Training Generative Adversarial Networks with Limited Data' (ADA)")
TRANSFORMS = ("color", "translation", "cutout")
Transform = Literal["color", "translation", "cutout"]
Probability = Annotated[float, Bounds(ge=0, le=1)]


def _u(x: Tensor) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)


def color(x: Tensor) -> Tensor:
    """DiffAugment's brightness, saturation and contrast, ``x (B, C, H, W)``."""
    x = x + (_u(x) - 0.5)
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * (_u(x) * 2) + m
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * (_u(x) + 0.5) + m


def shift(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """``out[b, :, i, j] = x[b, :, i - dy_b, j - dx_b]`` where that pixel exists, else 0.
    ``dy``, ``dx``: ``(B,)`` integer shifts."""
    b, _, h, w = x.shape
    iy = torch.arange(h, device=x.device)[None, :, None] - dy[:, None, None]       # (B, H, 1) source rows
    ix = torch.arange(w, device=x.device)[None, None, :] - dx[:, None, None]       # (B, 1, W) source columns
    valid = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)                             # (B, H, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = x[batch, :, iy.clamp(0, h - 1), ix.clamp(0, w - 1)]                      # (B, H, W, C)
    return out.permute(0, 3, 1, 2) * valid[:, None].to(x.dtype)


def translation(x: Tensor, ratio: float) -> Tensor:
    """A random integer shift of at most ``ratio`` of each side, per sample."""
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (b,), device=x.device)
    dx = torch.randint(-sx, sx + 1, (b,), device=x.device)
    return shift(x, dy, dx)


def cut(x: Tensor, top: Tensor, left: Tensor, size: tuple[int, int]) -> Tensor:
    """Zero a ``size`` square at ``(top_b, left_b)`` of each sample."""
    b, _, h, w = x.shape
    rows = torch.arange(h, device=x.device)[None, :, None] - top[:, None, None]
    cols = torch.arange(w, device=x.device)[None, None, :] - left[:, None, None]
    inside = (rows >= 0) & (rows < size[0]) & (cols >= 0) & (cols < size[1])        # (B, H, W)
    return x * (~inside)[:, None].to(x.dtype)


def cutout(x: Tensor, ratio: float) -> Tensor:
    """A square of ``ratio`` of the side, wholly inside the image, set to 0: exactly
    ``round(ratio H) round(ratio W) / (H W)`` of the pixels."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h - ch + 1, (b,), device=x.device)
    left = torch.randint(0, w - cw + 1, (b,), device=x.device)
    return cut(x, top, left, (ch, cw))


class AugmentState(nn.Module):
    """ADA's probability ``p`` and the running sum and count of ``sign(D(x_real))``: buffers,
    saved with the run."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.register_buffer("p", torch.tensor(float(p), dtype=torch.float64))
        self.register_buffer("sign_sum", torch.zeros((), dtype=torch.float64))
        self.register_buffer("sign_count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))


class Augment(Mitigation):
    name = "augment"

    def __init__(self, policy: list[str], p: float, adaptive: bool, target: float, interval: int,
                 ada_kimg: float, translation: float, cutout: float) -> None:
        self.policy, self.adaptive, self.target, self.interval = policy, adaptive, target, interval
        self.ada_kimg, self.translation_ratio, self.cutout_ratio = ada_kimg, translation, cutout
        self.state = AugmentState(p)
        self._calls: int | None = None       # CPU mirror of state.calls (read once, after a resume)

    def build(self, recipe: Any) -> None:
        if len(recipe.data.shape) != 3:
            raise ConfigError(f"mitigations.augment works on images (C, H, W); this data has shape "
                              f"{tuple(recipe.data.shape)}")
        self.state.to(recipe.device)

    def modules(self) -> dict[str, nn.Module]:
        return {"augment": self.state}

    def apply(self, x: Tensor) -> Tensor:
        """Each transform of the policy, on each sample with probability ``p``."""
        p = self.state.p.to(x.dtype)
        for name in self.policy:
            out = color(x) if name == "color" else (translation(x, self.translation_ratio) if name == "translation"
                                                    else cutout(x, self.cutout_ratio))
            on = (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) < p)
            x = torch.where(on, out, x)
        return x

    def discriminator_input(self, x: Tensor, step: int) -> Tensor:
        return self.apply(x) if x.dim() == 4 else x

    def observe_critic(self, real_out: Tensor, fake_out: Tensor) -> None:
        if not self.adaptive:
            return
        s = self.state
        s.sign_sum += torch.sign(real_out.detach().reshape(real_out.shape[0], -1)[:, 0]).double().sum()
        s.sign_count += real_out.shape[0]
        s.calls += 1
        self._calls = (int(s.calls) if self._calls is None else self._calls + 1)  # one device read per run
        if self._calls % self.interval == 0:
            update(s, self.target, self.ada_kimg)


def update(s: AugmentState, target: float, ada_kimg: float) -> None:
    """``p += sign(r_t - target) * n / (ada_kimg * 1000)`` with ``r_t`` the mean sign of D's real
    outputs over the ``n`` images since the last update; ``p`` clamped to [0, 1]; statistics reset."""
    r = s.sign_sum / s.sign_count.clamp(min=1)
    s.p.copy_((s.p + torch.sign(r - target) * s.sign_count / (ada_kimg * 1000.0)).clamp(0.0, 1.0))
    s.sign_sum.zero_()
    s.sign_count.zero_()


@MITIGATIONS.register("augment", paper=PAPERS, data="images")
def augment(*, policy: list[Transform] | None = None, p: Probability = 1.0, adaptive: bool = False,
            target: Fraction = 0.6, interval: Count = 4, ada_kimg: Positive = 500.0,
            translation: Fraction = 0.125, cutout: Fraction = 0.5) -> Mitigation:
    """Differentiable augmentation of D's real and fake inputs (DiffAugment: ``policy`` of
    color, translation, cutout, each applied with probability ``p``); ``adaptive``: ADA's
    controller steers ``p`` (start ``p``, usually 0) towards E[sign D(x_real)] = ``target``,
    every ``interval`` D steps, at most 1 per ``ada_kimg`` thousand images."""
    policy = list(TRANSFORMS) if policy is None else list(policy)
    unknown = [t for t in policy if t not in TRANSFORMS]
    if unknown or not policy:
        raise ConfigError(f"mitigations.augment.policy: unknown augmentation {', '.join(map(repr, unknown)) or '(empty)'};"
                          f" choose from {', '.join(TRANSFORMS)}")
    return Augment(policy, p, adaptive, target, interval, ada_kimg, translation, cutout)
