"""Hostile run directories and checkpoints: each command exits 2 with one line naming the
problem, no traceback, and leaves every existing file as it was.

(The config and data cases are in test_hostile.py; these need a finished run to damage.)
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from gankit.cli.main import main

TINY = ["--set", "train.steps=6", "--set", "train.batch_size=32", "--set", "generator.width=16",
        "--set", "discriminator.width=16", "--set", "eval.num_samples=100", "--set", "train.progress=false",
        "--set", "train.log_every=3"]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("runs") / "good"
    assert main(["train", "--out", str(d), *TINY]) == 0
    return d


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        else:
            out[str(p.relative_to(root))] = (0, "dir")
    return out


def damaged(good: Path, tmp: Path, edit) -> Path:
    d = tmp / "damaged"
    shutil.copytree(good, d)
    path = d / "checkpoint.pt"
    if callable(edit):
        state = torch.load(path, weights_only=True)
        edit(state)
        torch.save(state, path)
    else:
        path.write_bytes(edit)
    return d


def _set(keys: str, value):
    def edit(state):
        node = state
        *parents, last = keys.split(".")
        for k in parents:
            node = node[k]
        node[last] = value
    return edit


def _drop(keys: str):
    def edit(state):
        node = state
        *parents, last = keys.split(".")
        for k in parents:
            node = node[k]
        del node[last]
    return edit


def _wider(state):
    state["config"]["model"]["generator"]["width"] = 24  # the saved weights are 16 wide


def _other_net(state):
    state["config"]["model"]["discriminator"]["depth"] = 2  # one layer fewer than the weights


CHECKPOINTS = {
    "empty file": (b"", "the file is empty"),
    "truncated": (b"PK\x03\x04 truncated", "cannot read checkpoint"),
    "no modules": (_drop("modules"), "not a gankit checkpoint"),
    "no rng": (_drop("rng"), "'rng' is missing"),
    "no trainer": (_drop("trainer"), "'trainer' is missing"),
    "step is text": (_set("trainer.step", "abc"), "'trainer.step' must be a non-negative integer"),
    "step negative": (_set("trainer.step", -4), "'trainer.step' must be a non-negative integer"),
    "no optimisers": (_drop("trainer.optimizers"), "'trainer.optimizers' is missing"),
    "no D optimiser": (_drop("trainer.optimizers.D"), "optimiser of phase 'D' is missing"),
    "no G network": (_drop("modules.G"), "network 'G' is missing"),
    "rng not a tensor": (_set("rng.torch", [1, 2, 3]), "'rng.torch' is missing or not a tensor"),
    "data rng missing": (_drop("data.rng"), "'data.rng' is missing"),
    "wider config": (_wider, "has shape (16, 34) where the config's architecture has (24, 34)"),
    "other depth": (_other_net, "network 'D' has"),
    "invalid config": (_set("config.model", {"name": "gan", "loss": {"name": "nope"}}), "holds an invalid config: unknown loss 'nope'"),
    "config key unknown": (_set("config.train.stepz", 3), "unknown config key train.stepz"),
}
COMMANDS = {"eval": ["eval"], "resume": ["resume"], "sample": ["sample", "-n", "4", "--out", "x.npy"]}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CHECKPOINTS)
def test_damaged_checkpoints(case, command, good_run, tmp_path, capsys, monkeypatch):
    edit, message = CHECKPOINTS[case]
    d = damaged(good_run, tmp_path, edit)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    argv = COMMANDS[command]
    code = main([argv[0], str(d), *argv[1:]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("gankit: error: ") and message in err, err
    assert snapshot(tmp_path) == before


def _run_dir_cases(tmp: Path, good: Path) -> dict[str, tuple[list[str], str]]:
    (tmp / "a-file").write_text("mine")
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("the user's own file")
    return {
        "out is a file": (["train", "--out", str(tmp / "a-file")], "exists and is not a directory"),
        "out under a file": (["train", "--out", str(tmp / "a-file" / "run")], "is not a directory"),
        "out in a non-run folder": (["train", "--out", str(tmp / "mine")], "holds no gankit run ('notes.txt')"),
        "out holds a run": (["train", "--out", str(good)], "already holds a run"),
        "out unwritable": (["train", "--out", "/proc/gankit-run"], "cannot write in /proc"),
        "resume missing dir": (["resume", str(tmp / "nowhere")], "run directory not found"),
        "resume below step": (["resume", str(good), "--steps", "2"], "below the run's current step"),
        "resume no checkpoint": (["resume", str(tmp / "mine")], "checkpoint not found"),
        "eval no checkpoint": (["eval", str(tmp / "mine")], "checkpoint not found"),
    }


@pytest.mark.parametrize("case", ["out is a file", "out under a file", "out in a non-run folder", "out holds a run",
                                  "out unwritable", "resume missing dir", "resume below step",
                                  "resume no checkpoint", "eval no checkpoint"])
def test_bad_run_directories(case, good_run, tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    copy = work / "good"
    shutil.copytree(good_run, copy)
    argv, message = _run_dir_cases(work, copy)[case]
    before = snapshot(work)
    code = main([*argv, *(TINY if argv[0] == "train" else [])])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("gankit: error: ") and message in err, err
    assert snapshot(work) == before


def test_divergence_exits_1_with_one_line(tmp_path, capsys):
    d = tmp_path / "r"
    code = main(["train", "--out", str(d), *TINY, "--set", "train.steps=200", "--set", "optim_d.lr=1000.0",
                 "--set", "optim_g.lr=1000.0", "--set", "train.lr_decay=none"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("gankit: error: training diverged: phase ") and "no checkpoint had been written" in err
    assert not (d / "checkpoint.pt").exists()
