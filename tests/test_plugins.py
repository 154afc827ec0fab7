"""Plug-ins: a user's module registers a data set and a loss; ``gankit --plugin FILE train``
records it in the run (path and SHA-256), and ``sample``, ``eval`` and ``resume`` reopen the
run in fresh processes when the plug-in is named again (tests/cli/test_hostile_trust.py: never
without); the ``plugins:`` key, module names on sys.path and the
``gankit.plugins`` entry points load the same way; every failure is one line naming it.

Registries are module-global: the reopening runs in subprocesses (a fresh registry), and
the in-process tests remove what their plug-ins registered (fixture ``clean``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from gankit import plugins
from gankit.components import registries
from gankit.config import build_config, load_config
from gankit.errors import CheckpointError, ConfigError

PLUGIN = textwrap.dedent('''
    """A user's components: a 2-D mixture and a scaled non-saturating loss."""
    import torch

    from gankit.data import DATASETS, GaussianMixture
    from gankit.losses import LOSSES
    from gankit.losses.base import Objective
    from gankit.losses.gan import discriminator_loss, non_saturating_generator_loss
    from gankit.registry import Positive

    NAME = "{name}"


    @DATASETS.register(NAME + "-mix")
    def tri_mixture(*, sigma: Positive = 0.05, scale: Positive = 1.0) -> GaussianMixture:
        """Three 2-D Gaussians at the corners of a triangle."""
        means = scale * torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 0.9]])
        return GaussianMixture(means, torch.tensor(sigma * scale), name=NAME + "-mix")


    @LOSSES.register(NAME + "-ns")
    def scaled_ns(*, scale: Positive = 1.0) -> Objective:
        """The non-saturating GAN with both losses scaled."""
        return Objective(NAME + "-ns", lambda r, f: scale * discriminator_loss(r, f),
                         lambda f, r: scale * non_saturating_generator_loss(f, r), probability_outputs=True)
''')

TINY = ["--set", "train.steps=20", "--set", "train.progress=false", "--set", "eval.num_samples=300",
        "--set", "generator.width=16", "--set", "discriminator.width=16", "--set", "train.batch_size=64",
        "--set", "train.checkpoint_every=0"]


def gankit(*argv: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """A fresh process: nothing registered but gankit's own components."""
    return subprocess.run([sys.executable, "-m", "gankit", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


@pytest.fixture
def clean():
    """Remove whatever the test's plug-ins registered or imported."""
    regs = list(registries().values())
    before = [set(r.names()) for r in regs]
    loaded, modules = dict(plugins._LOADED), set(sys.modules)
    yield
    for reg, names in zip(regs, before):
        for name in set(reg.names()) - names:
            del reg._entries[name]
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)
    for m in set(sys.modules) - modules:
        if m.startswith(("gankit_plugin_", "user_plugin_")):
            del sys.modules[m]
    plugins._REQUESTED.clear()


# --------------------------------------------------------------------------- a run that reopens itself

@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("plug")
    (base / "myplug.py").write_text(PLUGIN.format(name="sub"))
    proc = gankit("--plugin", "./myplug.py", "train", "--set", "data=sub-mix", "--set", "data.scale=3",
                  "--set", "loss=sub-ns", "--set", "loss.scale=0.5", "--set", "eval.metrics=[modes,energy]",
                  *TINY, "--out", "runs/p", cwd=base)
    assert proc.returncode == 0, proc.stderr
    run = base / "runs" / "p"
    return {"base": base, "run": run, "stdout": proc.stdout, "metrics": json.loads((run / "metrics.json").read_text())}


def test_the_run_records_the_plug_in_as_an_absolute_path(trained):
    path = str(trained["base"] / "myplug.py")
    cfg = yaml.safe_load((trained["run"] / "config.yaml").read_text())
    assert cfg["plugins"] == [path] and cfg["data"]["name"] == "sub-mix" and cfg["model"]["loss"] == {"name": "sub-ns", "scale": 0.5}
    state = torch.load(trained["run"] / "checkpoint.pt", weights_only=True)
    assert state["config"]["plugins"] == [path]
    assert trained["metrics"]["modes_total"] == 3.0  # the plug-in's mixture, with its 3 known modes
    assert not (trained["base"] / "__pycache__").exists()  # nothing written beside the user's file


def test_eval_sample_and_resume_reopen_the_run_with_the_plug_in_named_again(trained, tmp_path, clean):
    run, plug = str(trained["run"]), str(trained["base"] / "myplug.py")
    ev = gankit("--plugin", plug, "eval", run, cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    metrics = json.loads(ev.stdout.split("\n", 1)[1])
    for k in ("modes", "hq_percent", "energy", "energy_baseline"):  # the same seed: training's numbers again
        assert metrics[k] == pytest.approx(trained["metrics"][k], abs=1e-5), k
    a = gankit("--plugin", plug, "sample", run, "-n", "50", "--seed", "3", "--out", str(tmp_path / "a.npy"), cwd=tmp_path)
    assert a.returncode == 0, a.stderr
    xa = np.load(tmp_path / "a.npy")
    assert xa.shape == (50, 2) and np.isfinite(xa).all()
    from gankit.session.run import load_run

    # in this process too: load_run loads the recorded plug-in the user named before validating the config
    plugins.request([plug])
    np.testing.assert_array_equal(xa, load_run(run).recipe.generate(50, seed=3).numpy())
    res = gankit("--plugin", plug, "resume", run, "--steps", "25", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads((trained["run"] / "metrics.json").read_text())["step"] == 25
    assert yaml.safe_load((trained["run"] / "config.yaml").read_text())["plugins"] == [str(trained["base"] / "myplug.py")]


def test_a_run_whose_plug_in_is_gone_is_one_line(trained, tmp_path):
    moved = tmp_path / "run"
    import shutil

    shutil.copytree(trained["run"], moved)
    state = torch.load(moved / "checkpoint.pt", weights_only=True)
    state["config"]["plugins"] = [str(tmp_path / "gone.py")]
    torch.save(state, moved / "checkpoint.pt")
    with pytest.raises(CheckpointError) as e:
        from gankit.session.run import load_run

        load_run(moved)
    assert f"holds an invalid config: plug-in file {tmp_path / 'gone.py'} does not exist" in str(e.value)


# --------------------------------------------------------------------------- the ways in, in-process

def test_loading_is_idempotent_by_path_and_recorded_absolute(tmp_path, monkeypatch, clean):
    (tmp_path / "p.py").write_text(PLUGIN.format(name="idem"))
    monkeypatch.chdir(tmp_path)
    key = plugins.load("./p.py")
    assert key == str(tmp_path / "p.py")
    # again, by another spelling and through a config: executed once (twice would register twice)
    assert plugins.load(str(tmp_path / "p.py")) == key
    cfg = build_config({"plugins": ["p.py", str(tmp_path / "p.py")], "data": "idem-mix", "loss": "idem-ns"})
    assert cfg.plugins == [key] and cfg.to_dict()["plugins"] == [key]
    assert plugins.loaded().count(key) == 1


def test_the_config_key_and_the_cli_flag_both_record(tmp_path, monkeypatch, clean):
    (tmp_path / "a.py").write_text(PLUGIN.format(name="keya"))
    (tmp_path / "b.py").write_text(PLUGIN.format(name="keyb"))
    monkeypatch.chdir(tmp_path)
    cfg = load_config(overrides=["plugins=[a.py]", "data=keya-mix"])
    assert cfg.plugins == [str(tmp_path / "a.py")] and cfg.data.name == "keya-mix"
    plugins.request(["b.py"])  # what `gankit --plugin b.py train ...` does first
    cfg = load_config(overrides=["plugins=[a.py]", "data=keyb-mix", "loss=keya-ns"])
    assert cfg.plugins == [str(tmp_path / "a.py"), str(tmp_path / "b.py")]


def test_a_module_name_on_sys_path(tmp_path, monkeypatch, clean):
    (tmp_path / "user_plugin_mod.py").write_text(PLUGIN.format(name="mod"))
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = build_config({"plugins": "user_plugin_mod", "data": {"name": "mod-mix", "sigma": 0.2}})
    assert cfg.plugins == ["user_plugin_mod"] and cfg.data.options == {"sigma": 0.2, "scale": 1.0}


@pytest.mark.parametrize("content, spec, message", [
    (None, "{tmp}/none.py", "plug-in file {tmp}/none.py does not exist"),
    ("x = 1\n", "{tmp}/p.txt", "plug-in file {tmp}/p.txt must be a Python file ending in .py"),
    (None, "no_such_gankit_plugin", "plug-in 'no_such_gankit_plugin' not found: no module 'no_such_gankit_plugin' on sys.path"),
    ("raise RuntimeError('bad weather')\n", "{tmp}/p.py", "plug-in file {tmp}/p.py failed to load: RuntimeError: bad weather"),
    ("def f(:\n", "{tmp}/p.py", "plug-in file {tmp}/p.py (line 1) failed to load: SyntaxError"),
    ("import no_such_dependency_zz\n", "{tmp}/p.py", "failed to load: ModuleNotFoundError: No module named 'no_such_dependency_zz'"),
    ("from gankit.data import DATASETS\nDATASETS.register('ring')(lambda: None)\n", "{tmp}/p.py",
     "failed to load: ValueError: dataset 'ring' registered twice"),
    (None, "", "a plug-in is a module name or a path to a .py file, got ''"),
])
def test_a_plug_in_that_cannot_load_is_one_line_naming_it(tmp_path, content, spec, message, clean):
    if content is not None:
        (tmp_path / Path(spec.format(tmp=tmp_path)).name).write_text(content)
    with pytest.raises(ConfigError) as e:
        build_config({"plugins": [spec.format(tmp=tmp_path)]})
    assert message.format(tmp=tmp_path) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "__pycache__").exists()


def test_a_module_in_the_current_directory_is_pointed_to(tmp_path, monkeypatch, clean):
    (tmp_path / "here_plugin_zz.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"to load the file in this directory, pass \./here_plugin_zz\.py"):
        plugins.load("here_plugin_zz")


def test_plugins_must_be_a_list_of_names():
    with pytest.raises(ConfigError, match="plugins: expected a list, got 5"):
        build_config({"plugins": 5})
    with pytest.raises(ConfigError, match="plugins: expected a string, got 3"):
        build_config({"plugins": ["a.py", 3]})


# --------------------------------------------------------------------------- entry points

def _dist(root: Path, value: str, module: str) -> None:
    info = root / "userpkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: userpkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gankit.plugins]\nuserpkg = {value}\n")
    (root / "userpkg_gankit.py").write_text(module)


def test_an_installed_entry_point_is_loaded_in_every_process(tmp_path):
    body = PLUGIN.format(name="ep") + "\nCALLS = []\n\ndef register():\n    CALLS.append(1)\n" \
        "    from gankit.metrics import METRICS\n\n    @METRICS.register('ep-count')\n" \
        "    def count(ctx):\n        return {'count': float(ctx.num_samples)}\n"
    _dist(tmp_path, "userpkg_gankit:register", body)
    env = {"PYTHONPATH": str(tmp_path)}
    ls = gankit("list", cwd=tmp_path, env=env)
    assert ls.returncode == 0, ls.stderr
    assert "ep-mix" in ls.stdout and "ep-count" in ls.stdout  # the module imported, the callable ran
    run = gankit("train", "--set", "data=ep-mix", "--set", "eval.metrics=[ep-count]", *TINY, "--out", "r",
                 cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["count"] == 300.0
    assert yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())["plugins"] == []  # installed: not recorded


def test_a_broken_entry_point_is_one_line(tmp_path):
    _dist(tmp_path, "userpkg_gankit", "raise ImportError('half installed')\n")
    proc = gankit("list", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr == ("gankit: error: plug-in entry point 'userpkg' (userpkg_gankit) failed to load: "
                           "ImportError: half installed\n")
