"""Run directories are named after what ran: model, objective (and penalty), data."""

import pytest

from gankit.config import load_config
from gankit.session.rundir import new_run_dir, run_name


@pytest.mark.parametrize("preset, overrides, name", [
    (None, [], "gan-ns-r1-ring"),           # the default run's R1 penalty is part of its name
    ("base", [], "gan-ns-ring"),
    ("wgan-gp", [], "gan-wgan-gp-ring"),
    (None, ["loss=fgan", "loss.divergence=reverse-kl"], "gan-fgan-reverse-kl-r1-ring"),
    ("dcgan-digits", [], "dcgan-ns-digits"),
    ("dcgan-digits", ["conditional=true"], "cdcgan-ns-digits"),
    ("aae-digits", [], "aae-ns-digits"),
    (None, ["data=grid", "loss=hinge", "penalty=none"], "gan-hinge-grid"),
])
def test_run_names_say_what_ran(preset, overrides, name):
    cfg = load_config(None, overrides, preset=preset)
    assert run_name(cfg) == name
    assert new_run_dir(cfg).name.startswith(name + "-20")  # then the time stamp


def test_a_given_name_is_kept(tmp_path):
    cfg = load_config(None, ["name=mine", f"out_dir={tmp_path}"])
    assert new_run_dir(cfg) == tmp_path / "mine"
