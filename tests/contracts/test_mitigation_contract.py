"""The contract every mitigation (``gankit.mitigations.base.MITIGATIONS``) meets: it builds
from its defaults, an unknown option is a one-line ConfigError naming it, and a short GAN run
with it on resumes bit-identically (its own state, e.g. ADA's probability or DRS's critic,
included: the whole checkpoint is compared, tests/contracts/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gankit.config import build_config
from gankit.errors import ConfigError
from gankit.mitigations.base import MITIGATIONS, Mitigation

NAMES = MITIGATIONS.names()

POINTS = {"data": "ring", "latent_dim": 8, "prior": "normal",
          "generator": {"width": 16, "depth": 2}, "discriminator": {"width": 16, "depth": 2}}
IMAGES = {"data": {"name": "digits", "size": 8}, "latent_dim": 8, "prior": "normal",
          "generator": {"name": "dcgan", "width": 8}, "discriminator": {"name": "dcgan", "width": 8}}
RUN = {"train": {"steps": 8, "batch_size": 16, "progress": False, "log_every": 2, "checkpoint_every": 0, "ema": 0.9},
       "eval": {"num_samples": 64, "metrics": []}}

# Options that make a 8-step run exercise the mitigation's state rather than its defaults'
# slow path: ADA's controller moves p every step (each D step moves it by 16 / 100), DRS fits
# a small critic on few samples.
RESUME_OPTIONS: dict[str, dict[str, Any]] = {
    "augment": {"p": 0.5, "adaptive": True, "interval": 1, "ada_kimg": 0.1},
    "drs": {"steps": 5, "batch": 32, "width": 16, "calibration": 500},
}


@pytest.mark.parametrize("name", NAMES)
def test_builds_from_its_defaults(name):
    m = MITIGATIONS.build(name)
    assert isinstance(m, Mitigation)
    assert MITIGATIONS.resolve(name, {}) == MITIGATIONS.entry(name).defaults()


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_one_line_naming_it(name):
    with pytest.raises(ConfigError) as e:
        build_config({**POINTS, "mitigations": {name: {"no_such_option": 1}}})
    text = str(e.value)
    assert "\n" not in text and f"mitigations.{name}.no_such_option" in text, text


@pytest.mark.parametrize("name", NAMES)
def test_a_short_run_with_it_resumes_bit_identically(name, resumes_exactly):
    data = IMAGES if MITIGATIONS.entry(name).meta.get("data") == "images" else POINTS
    raw = {**data, **RUN, "mitigations": {name: RESUME_OPTIONS.get(name, {})}}
    run = resumes_exactly(raw, 4)
    assert run.step == 8 and name in run.cfg.model["mitigations"]
    if name == "augment":  # the controller's state moved, and it is in the checkpoint compared
        assert float(run.recipe.state_dict()["modules"]["augment"]["p"]) != 0.5
