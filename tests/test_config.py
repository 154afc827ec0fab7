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


# --------------------------------------------------------------------------- ranges and finiteness

from typing import Annotated, Literal  # noqa: E402

from gankit.config import check_config  # noqa: E402
from gankit.registry import Bounds, Count, Fraction, Positive, coerce  # noqa: E402


@pytest.mark.parametrize("value, hint, message", [
    (float("nan"), float, "x: expected a finite number, got nan"),
    (float("inf"), float, "x: expected a finite number, got inf"),
    (0, Count, "x must be >= 1, got 0"),
    (0.0, Positive, "x must be > 0, got 0"),
    (1.0, Fraction, "x must be in [0, 1), got 1"),
    (2**63, int, "x: expected an integer of at most 64 bits"),
    (0, Count | None, "x must be >= 1, got 0"),            # Optional: the arm's own message
    ([0], int | list[Count], "x must be >= 1, got 0"),     # a range error wins over "expected X | Y"
    ("a", int | list[Count], "x: expected int | list[int], got 'a'"),
    (True, Literal[1, 3], "x: expected one of 1, 3, got True"),
    ("a\0b", str, "x: a string with a NUL character is not allowed"),
])
def test_coerce_refuses(value, hint, message):
    with pytest.raises(ConfigError) as e:
        coerce(value, hint, "x")
    assert str(e.value).startswith(message), str(e.value)


def test_coerce_allows_inf_only_when_bounds_say_so():
    assert coerce(float("inf"), Annotated[float, Bounds(gt=0, inf=True)], "x") == float("inf")
    with pytest.raises(ConfigError, match="finite"):
        coerce(float("nan"), Annotated[float, Bounds(inf=True)], "x")
    assert coerce(3.0, Literal[1, 3], "x") == 3 and isinstance(coerce(3.0, Literal[1, 3], "x"), int)
    assert coerce(1e3, Count, "x") == 1000 and isinstance(coerce(1e3, Count, "x"), int)


def test_a_config_changed_in_python_is_checked_again():
    cfg = load_config(overrides=["train.steps=10"])
    cfg.train.steps = 0
    with pytest.raises(ConfigError, match="train.steps must be >= 1, got 0"):
        check_config(cfg)
    cfg = load_config()
    cfg.model["generator"].options["width"] = -3
    with pytest.raises(ConfigError, match="generator.width must be >= 1, got -3"):
        check_config(cfg)


def test_short_forms_in_files_take_dotted_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("loss: fgan\nmitigations: [pack]\n")
    cfg = load_config(f, ["loss.divergence=kl", "mitigations.pack.m=4"])
    assert cfg.model["loss"].name == "fgan" and cfg.model["loss"].options["divergence"] == "kl"
    assert cfg.model["mitigations"] == {"pack": {"m": 4}}
    f.write_text("train: 5\n")
    with pytest.raises(ConfigError, match="train must be a mapping, got 5"):
        load_config(f, ["train.steps=5"])


@pytest.mark.parametrize("name", ["../x", "a/b", ".", "..", ""])
def test_run_names_are_plain(name):
    with pytest.raises(ConfigError, match="name must be a plain directory name"):
        build_config({"name": name})
