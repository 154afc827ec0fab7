"""``init_std`` of the MLP networks: weights N(0, init_std²) and zero biases (the initialisation
of D2GAN's code, std 0.01), or PyTorch's default U(±1/sqrt(fan_in)) at 0.

The sample standard deviation of n draws of N(0, s²) has relative standard error 1/sqrt(2n), and
their mean has standard error s/sqrt(n); the bounds are six of those."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.networks import DISCRIMINATORS, GENERATORS


def _weights(net: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for m in net.modules():
        if isinstance(m, nn.Linear):
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            out.append((w.detach().double(), m.bias.detach()))
    return out


def _nets(init_std: float) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {
        "generator": GENERATORS.build("mlp", {"width": 200, "depth": 2, "init_std": init_std},
                                      latent_dim=64, data_shape=(2,), num_classes=0),
        "discriminator": DISCRIMINATORS.build("mlp", {"width": 200, "depth": 2, "init_std": init_std},
                                              data_shape=(2,), num_classes=0, out_dim=1),
        "spectral-norm discriminator": DISCRIMINATORS.build(
            "mlp", {"width": 200, "depth": 2, "init_std": init_std, "spectral_norm": True},
            data_shape=(2,), num_classes=0, out_dim=1),
    }


@pytest.mark.parametrize("std", [0.01, 0.2])
def test_init_std_draws_every_weight_from_a_centred_normal_and_zeroes_the_biases(std: float) -> None:
    for name, net in _nets(std).items():
        layers = _weights(net)
        assert len(layers) == 3, name
        for w, b in layers:
            n = w.numel()
            assert torch.equal(b, torch.zeros_like(b)), name
            assert abs(float(w.std()) / std - 1) < 6 / math.sqrt(2 * n), (name, float(w.std()), n)
            assert abs(float(w.mean())) < 6 * std / math.sqrt(n), (name, float(w.mean()))
        # all weights together: a normal's kurtosis is 3 (a uniform's, the default's, is 1.8)
        allw = torch.cat([w.flatten() for w, _ in layers])
        kurt = float(((allw / allw.std()) ** 4).mean())
        assert abs(kurt - 3) < 6 * math.sqrt(24 / allw.numel()), (name, kurt)


def test_init_std_zero_is_pytorchs_default_uniform_initialisation() -> None:
    for name, net in _nets(0.0).items():
        for w, b in _weights(net):
            bound = 1 / math.sqrt(w.shape[1])                    # kaiming_uniform(a=sqrt 5) and the bias's
            assert float(w.abs().max()) <= bound and float(b.abs().max()) <= bound, name
            if w.numel() >= 10_000:                              # U(±bound): std bound / sqrt 3
                assert abs(float(w.std()) * math.sqrt(3) / bound - 1) < 6 / math.sqrt(2 * w.numel()), name


def test_a_negative_init_std_is_a_config_error() -> None:
    from gankit.config import load_config

    with pytest.raises(ConfigError, match="init_std"):
        load_config(overrides=["generator.init_std=-0.01"])
