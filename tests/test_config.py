"""Config parsing and validation against the registries."""

import pytest

from gankit.config import build_config, load_config, parse_overrides
from gankit.errors import ConfigError


def test_overrides_are_typed():
    raw = parse_overrides(["train.steps=10", "optim_g.lr=1e-4", "optim_g.betas=[0.5, 0.9]", "loss=fgan",
                           "loss.divergence=kl", "conditional=true"])
    assert raw == {"train": {"steps": 10}, "optim_g": {"lr": 1e-4, "betas": [0.5, 0.9]},
                   "loss": {"name": "fgan", "divergence": "kl"}, "conditional": True}
    assert parse_overrides(["loss.divergence=kl", "loss=fgan"])["loss"] == {"divergence": "kl", "name": "fgan"}


def test_defaults_are_resolved_from_signatures():
    cfg = load_config(overrides=["data.name=grid", "data.n=7"])
    assert cfg.data.options == {"n": 7, "spacing": 2.0, "sigma": 0.05}
    assert isinstance(cfg.optim_g.betas, tuple) and len(cfg.optim_g.betas) == 2


def test_switching_component_drops_old_options(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("data: {name: ring, modes: 4}\n")
    assert load_config(f).data.options["modes"] == 4
    cfg = load_config(f, ["data=grid"])  # the ring's options belong to the ring
    assert cfg.data.name == "grid" and "modes" not in cfg.data.options
    with pytest.raises(ConfigError, match="unknown option data.modes for dataset 'grid'"):
        load_config(overrides=["data.modes=4", "data=grid"])


def test_shorthand_name_with_path():
    cfg = load_config(overrides=["data=npz:/nonexistent/file.npz"])
    assert cfg.data.name == "npz" and cfg.data.options["path"] == "/nonexistent/file.npz"


def test_int_to_float_but_not_bool():
    assert build_config({"optim_d": {"lr": 1}}).optim_d.lr == 1.0
    with pytest.raises(ConfigError, match="expected a number"):
        build_config({"optim_d": {"lr": True}})


def test_roundtrip_through_dict():
    cfg = load_config(overrides=["loss=hinge", "train.ema=0.99", "data.modes=6"])
    again = build_config(cfg.to_dict())
    assert again.to_dict() == cfg.to_dict()
