"""A run directory is data, never code. A run someone sent, whose checkpoint names a plug-in
shipped inside it, opens under ``gankit eval``, ``sample``, ``resume`` and ``judge`` only to
a one-line refusal (exit 2) that names the plug-in and how to allow it, and the plug-in is
not imported (it would write a marker file). A plug-in runs when the user names it again
(``--plugin``) or says ``--trust-plugins``, and then only with the SHA-256 the run recorded.
A plug-in that calls ``sys.exit(0)`` or raises ``KeyboardInterrupt`` while imported is one
line, exit 2.

Every command runs in a fresh process (``python -m gankit``): a plug-in registers into
module-global registries, and the exit status is the entry point's own."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

# Registers the data set the run trains on, and leaves a marker beside itself when imported.
PLUGIN = textwrap.dedent('''
    from pathlib import Path

    import torch

    from gankit.data import DATASETS, GaussianMixture

    Path(__file__).with_suffix(".ran").write_text("imported")


    @DATASETS.register("trust-mix")
    def trust_mix(*, sigma: float = 0.05) -> GaussianMixture:
        """Two 2-D Gaussians."""
        return GaussianMixture(torch.tensor([[0.0, 0.0], [1.0, 0.0]]), torch.tensor(sigma), name="trust-mix")
''')

TINY = ["--set", "data=trust-mix", "--set", "train.steps=5", "--set", "train.progress=false",
        "--set", "eval.num_samples=100", "--set", "generator.width=8", "--set", "discriminator.width=8",
        "--set", "train.checkpoint_every=0", "--set", "eval.metrics=[energy]"]


def gankit(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gankit", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The single stderr line of a command that failed as a user error should."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("gankit: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A run trained with the user's own plug-in ``mine/plug.py``."""
    base = tmp_path_factory.mktemp("trust")
    (base / "mine").mkdir()
    plug = base / "mine" / "plug.py"
    plug.write_text(PLUGIN)
    proc = gankit("--plugin", "mine/plug.py", "train", *TINY, "--out", "runs/mine", cwd=base)
    assert proc.returncode == 0, proc.stderr
    plug.with_suffix(".ran").unlink()
    return {"base": base, "plug": plug, "run": base / "runs" / "mine"}


def rewrite(run: Path, plugins: list[str], hashes: dict[str, str] | None) -> None:
    """Set the checkpoint's recorded plug-ins (and hashes; None: none recorded, as before)."""
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["config"]["plugins"] = plugins
    state["config"].pop("plugin_hashes", None)
    if hashes is not None:
        state["config"]["plugin_hashes"] = hashes
    torch.save(state, run / "checkpoint.pt")


@pytest.fixture
def shipped(trained, tmp_path) -> dict:
    """A run directory someone sent: ``runs/someone`` holding its own ``evil.py``, recorded by
    absolute path with its correct SHA-256 (whoever writes the checkpoint can compute it)."""
    run = tmp_path / "runs" / "someone"
    shutil.copytree(trained["run"], run)
    evil = run / "evil.py"
    evil.write_text(PLUGIN)
    rewrite(run, [str(evil)], {str(evil): sha256(evil)})
    return {"cwd": tmp_path, "run": run, "evil": evil, "marker": evil.with_suffix(".ran")}


COMMANDS = {
    "eval": ["eval", "{run}"],
    "sample": ["sample", "{run}", "-n", "10", "--out", "{cwd}/s.npy"],
    "resume": ["resume", "{run}", "--steps", "7"],
    "judge": ["judge", "{run}", "--score", "--pool", "100", "--n", "4"],
}


def command(name: str, run: Path, cwd: Path) -> list[str]:
    return [a.format(run=run, cwd=cwd) for a in COMMANDS[name]]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_plug_in_shipped_in_a_run_directory_is_not_imported(shipped, name):
    before = sha256(shipped["run"] / "checkpoint.pt")
    proc = gankit(*command(name, Path("runs/someone"), shipped["cwd"]), cwd=shipped["cwd"])
    line = one_line_error(proc)
    assert not shipped["marker"].exists()
    evil = str(shipped["evil"])
    assert (f"runs/someone names plug-in {evil}, which would run its code: not loaded; if you trust it, name it "
            f"again: gankit --plugin {evil} COMMAND ... (or gankit --trust-plugins COMMAND ...)") in line
    assert sha256(shipped["run"] / "checkpoint.pt") == before  # nothing written (resume trained nothing)
    assert not (shipped["cwd"] / "s.npy").exists()


def test_a_relative_path_is_never_resolved_from_the_current_directory(shipped):
    rewrite(shipped["run"], ["runs/someone/evil.py"], None)
    line = one_line_error(gankit("--trust-plugins", "eval", "runs/someone", cwd=shipped["cwd"]))
    assert "names plug-in 'runs/someone/evil.py' by a relative path" in line
    assert not shipped["marker"].exists()


def test_naming_the_plug_in_again_opens_the_run(trained, tmp_path):
    proc = gankit("--plugin", str(trained["plug"]), "eval", str(trained["run"]), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"run {trained['run']} at step 5")
    trained["plug"].with_suffix(".ran").unlink()


def test_trust_plugins_loads_a_plug_in_whose_hash_matches(shipped):
    out = shipped["cwd"] / "s.npy"
    proc = gankit("--trust-plugins", *command("sample", shipped["run"], shipped["cwd"]), cwd=shipped["cwd"])
    assert proc.returncode == 0, proc.stderr
    assert shipped["marker"].read_text() == "imported" and out.is_file()


def test_a_changed_plug_in_is_refused(shipped):
    recorded = sha256(shipped["evil"])
    shipped["evil"].write_text(PLUGIN + "\nprint('changed')\n")
    now = sha256(shipped["evil"])
    line = one_line_error(gankit("--trust-plugins", "eval", str(shipped["run"]), cwd=shipped["cwd"]))
    assert (f"plug-in {shipped['evil']} is not the one the run was trained with "
            f"(SHA-256 {recorded[:12]}... recorded, {now[:12]}... now); not loaded") in line
    assert not shipped["marker"].exists()  # the hash is checked before anything runs
    # named on the command line, it runs (the user asked for it), but the run does not open with it
    line = one_line_error(gankit("--plugin", str(shipped["evil"]), "eval", str(shipped["run"]), cwd=shipped["cwd"]))
    assert f"plug-in {shipped['evil']} is not the one the run was trained with" in line


def test_a_run_from_before_hashes_opens_with_the_plug_in_named(shipped):
    rewrite(shipped["run"], [str(shipped["evil"])], None)
    line = one_line_error(gankit("--trust-plugins", "eval", str(shipped["run"]), cwd=shipped["cwd"]))
    assert f"records no content hash for plug-in {shipped['evil']}" in line and "pass --plugin" in line
    assert not shipped["marker"].exists()
    proc = gankit("--plugin", str(shipped["evil"]), "eval", str(shipped["run"]), cwd=shipped["cwd"])
    assert proc.returncode == 0, proc.stderr


def test_a_recorded_module_name_needs_permission_too(shipped):
    """``python -m gankit`` puts the current directory on sys.path: a module shipped in the run
    directory, opened from inside it, would be importable by name."""
    mod = shipped["run"] / "trust_mod.py"
    mod.write_text(PLUGIN)
    rewrite(shipped["run"], ["trust_mod"], {"trust_mod": sha256(mod)})
    line = one_line_error(gankit("eval", ".", cwd=shipped["run"]))
    assert "names plug-in trust_mod, which would run its code: not loaded" in line
    assert not mod.with_suffix(".ran").exists()
    proc = gankit("--trust-plugins", "eval", ".", cwd=shipped["run"])
    assert proc.returncode == 0, proc.stderr
    assert mod.with_suffix(".ran").exists()


def test_the_run_records_the_hash_of_the_code_it_ran(trained):
    cfg = yaml.safe_load((trained["run"] / "config.yaml").read_text())
    assert cfg["plugin_hashes"] == {str(trained["plug"]): sha256(trained["plug"])}
    state = torch.load(trained["run"] / "checkpoint.pt", weights_only=True)
    assert state["config"]["plugin_hashes"] == cfg["plugin_hashes"]


@pytest.mark.parametrize("body, says", [
    ("import sys\nsys.exit(0)\n", "failed to load: it called sys.exit(0) while being imported"),
    ("raise KeyboardInterrupt\n", "failed to load: KeyboardInterrupt"),
])
def test_a_plug_in_that_exits_or_is_interrupted_is_one_line(tmp_path, body, says):
    (tmp_path / "p.py").write_text(body)
    line = one_line_error(gankit("--plugin", "./p.py", "list", cwd=tmp_path))
    assert line == f"gankit: error: plug-in file {tmp_path / 'p.py'} {says}"
