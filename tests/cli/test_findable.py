"""A user can find what to run: config layers and ``--dry-run``, ``gankit list`` of every key,
presets that say what they train and reach, ``--help`` with examples, class names for
``--class`` and grids laid out near-square."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import types

import pytest
import yaml
from PIL import Image

from gankit.cli.main import build_parser, main
from gankit.config import (Config, EvalConfig, OptimConfig, TrainConfig, build_config, load_config,
                           load_preset, merge, preset_info, preset_names, resolve_config, section_options)
from gankit.errors import ConfigError


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # --help
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# ------------------------------------------------------------------------------ layers, --dry-run

def test_layers_default_preset_file_set(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("train: {d_steps: 3, steps: 700}\noptim_d: {lr: 0.003}\nprior: normal\n")
    cfg, src = resolve_config(str(f), ["train.steps=40"], preset="wgan-gp")
    # each layer overrides the ones below it, key by key
    assert cfg.data.name == "ring" and src["data.name"] == "base"
    assert cfg.model["generator"].options["width"] == 128 and src["model.generator.width"] == "base"
    assert cfg.model["loss"].name == "wgan" and src["model.loss.name"] == "preset wgan-gp"
    assert cfg.optim_g.lr == 1e-4 and src["optim_g.lr"] == "preset wgan-gp"
    assert cfg.optim_d.lr == 0.003 and src["optim_d.lr"] == f"file {f}"
    assert cfg.train.d_steps == 3 and src["train.d_steps"] == f"file {f}"
    assert cfg.train.steps == 40 and src["train.steps"] == "--set"
    assert cfg.train.batch_size == 256 and src["train.batch_size"] == "built-in default"
    # switching the prior's name dropped base's mog options (they belonged to mog)
    assert cfg.model["prior"].name == "normal" and cfg.model["prior"].options == {} and "model.prior.components" not in src
    # load_config is the same resolution
    assert load_config(str(f), ["train.steps=40"], preset="wgan-gp").to_dict() == cfg.to_dict()


def test_the_default_run_is_the_default_preset_on_base_and_other_presets_skip_it():
    cfg, src = resolve_config()
    assert cfg.model["prior"].name == "categorical" and src["model.prior.name"] == "default"
    assert "drs" in cfg.model["mitigations"] and src["model.mitigations.drs.steps"] == "built-in default"
    assert cfg.data.name == "ring" and src["data.name"] == "base"
    for preset in ("default", None):
        assert resolve_config(preset=preset)[0].to_dict() == cfg.to_dict()
    wgan, wsrc = resolve_config(preset="wgan-gp")   # a named preset layers on base alone
    assert wgan.model["prior"].name == "mog" and wsrc["model.prior.name"] == "base" and wgan.model["mitigations"] == {}
    assert resolve_config(preset="base")[0].model["prior"].name == "mog"


def test_a_config_file_layers_on_the_default(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("loss: hinge\n")
    cfg = load_config(str(f))
    default = load_config()
    assert cfg.model["loss"].name == "hinge"
    assert (cfg.model["prior"].to_dict(), cfg.train.steps, cfg.optim_g.lr) == \
        (default.model["prior"].to_dict(), default.train.steps, default.optim_g.lr)


def test_dry_run_prints_the_resolved_config_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "train", "--dry-run", "--preset", "wgan-gp", "--set", "train.steps=7")
    assert code == 0 and err == "" and list(tmp_path.iterdir()) == []
    lines = out.splitlines()
    assert lines[0] == "# resolved config: base < preset wgan-gp < --set (then built-in defaults)"
    printed = {}
    for line in lines[1:]:
        text, _, source = line.rpartition("# ")
        key, _, value = text.partition(": ")
        printed[key] = (yaml.safe_load(value), source)
    cfg, src = resolve_config(None, ["train.steps=7"], preset="wgan-gp")
    # every key, its value as the run will have it (read back as YAML), and its layer
    assert {k: v for k, (v, _) in printed.items()} == {k: (list(v) if isinstance(v, tuple) else v)
                                                        for k, v in _flat(cfg.to_dict()).items()}
    assert {k: s for k, (_, s) in printed.items()} == src
    assert printed["train.steps"] == (7, "--set") and printed["model.penalty.weight"] == (10.0, "preset wgan-gp")


def test_dry_run_bad_input_is_one_line(capsys):
    code, out, err = run(capsys, "train", "--dry-run", "--set", "train.stepz=1")
    assert code == 2 and out == "" and err.count("\n") == 1 and "unknown config key train.stepz" in err


# ----------------------------------------------------------------------------------- gankit list

SECTIONS = [("train", TrainConfig, "train."), ("eval", EvalConfig, "eval."),
            ("config", Config, "")]


@pytest.mark.parametrize("cls", [Config, TrainConfig, OptimConfig, EvalConfig])
def test_every_config_field_has_its_meaning(cls):
    assert all(f.metadata.get("help") for f in dataclasses.fields(cls)), cls


@pytest.mark.parametrize("kind, cls, prefix", SECTIONS)
def test_list_section_shows_every_key_type_default_meaning(kind, cls, prefix, capsys):
    code, out, _ = run(capsys, "list", kind)
    assert code == 0
    for o in section_options(cls, prefix):
        if o.type == "section":
            assert f"  {o.key}: a section\n      {o.help}\n" in out
            continue
        shown = o.default if isinstance(o.default, str) else yaml.safe_dump(
            list(o.default) if isinstance(o.default, tuple) else o.default, default_flow_style=True).strip()
        line = next(line for line in out.splitlines() if line.startswith(f"  {o.key}: "))
        assert line.startswith(f"  {o.key}: {o.type} = ") and o.help in out, o.key
        assert yaml.safe_load(line.split(" = ", 1)[1].split(" (the default preset")[0]) == yaml.safe_load(shown)


def test_list_train_states_the_ranges_validation_uses(capsys):
    _, out, _ = run(capsys, "list", "train")
    assert "  train.steps: int >= 1 = 3000 (the default preset: 5000)" in out
    assert "  train.ema: float in [0, 1) = 0.0" in out
    with pytest.raises(ConfigError, match="train.ema must be in \\[0, 1\\)"):
        load_config(overrides=["train.ema=1"])


def test_list_optim_shows_both_optimisers(capsys):
    _, out, _ = run(capsys, "list", "optim")
    assert "  optim_g.lr / optim_d.lr: float > 0 = 0.0002 (the default preset: optim_g 0.001, optim_d 0.002)" in out


def test_list_does_not_cut_descriptions(capsys):
    from gankit.networks import GENERATORS

    _, out, _ = run(capsys, "list", "generators")
    doc = inspect.getdoc(GENERATORS.entry("dcgan").factory)
    assert " ".join(doc.split("\n\n")[0].split()) in out  # the whole first paragraph, not its first line
    assert "      generator.virtual_bn: int >= 0 = 0  (virtual batch norm on a fixed reference batch of N " \
           "(Salimans et al. 2016))" in out


def test_list_everything_and_unknown_kind(capsys):
    from gankit.cli.inspect import kinds

    code, out, _ = run(capsys, "list")
    assert code == 0
    for kind in kinds():
        assert f"\n{kind}:" in f"\n{out}" or f"\n{kind} (" in f"\n{out}", kind
    code, _, err = run(capsys, "list", "gizmos")
    assert code == 2 and err.count("\n") == 1 and "presets, benchmarks" in err


# -------------------------------------------------------------------------------------- presets

IMAGE_AND_AAE = ["aae-digits", "aae-digits-supervised", "cdcgan-fashion-mnist", "dcgan-digits",
                 "dcgan-fashion-mnist", "dcgan-stacked-mnist", "r3gan-stacked-mnist"]


@pytest.mark.parametrize("name", IMAGE_AND_AAE)
def test_image_and_aae_presets_are_complete_recipes(name):
    """Nothing of the default ring run below them (its mixture prior, its widths, its
    standardised points, its schedule) leaks into an image or AAE preset: layered on the
    default it resolves exactly as alone."""
    alone = build_config(load_preset(name)).to_dict()
    assert load_config(preset=name).to_dict() == alone
    assert alone["train"]["standardize"] is False


@pytest.mark.needs_fashion_mnist
def test_the_image_preset_is_the_bench_images_recipe():
    from gankit.bench import images

    options = {k: p.default for k, p in inspect.signature(images.images).parameters.items()}
    bench = _flat(images._config("cdcgan", options).to_dict())
    preset = _flat(load_config(preset="cdcgan-fashion-mnist").to_dict())
    differ = {k for k in bench.keys() | preset.keys() if bench.get(k) != preset.get(k)}
    assert differ == {"name", "train.checkpoint_every"}  # the bench names its run and skips checkpoints


def test_the_r3gan_stacked_preset_is_the_stacked_bench_rpgan_method_at_width_32(tmp_path):
    from gankit.bench import load_all
    from gankit.bench.stacked import run_config

    bench = _flat(run_config("rpgan-r1r2", 0, base="mnist5k", size=32, steps=8433, eval_samples=26000, num=60000,
                             width=32).to_dict())
    preset = _flat(load_config(preset="r3gan-stacked-mnist").to_dict())
    differ = {k for k in bench.keys() | preset.keys() if bench.get(k) != preset.get(k)}
    assert differ == {"name", "device"}  # the bench names its runs and trains on the CPU
    assert preset["model.generator.width"] == preset["model.discriminator.width"] == 32
    with pytest.raises(ConfigError, match="width >= 0"):
        load_all().get("stacked")(width=-1, out=str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("name", [n for n in preset_names() if n != "default"])
def test_every_preset_says_what_it_trains_and_reaches(name):
    from importlib import resources

    text = (resources.files("gankit") / "presets" / f"{name}.yaml").read_text()
    assert "\n# trains: " in text and "\n# measured: " in text, name
    info = preset_info(name)
    assert info.trains and info.measured


def test_list_presets(capsys):
    code, out, _ = run(capsys, "list", "presets")
    assert code == 0
    for name in preset_names():
        info = preset_info(name)
        assert f"  {name}\n      trains:   {info.trains}\n      measured: {info.measured}\n" in out


SMALL = ["train.steps=3", "train.progress=false", "train.checkpoint_every=0", "eval.num_samples=64",
         "train.sample_every=0"]


@pytest.mark.parametrize("name", ["dcgan-digits", "aae-digits", "aae-digits-supervised", "wgan-gp", "wgan-clip",
                                  "cdcgan-fashion-mnist"])
def test_presets_train(name, tmp_path):
    from gankit.session import train

    extra = []
    if "fashion-mnist" in name:
        from gankit.data.fetch import locate
        from gankit.errors import DataError

        try:
            locate("fashion-mnist", "train")
        except DataError:
            pytest.skip("Debian's dataset-fashion-mnist is not installed")
        extra = ["eval.metrics=[twosample]"]  # FID and cond. accuracy would train the classifier first
    if name.startswith("dcgan"):
        extra = ["eval.metrics=[twosample]"]
    run = train(load_config(preset=name, overrides=SMALL + extra), run_dir=tmp_path / name)
    assert run.step == 3 and run.metrics["step"] == 3 and len(run.metrics) > 2  # trained, then evaluated


# ------------------------------------------------------------------------------------- --help

def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# Sub-commands whose modules (cli/aae.py, cli/experiment.py, cli/report.py) give no examples yet.
HELP_PENDING: set[str] = set()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="no examples yet"))
                                  if n in HELP_PENDING else n for n in sorted(_subcommands())])
def test_every_subcommand_help_names_its_options_and_three_examples(name):
    parser = _subcommands()[name]
    text = parser.format_help()
    if name == "data":  # its actions have their own parsers
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        text += "".join(p.format_help() for p in action.choices.values())
    for action in parser._actions:
        for flag in action.option_strings:
            assert flag in text, (name, flag)
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            assert (action.metavar or action.dest) in text and action.help, (name, action.dest)
    examples = text.split("examples:", 1)
    assert len(examples) == 2, f"gankit {name} --help has no examples"
    assert sum(1 for line in examples[1].splitlines() if line.strip().startswith(("gankit ", "torchrun "))) >= 3


def test_gankit_help_lists_every_benchmark(capsys):
    from gankit.bench import load_all

    code, out, _ = run(capsys, "--help")
    flat = " ".join(out.split())
    assert all(name in flat for name in load_all().names()) and "stacked" in flat


@pytest.mark.parametrize("bench", ["modes", "speed", "images", "objectives", "stacked"])
def test_bench_help_shows_every_option(bench, capsys):
    from gankit.bench import load_all

    code, out, err = run(capsys, "bench", bench, "--help")
    assert code == 0 and err == ""
    entry = load_all().entry(bench)
    for option in entry.options():
        assert f"\n  {option}: " in out, option
    code, _, err = run(capsys, "bench", "nope", "--help")
    assert code == 2 and "unknown benchmark 'nope'" in err and err.count("\n") == 1


# ------------------------------------------------------------------------ --class names, grids

def test_class_label_takes_indices_and_names():
    from gankit.cli.inspect import class_label

    data = types.SimpleNamespace(class_names=["T-shirt/top", "Trouser", "Pullover", "Dress"])
    assert class_label("Dress", data, 4) == 3 and class_label("dRESS", data, 4) == 3
    assert class_label("t-shirt/top", data, 4) == 0 and class_label("2", data, 4) == 2
    assert class_label(None, data, 4) is None
    with pytest.raises(ConfigError, match=r"--class 'Dres' is not a class index or name; classes: T-shirt/top, "):
        class_label("Dres", data, 4)
    with pytest.raises(ConfigError, match=r"--class must be in 0..3, got 4"):
        class_label("4", data, 4)
    with pytest.raises(ConfigError, match="needs a conditional run"):
        class_label("Dress", data, 0)


@pytest.mark.parametrize("n, classes, columns", [(64, 0, 8), (100, 0, 10), (65, 0, 9), (1, 0, 1), (7, 0, 3),
                                                 (64, 10, 10)])
def test_grid_columns(n, classes, columns):
    from gankit.cli.inspect import grid_columns

    assert grid_columns(n, classes) == columns


def test_sample_class_grid_is_near_square(tmp_path, capsys):
    from gankit.session import Run

    cfg = build_config({"data": {"name": "digits"}, "conditional": True, "latent_dim": 8, "device": "cpu",
                        "generator": {"name": "dcgan", "width": 8}, "discriminator": {"name": "dcgan", "width": 8}})
    run_dir = tmp_path / "cond"
    run_dir.mkdir()
    Run(cfg, run_dir).save_checkpoint()
    out = tmp_path / "threes.png"
    code, _, err = run(capsys, "sample", str(run_dir), "-n", "64", "--class", "3", "--out", str(out))
    assert code == 0, err
    # 8 x 8 digits of 8 px with 2 px gaps, upscaled 4x (gankit.plotting.grid)
    assert Image.open(out).size == ((8 * 10 + 2) * 4, (8 * 10 + 2) * 4)
    sevens = tmp_path / "sevens.png"
    code, _, err = run(capsys, "sample", str(run_dir), "-n", "4", "--class", "seven", "--out", str(sevens))
    assert code == 2 and err.count("\n") == 1 and "classes: 0, 1, 2" in err
    assert os.path.getsize(out) > 0 and not sevens.exists()
