"""Feature matching (Salimans et al. 2016, §3.1): ``||E phi(x) - E phi(G(z))||^2`` against
numpy, its closed-form gradient, finite differences through a generator, and the GAN
recipe's generator phase computing exactly it on D's body features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.cli.main import main
from gankit.config import build_config
from gankit.losses import LOSSES
from gankit.losses.gan import feature_matching_loss
from gankit.recipes import RECIPES as _RECIPES


def test_value_against_numpy():
    g = torch.Generator().manual_seed(1)
    fake, real = torch.randn(32, 7, generator=g, dtype=torch.float64), torch.randn(48, 7, generator=g, dtype=torch.float64)
    want = float(((real.numpy().mean(0) - fake.numpy().mean(0)) ** 2).sum())
    assert feature_matching_loss(fake, real).item() == pytest.approx(want, rel=1e-12)
    assert feature_matching_loss(real, real).item() == 0.0


def test_gradient_closed_form():
    g = torch.Generator().manual_seed(2)
    fake = torch.randn(20, 5, generator=g, dtype=torch.float64, requires_grad=True)
    real = torch.randn(30, 5, generator=g, dtype=torch.float64)
    feature_matching_loss(fake, real).backward()
    closed = -(2.0 / 20) * (real.mean(0) - fake.detach().mean(0))          # the same for every fake row
    assert torch.allclose(fake.grad, closed.expand(20, 5), atol=1e-14)


def test_gradient_through_a_generator_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    W = torch.randn(4, 6, generator=g, dtype=torch.float64)                # phi(x) = tanh(x W)
    z = torch.randn(16, 3, generator=g, dtype=torch.float64)
    real = torch.randn(16, 4, generator=g, dtype=torch.float64)
    theta = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)   # G(z) = z theta

    def loss(t):
        return feature_matching_loss(torch.tanh(z @ t @ W), torch.tanh(real @ W))

    loss(theta).backward()
    eps, fd = 1e-6, torch.zeros_like(theta)
    for idx in np.ndindex(*theta.shape):
        e = torch.zeros_like(theta)
        e[idx] = eps
        fd[idx] = (loss(theta.detach() + e) - loss(theta.detach() - e)) / (2 * eps)
    assert torch.allclose(theta.grad, fd, rtol=1e-6, atol=1e-9)


def _recipe(**over):
    raw = {"data": "ring", "loss": "feature-matching", "latent_dim": 2, "device": "cpu",
           "train": {"batch_size": 32, "progress": False}, **over}
    cfg = build_config(raw)
    from gankit.data import DATASETS

    data = DATASETS.build(cfg.data.name, cfg.data.options)
    return _RECIPES.build(cfg.model.name, cfg.model.options, cfg=cfg, data=data,
                                device=torch.device("cpu"), rank=0)


def test_the_gan_recipe_matches_d_body_features_in_the_g_phase():
    r = _recipe()
    g = torch.Generator().manual_seed(4)
    z, real = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g)
    r.batches.noise = lambda prior, n: z
    r.real_batch = lambda n=None: (real, None)
    loss, _ = r.g_loss()
    want = feature_matching_loss(r.D.phi(r.G(z)), r.D.phi(real))
    assert loss.item() == pytest.approx(want.item(), rel=1e-6)
    assert r.D.phi(real).shape[1] == 256                # D's body, not its one logit
    assert LOSSES.build("feature-matching", {}).d_loss is LOSSES.build("ns", {}).d_loss   # D: the classic loss


@pytest.mark.parametrize("sets,words", [
    (["mitigations.unrolled.k=2"], "unrolled"),
    (["mitigations.pack.m=2"], "body features"),
    (["discriminator=maxout"], "body features"),
])
def test_unsupported_combinations_exit_2_with_one_line(tmp_path, capsys, sets, words):
    args = ["train", "--set", "loss=feature-matching", "--set", "train.steps=2", "--set", "train.progress=false",
            "--set", f"out_dir={tmp_path}"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert not any(tmp_path.iterdir())
