"""Network registries. Networks know nothing of losses.

Contract every registered network meets (checked by ``tests/networks/test_network_contract.py``):

* generator ``G(z, y=None) -> x``: ``z`` is ``(B, latent_dim)``, ``y`` an optional
  ``(B,)`` long tensor of class labels (conditional models), ``x`` is ``(B, *data_shape)``.
* discriminator ``D(x, y=None) -> out``: raw outputs, never a sigmoid; ``(B,)`` when
  ``out_dim == 1`` (one logit per sample), ``(B, out_dim)`` otherwise (critic features).

The framework passes the *context* arguments itself (data shape, latent size, number of
classes, output width); every other keyword of a factory is a user option.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from gankit.registry import Registry

GENERATORS: Registry[Callable[..., nn.Module]] = Registry(
    "generator", context=("latent_dim", "data_shape", "num_classes")
)
DISCRIMINATORS: Registry[Callable[..., nn.Module]] = Registry(
    "discriminator", context=("data_shape", "num_classes", "out_dim")
)

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def activation(name: str) -> nn.Module:
    from gankit.errors import ConfigError

    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def hidden_layers(d_in: int, width: int, depth: int, act: str, batchnorm: bool = False) -> list[nn.Module]:
    """``depth`` x (Linear -> [BatchNorm1d] -> activation), the body of every MLP here."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(d_in, width)]
        if batchnorm:
            layers += [nn.BatchNorm1d(width)]
        layers += [activation(act)]
        d_in = width
    return layers


class ParallelCritics(nn.Module):
    """Several separate critics on the same input, outputs concatenated ``(B, sum of widths)``:
    D2GAN's two discriminators as one module for the loop, each with its own parameters."""

    def __init__(self, critics: list[nn.Module]) -> None:
        super().__init__()
        self.critics = nn.ModuleList(critics)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return torch.cat([c(x, y).reshape(x.shape[0], -1) for c in self.critics], dim=1)
