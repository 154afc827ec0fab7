"""Standardisation of point data: train on ``(x - mean) / std``, sample in the data's units.

A user's points can be in any range (coordinates in the thousands, or 1e-3 apart); the
networks, learning rates and penalties of a recipe see data of unit spread instead. The
transform is fitted once from the data set (a finite one exactly; a distribution with a
density from a fixed-seed sample, so a reloaded run fits the same numbers), kept as buffers
in the checkpoint, and undone by :meth:`GANRecipe.generate`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.base import TensorSource, sample_aside


class Standardize(nn.Module):
    """``x -> (x - mean) / std`` per coordinate, and back."""

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    @classmethod
    def fit(cls, data: Any, seed: int = 0, n: int = 20_000) -> Standardize:
        if isinstance(data, TensorSource):
            x = data.x.reshape(len(data), -1).double()
        else:
            x, _ = sample_aside(data, n, torch.Generator().manual_seed(seed * 7 + 5))
            x = x.reshape(n, -1).double()
        std = x.std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))  # a constant coordinate stays as it is
        return cls(x.mean(dim=0), std)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        return ((x.reshape(shape[0], -1) - self.mean.to(x.device)) / self.std.to(x.device)).reshape(shape)

    def inverse(self, x: Tensor) -> Tensor:
        shape = x.shape
        return (x.reshape(shape[0], -1) * self.std.to(x.device) + self.mean.to(x.device)).reshape(shape)
