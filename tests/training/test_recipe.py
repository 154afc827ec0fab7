"""The GAN recipe as configuration of the loop: k D-steps per G-step, EMA, conditional labels."""

import pytest
import torch

from gankit.recipes.base import build_recipe
from gankit.config import build_config
from gankit.data import DATASETS
from gankit.recipes.gan import GANRecipe


def _recipe(**cfg):
    base = {"generator": {"width": 16, "depth": 1}, "discriminator": {"width": 16, "depth": 1},
            "train": {"batch_size": 32, "progress": False}}
    for k, v in cfg.items():
        base.setdefault(k, {}) if isinstance(v, dict) else None
        base[k] = {**base.get(k, {}), **v} if isinstance(v, dict) else v
    c = build_config(base)
    data = DATASETS.build(c.data.name, c.data.options)
    return build_recipe(c, data, torch.device("cpu"))


def test_k_discriminator_steps_per_generator_step():
    r = _recipe(train={"d_steps": 3})
    calls = {"D": 0, "G": 0}
    for ph in r.trainer.phases:
        fn = ph.loss_fn
        ph.loss_fn = (lambda f, n: (lambda: (calls.__setitem__(n, calls[n] + 1), f())[1]))(fn, ph.name)
    for _ in range(4):
        r.trainer.train_step()
    assert calls == {"D": 12, "G": 4}
    assert r.trainer.phases[0].optimizer.state_dict()["state"][0]["step"].item() == 12


@pytest.mark.training
def test_ema_matches_the_recursion(record):
    r = _recipe(train={"ema": 0.9})
    G, E = r.G, r.G_ema
    expected = [p.detach().clone() for p in G.parameters()]
    for _ in range(5):
        r.trainer.train_step()
        expected = [0.9 * e + 0.1 * p.detach() for e, p in zip(expected, G.parameters())]
    # torch.allclose(e, p, atol=1e-6): |e - p| <= 1e-6 + 1e-5 |p| everywhere
    ratio = max(float(((e - p).abs() / (1e-6 + 1e-5 * p.abs())).max()) for e, p in zip(expected, E.parameters()))
    assert record("max |EMA - recursion| / allclose tolerance", ratio, "<= 1")
    assert r.sampler() is E


def test_generator_loss_does_not_train_discriminator():
    r = _recipe()
    d_before = [p.detach().clone() for p in r.D.parameters()]
    g_phase = r.trainer.phases[1]
    r.trainer._backward(g_phase)
    r.trainer._step(g_phase)
    for a, p in zip(d_before, r.D.parameters()):
        assert torch.equal(a, p)
        assert p.grad is None
