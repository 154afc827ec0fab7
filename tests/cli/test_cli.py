"""The command line: a full train -> sample -> eval -> resume round trip, and bad input
giving one line and exit status 2 without losing anything already written."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gankit.cli.main import main

FAST = ["--set", "train.steps=30", "--set", "train.batch_size=64", "--set", "generator.width=32",
        "--set", "discriminator.width=32", "--set", "eval.num_samples=300", "--set", "train.progress=false"]


def test_train_sample_eval_resume(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--out", str(run), *FAST]) == 0
    out = capsys.readouterr().out
    assert f"run directory: {run}" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["step"] == 30 and 0 <= metrics["hq_percent"] <= 100

    assert main(["sample", str(run), "-n", "123", "--out", str(tmp_path / "s.npy")]) == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (123, 2) and arr.dtype == np.float32

    assert main(["eval", str(run)]) == 0
    printed = capsys.readouterr().out
    evaluated = json.loads(printed[printed.index("{"):])
    # same checkpoint, same evaluation seed -> the numbers the run reported
    assert evaluated["hq_percent"] == pytest.approx(metrics["hq_percent"])
    assert evaluated["energy"] == pytest.approx(metrics["energy"], rel=1e-4)

    assert main(["resume", str(run), "--steps", "40"]) == 0
    assert json.loads((run / "metrics.json").read_text())["step"] == 40


@pytest.mark.parametrize("argv, message", [
    (["train", "--set", "loss=nope"], "unknown loss 'nope'"),
    (["train", "--set", "train.stepz=3"], "unknown config key train.stepz"),
    (["train", "--set", "train.steps=ten"], "train.steps: expected an integer"),
    (["train", "--set", "train.steps=0"], "train.steps must be >= 1"),
    (["train", "--set", "data.sigma=-1"], "data.sigma must be > 0"),
    (["train", "--set", "generator.widht=3"], "unknown option model.generator.widht"),
    (["train", "--set", "optim_g.name=adamw"], "optim_g.name: expected one of"),
    (["train", "--set", "nonsense"], "not of the form key=value"),
    (["train", "--config", "/nonexistent.yaml"], "config file not found"),
    (["resume", "/nonexistent-run"], "run directory not found"),
    (["sample", "/nonexistent-run", "--out", "x.npy"], "run directory not found"),
    (["eval", "/nonexistent-run"], "run directory not found"),
    (["list", "gizmos"], "unknown kind 'gizmos'"),
])
def test_bad_input_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gankit: error: ") and message in err, err


def test_bad_yaml_and_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "c.yaml"
    bad.write_text("train: [unclosed\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"\x00garbage")
    assert main(["eval", str(run)]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


def test_existing_run_is_not_overwritten(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--out", str(run), *FAST]) == 0
    before = (run / "checkpoint.pt").read_bytes()
    assert main(["train", "--out", str(run), *FAST]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (run / "checkpoint.pt").read_bytes() == before
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.txt")]) == 2
    assert main(["resume", str(run), "--steps", "10"]) == 2  # below the current step
    assert (run / "checkpoint.pt").read_bytes() == before


def test_console_script_exit_status():
    proc = subprocess.run([sys.executable, "-m", "gankit", "train", "--set", "loss=nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "gankit: error: unknown loss 'nope'; choose one of: " + \
        ", ".join(__import__("gankit.losses", fromlist=["LOSSES"]).LOSSES.names())
    assert "Traceback" not in proc.stderr
