"""Batch statistics appended to the discriminator's last features.

Both mitigations let D see a whole (real or fake) batch at once, so a generator that puts
every sample in one place is told apart from the data by the batch's lack of diversity:

* minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs", §3.2);
* minibatch standard deviation (Karras et al. 2018, "Progressive Growing of GANs", §3).

They are applied by replacing D's final layer ``head`` (of an MLP or DCGAN discriminator) by
a :class:`BatchFeatureHead`: the statistics of the head's input over the batch are
concatenated to it and a widened copy of the head maps the result to logits. Real and fake
batches go through D in separate calls, so the statistics never mix the two. In eval mode
(used only to draw D's decision surface) every input is judged alone, as a batch of one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.mitigations.base import MITIGATIONS, Mitigation
from gankit.registry import Count, NonNegativeInt, Positive

SALIMANS = "Salimans et al. 2016, 'Improved Techniques for Training GANs'"
KARRAS = "Karras et al. 2018, 'Progressive Growing of GANs for Improved Quality, Stability, and Variation'"


def minibatch_features(f: Tensor, T: Tensor, kernels: int, *, double_backward: bool = False) -> Tensor:
    """Salimans et al.'s minibatch features ``o (B, kernels)`` of features ``f (B, A)``.

    ``M_i = f_i T`` reshaped to ``(kernels, dims)``;
    ``o(x_i)_b = sum_j exp(-||M_{i,b} - M_{j,b}||_1)``, the sum over the whole batch including
    ``j = i`` as in the paper, so a batch of ``B`` identical samples gives ``o = B`` exactly.
    ``double_backward``: the explicit differences, twice differentiable (a gradient penalty
    differentiates D's input gradient; torch's cdist backward is not differentiable).
    """
    b = f.shape[0]
    M = (f @ T).view(b, kernels, -1).transpose(0, 1)                  # (kernels, B, dims)
    if double_backward:
        l1 = (M[:, :, None, :] - M[:, None, :, :]).abs().sum(-1)      # (kernels, B, B)
    else:
        # cdist never materialises the (B, B, kernels, dims) differences: ~4x faster on a CPU.
        l1 = torch.cdist(M, M, p=1.0)                                 # (kernels, B, B)
    return torch.exp(-l1).sum(dim=2).T                                # (B, kernels)


def minibatch_stddev(f: Tensor, group_size: int = 0) -> Tensor:
    """Karras et al.'s statistic ``(B, 1)``: the standard deviation of every feature over a
    group of samples (biased, ``+1e-8`` inside the root), averaged over features.

    ``group_size`` splits the batch into groups of that many samples (0 = the whole batch);
    each sample gets its group's value.
    """
    b = f.shape[0]
    g = b if group_size <= 0 else min(group_size, b)
    if b % g:
        raise ConfigError(f"minibatch_stddev: batch {b} is not a multiple of group_size {g}")
    x = f.reshape(g, b // g, -1)                                      # (G, B/G, F): sample i in group i % (B/G)
    std = (x.var(dim=0, unbiased=False) + 1e-8).sqrt()                # (B/G, F)
    return std.mean(dim=1).repeat(g).unsqueeze(1)                     # (B, 1)


class BatchFeatureHead(nn.Module):
    """``h (B, A) -> head'([h, s(h)])`` or for a convolutional head ``h (B, C, H, W)``, with
    the statistics ``s(h) (B, E)`` broadcast as ``E`` constant channels."""

    def __init__(self, head: nn.Module, extra: int, stat: nn.Module) -> None:
        super().__init__()
        self.stat, self.extra = stat, extra
        self.layer = _widened(head, extra)

    def forward(self, h: Tensor) -> Tensor:
        flat = h.reshape(h.shape[0], -1)                              # (B, A)
        if self.training:
            s = self.stat(flat)                                       # (B, E)
        else:
            s = self.stat(flat[:1]).expand(h.shape[0], -1)           # a batch of one: input-independent
        if h.dim() == 4:
            s = s[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])  # (B, E, H, W)
        return self.layer(torch.cat([h, s.to(h.dtype)], dim=1))


class _MinibatchStat(nn.Module):
    def __init__(self, in_dim: int, kernels: int, dims: int, init_std: float, double_backward: bool = False) -> None:
        super().__init__()
        self.kernels, self.double_backward = kernels, double_backward
        self.T = nn.Parameter(torch.randn(in_dim, kernels * dims) * init_std)  # (A, kernels * dims)

    def forward(self, f: Tensor) -> Tensor:
        return minibatch_features(f, self.T, self.kernels, double_backward=self.double_backward)


class _StddevStat(nn.Module):
    def __init__(self, group_size: int) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, f: Tensor) -> Tensor:
        return minibatch_stddev(f, self.group_size)


def _widened(head: nn.Module, extra: int) -> nn.Module:
    """A fresh copy of a Linear/Conv2d ``head`` taking ``extra`` more inputs (spectral norm kept)."""
    from torch.nn.utils import parametrize

    bias = head.bias is not None
    if isinstance(head, nn.Linear):
        layer: nn.Module = nn.Linear(head.in_features + extra, head.out_features, bias=bias)
    elif isinstance(head, nn.Conv2d):
        layer = nn.Conv2d(head.in_channels + extra, head.out_channels, head.kernel_size, head.stride,
                          head.padding, bias=bias)
    else:
        raise ConfigError(f"batch-feature mitigations need a Linear or Conv2d head, not {type(head).__name__}")
    if parametrize.is_parametrized(head, "weight"):
        layer = nn.utils.parametrizations.spectral_norm(layer)
    return layer


def _head_input_dim(D: nn.Module, who: str) -> int:
    head = getattr(D, "head", None)
    if not isinstance(head, (nn.Linear, nn.Conv2d)) or not hasattr(D, "features"):
        raise ConfigError(f"mitigation {who!r} needs a discriminator with .features and a Linear/Conv2d "
                          f".head (mlp, dcgan); {type(D).__name__} has none")
    if isinstance(head, nn.Linear):
        return head.in_features
    return int(D.feature_dim)  # a convolutional head sees the flattened (C, H, W) features


class MinibatchDiscrimination(Mitigation):
    """Salimans et al. 2016: ``kernels`` minibatch features of D's penultimate layer."""

    name = "minibatch"

    def __init__(self, kernels: int, dims: int, init_std: float) -> None:
        self.kernels, self.dims, self.init_std = kernels, dims, init_std

    def wrap_discriminator(self, D: nn.Module, recipe: Any) -> nn.Module:
        net = getattr(D, "inner", D)  # the network inside a packing wrapper
        a = _head_input_dim(net, self.name)
        twice = recipe.penalty.loss is not None  # R1 / GP differentiate twice
        net.head = BatchFeatureHead(net.head, self.kernels, _MinibatchStat(a, self.kernels, self.dims, self.init_std,
                                                                           twice))
        return D


class MinibatchStddev(Mitigation):
    """Karras et al. 2018: one feature, the mean over features of their batch standard deviation."""

    name = "mbstd"

    def __init__(self, group_size: int) -> None:
        self.group_size = group_size

    def wrap_discriminator(self, D: nn.Module, recipe: object) -> nn.Module:
        net = getattr(D, "inner", D)
        _head_input_dim(net, self.name)
        net.head = BatchFeatureHead(net.head, 1, _StddevStat(self.group_size))
        return D


@MITIGATIONS.register("minibatch", paper=SALIMANS)
def minibatch(*, kernels: Count = 50, dims: Count = 5, init_std: Positive = 0.05) -> Mitigation:
    """Minibatch discrimination: L1 kernels across the batch, concatenated before D's last layer."""
    return MinibatchDiscrimination(kernels, dims, init_std)


@MITIGATIONS.register("mbstd", paper=KARRAS)
def mbstd(*, group_size: NonNegativeInt = 4) -> Mitigation:
    """Minibatch standard deviation: one extra feature before D's last layer (group 0 = whole batch)."""
    return MinibatchStddev(group_size)
