"""The contract every recipe (``model=NAME``, :data:`gankit.recipes.RECIPES`) meets:
from a tiny config it trains a few steps, and a run stopped half-way and resumed from its run
directory ends bit-identically where the uninterrupted run ends (tests/contracts/conftest.py).

Parametrised over the registry: a recipe registered without a tiny config here fails, so a new
recipe cannot go untested. A few GAN variants ride along because their state is the loop's:
several D steps per G step with RMSprop, simultaneous updates with a cosine schedule, and the
schedules of beta2, the penalty weight and the EMA half-life.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gankit.recipes import RECIPES as _RECIPES

RUN = {"train": {"steps": 6, "batch_size": 16, "progress": False, "log_every": 2, "checkpoint_every": 0},
       "eval": {"num_samples": 64, "metrics": []}}
MLP16 = {"generator": {"width": 16, "depth": 2}, "discriminator": {"width": 16, "depth": 2}}
DIGITS8 = {"name": "digits", "size": 8}
DCGAN8 = {"generator": {"name": "dcgan", "width": 8}, "discriminator": {"name": "dcgan", "width": 8}}
DOMAINS = "DOMAINS"  # stands for a folder of two unpaired domains, written per test

# recipe -> a config that trains in well under a second (raw dicts, top-level keys)
TINY: dict[str, dict[str, Any]] = {
    "gan": {"model": "gan", "data": "ring", "latent_dim": 2, "prior": "normal", **MLP16,
            "train": {"ema": 0.9}},
    # supervised, so the prior's labelled components and the encoder's phase are all in play
    "aae": {"model": "aae", "data": DIGITS8, "latent_dim": 2, "encoder": {"name": "mlp", "width": 16, "depth": 2},
            "generator": {"name": "mlp", "width": 16, "depth": 2, "output": "tanh"},
            "discriminator": {"name": "mlp", "width": 16, "depth": 2},
            "prior": {"name": "mog", "components": 10, "radius": 4.0, "sigma": 0.5}, "aae": {"supervised": True}},
    "acgan": {"model": "acgan", "conditional": True, "data": DIGITS8, "latent_dim": 16, **DCGAN8},
    "bigan": {"model": "bigan", "data": "ring", "latent_dim": 2, **MLP16, "encoder": {"width": 16, "depth": 2}},
    "infogan": {"model": {"name": "infogan", "categories": 4, "continuous": 1}, "data": "ring", "latent_dim": 7,
                **MLP16},
    "pix2pix": {"model": {"name": "pix2pix", "width": 4, "d_width": 4, "d_layers": 1},
                "data": {"name": "pair-task", "base": "digits", "task": "edges", "size": 8, "num": 64,
                         "test_num": 16}},
    "cyclegan": {"model": {"name": "cyclegan", "net": "unet", "width": 4, "d_width": 4, "d_layers": 1, "pool": 4},
                 "data": {"name": "domains", "path": DOMAINS, "channels": 1}, "loss": "lsgan",
                 "train": {"batch_size": 4}},
    "ssgan": {"model": {"name": "ssgan", "labels": 30}, "data": "digits", "latent_dim": 4,
              "generator": {"name": "mlp", "width": 16, "output": "tanh"}, "discriminator": {"name": "mlp", "width": 16}},
    "ssaae": {"model": {"name": "ssaae", "labels": 30}, "data": "digits", "latent_dim": 4,
              "generator": {"name": "mlp", "width": 16, "output": "tanh"}, "discriminator": {"name": "mlp", "width": 16},
              "encoder": {"name": "mlp", "width": 16}},
}

GAN_VARIANTS: dict[str, dict[str, Any]] = {
    "gan-d_steps2-rmsprop": {"train": {"d_steps": 2}, "optim_d": {"name": "rmsprop", "lr": 1e-3}},
    "gan-simultaneous-cosine": {"train": {"update": "simultaneous", "lr_decay": "cosine"}},
    "gan-schedules": {"loss": "rpgan", "penalty": {"name": "r1r2", "gamma": 1.0},
                      "optim_g": {"betas": [0.0, 0.9]}, "optim_d": {"betas": [0.0, 0.9]},
                      "train": {"lr_decay": "cosine", "lr_final": 0.25, "beta2_final": 0.99, "penalty_final": 0.1,
                                "ema": 0.0, "ema_half_life": 640.0, "ema_rampup": 0.05}},
}


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Later dicts win; nested sections are merged key by key."""
    out: dict[str, Any] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def domains_folder(root: Path, n: int = 12) -> Path:
    """Unpaired 8x8 domains: scikit-learn's digits 0 as A, digits 1 as B, the last 3 of each held out."""
    from sklearn.datasets import load_digits

    d = load_digits()
    for side, k in (("A", 0), ("B", 1)):
        for i, img in enumerate(d.images[d.target == k][:n]):
            folder = root / (side if i < n - 3 else f"test/{side}")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((img * 255 / 16).astype(np.uint8), "L").save(folder / f"{i:03d}.png")
    return root


def tiny_config(name: str, tmp_path: Path) -> dict[str, Any]:
    if name not in TINY:
        pytest.fail(f"recipe {name!r} has no tiny config in TINY (tests/contracts/test_recipe_contract.py)")
    raw = merged(RUN, TINY[name])
    if isinstance(raw["data"], dict) and raw["data"].get("path") == DOMAINS:
        raw["data"]["path"] = str(domains_folder(tmp_path / "domains"))
    return raw


@pytest.mark.parametrize("name", _RECIPES.names())
def test_every_recipe_resumes_bit_identically(name, tmp_path, resumes_exactly):
    run = resumes_exactly(tiny_config(name, tmp_path), 3)
    assert run.step == 6 and run.cfg.model.name == name
    # a checkpoint holds one optimiser state per phase of the recipe's loop
    assert [ph.name for ph in run.recipe.trainer.phases] == list(run.recipe.trainer.state_dict()["optimizers"])


@pytest.mark.parametrize("variant", GAN_VARIANTS)
def test_gan_loop_variants_resume_bit_identically(variant, tmp_path, resumes_exactly):
    resumes_exactly(merged(RUN, TINY["gan"], GAN_VARIANTS[variant], {"train": {"steps": 8}}), 3)
