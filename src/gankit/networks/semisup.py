"""The semi-supervised AAE's encoder: one registered encoder body, two heads.

``CategoricalStyleEncoder`` wraps an :data:`~gankit.networks.encoders.ENCODERS` network of
``K + style_dim`` outputs and reads them as class logits ``l (B, K)`` and a style code
``z (B, style_dim)`` (Makhzani et al. 2016, §5: ``q(y | x)`` and ``q(z | x)``). Its
``forward`` is the code the decoder sees, ``[softmax(l), z]``; networks know nothing of
losses, so the recipe reads the logits through :meth:`heads`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CategoricalStyleEncoder(nn.Module):
    """``x (B, *shape) -> [softmax(l) (B, K), z (B, style_dim)]`` from one body of ``K + style_dim`` outputs."""

    def __init__(self, body: nn.Module, num_classes: int, style_dim: int) -> None:
        super().__init__()
        self.body, self.num_classes, self.style_dim = body, num_classes, style_dim

    def heads(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Class logits ``(B, K)`` and style code ``(B, style_dim)``."""
        out = self.body(x)                                              # (B, K + style_dim)
        assert out.shape[1] == self.num_classes + self.style_dim, f"encoder body gave {tuple(out.shape)}"
        return out[:, :self.num_classes], out[:, self.num_classes:]

    def forward(self, x: Tensor) -> Tensor:
        logits, z = self.heads(x)
        return torch.cat([torch.softmax(logits, dim=1), z], dim=1)     # (B, K + style_dim)
