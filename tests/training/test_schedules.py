"""Schedules of the one loop beyond the learning rate (R3GAN's recipe): the learning rate's
floor, Adam's beta2, the penalty's strength, and an EMA by half-life with a ramp; each against
its closed form, their validation, and exact resume."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.config import build_config
from gankit.errors import ConfigError
from gankit.engine.loop import EMA, Phase, Trainer, ema_decay, lr_factor, lr_schedule, ramp


def test_lr_schedule_ends_at_its_floor_along_the_cosine():
    f = lr_schedule("cosine", 100, final=0.25)
    assert f(0) == 1.0 and f(100) == pytest.approx(0.25)
    assert f(50) == pytest.approx(0.25 + 0.75 * 0.5)
    assert f(25) == pytest.approx(0.25 + 0.75 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_schedule("cosine", 100) is not None and lr_schedule("cosine", 100)(100) == pytest.approx(0.0)
    assert lr_schedule("none", 100, final=0.25) is None
    assert ramp(None, 0.9, 0.999)(10) == 0.9


def test_trainer_moves_adams_beta2_per_group():
    w = nn.Parameter(torch.zeros(2))
    v = nn.Parameter(torch.zeros(2))
    opt_a = torch.optim.Adam([w], lr=0.1, betas=(0.0, 0.9))
    opt_b = torch.optim.Adam([v], lr=0.1, betas=(0.5, 0.99))
    phases = [Phase("A", [nn.ParameterList([w])], opt_a, lambda: ((w - 1).pow(2).sum(), {})),
              Phase("B", [nn.ParameterList([v])], opt_b, lambda: ((v + 1).pow(2).sum(), {}))]
    decay = lr_factor("linear", 10)
    t = Trainer(phases, lr_factor=decay, beta2_final=0.999, decay=decay)
    for _ in range(4):
        t.train_step()
    # the betas of step 3 (the last one run): start + (end - start) * 3/10
    assert opt_a.param_groups[0]["betas"] == (0.0, pytest.approx(0.999 + (0.9 - 0.999) * 0.7))
    assert opt_b.param_groups[0]["betas"] == (0.5, pytest.approx(0.999 + (0.99 - 0.999) * 0.7))


def test_ema_half_life_halves_the_weight_of_the_past_every_half_life_of_images():
    # with decay 0.5 ** (batch / h), after h / batch updates the start's weight is exactly 1/2
    model, avg = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        avg.weight.fill_(1.0)
        model.weight.fill_(0.0)
    ema = EMA(model, avg, 0.0, decay_at=lambda step: ema_decay(640.0, 0.0, 64, step * 64))
    for step in range(10):                                         # 10 x 64 images = one half-life
        ema.update(step)
    assert avg.weight.item() == pytest.approx(0.5, rel=1e-6)
    # the ramp: early on the half-life is rampup x images seen, so the average forgets faster
    assert ema_decay(10_000, 0.05, 64, 64_000) == pytest.approx(0.5 ** (64 / 3200))
    assert ema_decay(10_000, 0.05, 64, 10**7) == pytest.approx(0.5 ** (64 / 10_000))


@pytest.mark.parametrize("train,match", [({"beta2_final": 0.999}, "lr_decay"), ({"lr_final": 0.25}, "lr_decay"),
                                         ({"penalty_final": 0.1}, "lr_decay"),
                                         ({"ema": 0.99, "ema_half_life": 1000.0}, "exclude"),
                                         ({"ema_rampup": 0.05}, "ema_half_life"),
                                         ({"beta2_final": 1.0, "lr_decay": "cosine"}, "beta2_final")])
def test_schedule_options_are_checked(train, match):
    with pytest.raises(ConfigError, match=match):
        build_config({"train": train})


@pytest.mark.training
def test_every_schedule_resumes_bit_identically(tmp_path):
    from gankit.session import resume, train

    cfg = {"seed": 2, "loss": "rpgan", "penalty": {"name": "r1r2", "gamma": 1.0},
           "generator": {"width": 32, "depth": 2}, "discriminator": {"width": 32, "depth": 2},
           "optim_g": {"betas": [0.0, 0.9]}, "optim_d": {"betas": [0.0, 0.9]},
           "train": {"steps": 30, "batch_size": 64, "progress": False, "log_every": 10, "lr_decay": "cosine",
                     "lr_final": 0.25, "beta2_final": 0.99, "penalty_final": 0.1, "ema_half_life": 640.0,
                     "ema_rampup": 0.05},
           "eval": {"num_samples": 200}}
    full = train(cfg, run_dir=tmp_path / "full")
    train(cfg, run_dir=tmp_path / "half", steps=13)
    resumed = resume(tmp_path / "half")
    for name in ("G", "D", "G_ema"):
        a, b = full.recipe.modules()[name].state_dict(), resumed.recipe.modules()[name].state_dict()
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
    betas = full.recipe.trainer.phases[0].optimizer.param_groups[0]["betas"]
    assert betas[1] == pytest.approx(0.99 + (0.9 - 0.99) * lr_factor("cosine", 30)(29))
