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


# ------------------------------------------------------------- the recipe owns its options

def test_a_key_the_recipe_does_not_take_is_an_error_naming_the_recipe_and_its_keys():
    with pytest.raises(ConfigError) as e:
        load_config(overrides=["model=pix2pix", "data=pair-task", "generator.width=512"])
    text = str(e.value)
    assert text.startswith("unknown option model.generator for model 'pix2pix' (options: l1, gan, net, width,")
    with pytest.raises(ConfigError, match="unknown option model.encoder for model 'gan'"):
        build_config({"encoder": {"name": "mlp"}})


def test_top_level_spellings_are_lifted_into_the_recipe_section(tmp_path):
    old = tmp_path / "old.yaml"  # a config file written before the recipe's keys moved into model
    old.write_text("model: aae\ndata: {name: digits, size: 8}\nlatent_dim: 3\nprior: {name: mog, components: 10}\n"
                   "aae: {supervised: true}\nloss: lsgan\n")
    cfg = load_config(old)
    m = cfg.model
    assert (m.name, m["latent_dim"], m["prior"].name, m["prior"]["components"], m["supervised"], m["loss"].name) \
        == ("aae", 3, "mog", 10, True, "lsgan")
    assert m["adversarial"] is True and "conditional" not in m.options  # the AAE takes no conditional
    new = tmp_path / "new.yaml"
    new.write_text("model: {name: aae, latent_dim: 3, prior: {name: mog, components: 10}, supervised: true, "
                   "loss: lsgan}\ndata: {name: digits, size: 8}\n")
    assert load_config(new).to_dict() == cfg.to_dict()


def test_a_later_layer_wins_in_either_spelling(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("model: {loss: hinge, conditional: false}\n")
    cfg = load_config(f, overrides=["loss=wgan", "penalty=gp"])
    assert (cfg.model["loss"].name, cfg.model["penalty"].name) == ("wgan", "gp")
    f.write_text("loss: hinge\n")
    assert load_config(f, overrides=["model.loss=lsgan"]).model["loss"].name == "lsgan"


def test_switching_the_recipe_keeps_the_options_below_it_that_the_new_one_takes():
    # base sets the GAN's networks and its mixture prior: an AAE takes them too, pix2pix none
    aae = load_config(overrides=["model=aae", "data=digits"])
    assert (aae.model["prior"].name, aae.model["prior"]["components"], aae.model["generator"]["width"]) == ("mog", 8, 128)
    assert aae.model["encoder"]["width"] == 256  # the AAE's own option keeps its own default
    pix = load_config(overrides=["model=pix2pix", "data=pair-task"])
    assert set(pix.model.options) & {"generator", "prior", "latent_dim"} == set() and pix.model["loss"].name == "ns"
    gan = load_config(overrides=["model=gan"])  # naming the recipe it already is keeps everything
    assert gan.model["generator"]["width"] == 128 and gan.model["prior"].name == "categorical"


def test_a_recorded_config_of_an_earlier_gankit_opens_without_the_keys_its_recipe_does_not_take():
    from gankit.config import recorded_keys

    old = {"model": {"name": "gan"}, "conditional": False, "latent_dim": 4, "data": {"name": "ring"},
           "generator": {"name": "mlp", "width": 16}, "encoder": {"name": "mlp", "width": 8},
           "aae": {"adversarial": True, "supervised": False}, "loss": {"name": "ns", "smoothing": 0.0}}
    cfg = build_config(recorded_keys(old))
    assert cfg.model["latent_dim"] == 4 and cfg.model["generator"]["width"] == 16
    assert not {"encoder", "adversarial", "supervised"} & set(cfg.model.options)
    with pytest.raises(ConfigError, match="model.encoder"):  # the same keys written today are an error
        build_config({"model": {"name": "gan", "encoder": {"name": "mlp"}}})


def test_a_moved_key_set_in_python_says_where_it_lives_now():
    cfg = load_config()
    with pytest.raises(AttributeError, match=r"a recipe option now: cfg.model.options\['loss'\]"):
        cfg.loss = "wgan"


def test_a_config_is_checked_once_unless_it_changes():
    from gankit.config import is_checked

    cfg = load_config(overrides=["train.steps=10"])
    assert is_checked(cfg)
    cfg.train.steps = 0  # changed in Python: checked again, and refused
    assert not is_checked(cfg)
    with pytest.raises(ConfigError, match="train.steps must be >= 1, got 0"):
        check_config(cfg)


def test_a_key_given_both_ways_in_one_mapping_is_an_error():
    with pytest.raises(ConfigError, match=r"^loss is set twice, at the top level and as model.loss; set it once$"):
        build_config({"loss": "wgan", "model": {"name": "gan", "loss": "ns"}})
