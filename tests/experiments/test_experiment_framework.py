"""The experiment framework: registry contract, run directories, tables, the CLI."""

from __future__ import annotations

import argparse
import inspect
import json

import pytest
from PIL import Image

from gankit import experiments
from gankit.cli import experiment as cli_experiment
from gankit.errors import ConfigError
from gankit.experiments import EXPERIMENTS, ExperimentResult, format_table, run

# small settings for the contract test; an experiment not listed here is covered by its own tests
SMALL = {
    "bilinear-game": {"steps": 200},
    "dirac-gan": {"steps": 60},
    "saturation": {"points": 9},
    "generator-gradients": {"nodes": 2001, "mc_samples": 2000},
}


@pytest.mark.parametrize("entry", list(EXPERIMENTS), ids=lambda e: e.name)
def test_every_experiment_declares_claim_plot_paper_and_typed_keyword_options(entry):
    assert len(entry.meta.get("claim", "")) > 40
    assert callable(entry.meta.get("plot"))
    assert entry.paper and entry.summary
    params = {k: p for k, p in inspect.signature(entry.factory).parameters.items() if k != "run_dir"}
    assert all(p.kind is p.KEYWORD_ONLY for p in params.values())
    assert all(p.annotation is not p.empty and p.default is not p.empty for p in params.values())
    assert isinstance(params["seed"].default, int)


@pytest.mark.parametrize("name", list(SMALL))
def test_run_writes_json_and_png_that_reload_and_replot(tmp_path, name):
    result = run(name, out_dir=tmp_path / "run", **SMALL[name])
    entry = EXPERIMENTS.entry(name)
    assert result.run_dir == tmp_path / "run"
    saved = json.loads((result.run_dir / "result.json").read_text())
    assert saved["claim"] == entry.meta["claim"] == result.claim
    assert saved["options"] == json.loads(json.dumps(EXPERIMENTS.resolve(name, SMALL[name])))
    assert saved["summary"] == pytest.approx(result.summary, rel=1e-12)
    assert saved["holds"] == result.holds and len(saved["rows"]) == len(result.rows)
    with Image.open(result.run_dir / f"{name}.png") as im:
        assert im.size[0] > 300 and im.size[1] > 200
    # the figure can be redrawn from the JSON alone (series come back as lists)
    loaded = ExperimentResult.load(result.run_dir)
    entry.meta["plot"](loaded, tmp_path / "again.png")
    assert (tmp_path / "again.png").stat().st_size > 10_000
    text = format_table(result)
    assert all(c in text for c in result.columns) and result.claim in text


def test_options_are_validated_before_running(tmp_path):
    with pytest.raises(ConfigError, match="unknown option experiment.stepz"):
        run("bilinear-game", out_dir=tmp_path, stepz=10)
    with pytest.raises(ConfigError, match="steps"):
        run("bilinear-game", out_dir=tmp_path, steps="many")
    with pytest.raises(ConfigError, match="unknown experiment"):
        run("no-such-experiment")
    assert not (tmp_path / "result.json").exists()


def test_default_run_dir_is_timestamped_and_never_reused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = run("bilinear-game", steps=20, plot=False)
    b = run("bilinear-game", steps=20, plot=False)
    assert a.run_dir.parent == b.run_dir.parent == experiments.base.DEFAULT_ROOT
    assert a.run_dir != b.run_dir and a.run_dir.name.startswith("bilinear-game-")
    assert (tmp_path / a.run_dir / "result.json").exists() and (tmp_path / b.run_dir / "result.json").exists()


@pytest.fixture
def file_writing_experiment():
    """A throw-away entry standing for a training experiment that writes into its run directory."""
    name = "test-writes-files"

    @EXPERIMENTS.register(name, claim="a claim long enough to be a sentence of the lecture notes", plot=None)
    def _exp(*, run_dir, steps: int = 3, seed: int = 0) -> ExperimentResult:
        (run_dir / "checkpoint.txt").write_text(str(steps))
        return ExperimentResult(name, "c", ["step"], [[i] for i in range(steps)], {"steps": float(steps)}, True)

    yield name
    EXPERIMENTS._entries.pop(name)


def test_experiments_that_declare_run_dir_get_it_created_beforehand(tmp_path, file_writing_experiment):
    result = run(file_writing_experiment, out_dir=tmp_path / "r", steps=5)
    assert (tmp_path / "r" / "checkpoint.txt").read_text() == "5"
    assert result.options == {"steps": 5, "seed": 0} and len(result.rows) == 5
    with pytest.raises(ConfigError, match="unknown option"):
        run(file_writing_experiment, out_dir=tmp_path / "s", run_dir=tmp_path)


def test_format_table_aligns_and_reports_the_verdict():
    r = ExperimentResult("demo", "x holds", ["method", "value"], [["a", 1.0 / 3.0], ["longer name", True]],
                         {"k": 2.0}, holds=False)
    lines = format_table(r).splitlines()
    assert lines[0] == "demo: x holds"
    assert lines[2].startswith("method     ") and lines[4].endswith("0.333333") and lines[5].endswith("yes")
    assert len({len(lines[i]) for i in (2, 3, 4)}) == 1
    assert "k = 2" in lines and lines[-1] == "claim holds at these settings: NO"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit")
    cli_experiment.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_sets_are_read_as_yaml():
    assert cli_experiment.parse_sets(["eta=0.1", "start=[1, 2]", "steps=300", "x=true", "y=abc", "z=1e-3"]) == {
        "eta": 0.1, "start": [1, 2], "steps": 300, "x": True, "y": "abc", "z": 1e-3}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        cli_experiment.parse_sets(["eta"])
    with pytest.raises(ConfigError):
        cli_experiment.parse_sets(["start=[1, 2"])


def test_cli_runs_an_experiment_and_exits_with_the_verdict(tmp_path, capsys):
    args = _parser().parse_args(["experiment", "bilinear-game", "--set", "eta=0.3", "--set", "steps=300",
                                 "--set", "start=[0.5, 0.5]", "--out", str(tmp_path / "b")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "claim holds at these settings: yes" in out and str(tmp_path / "b") in out
    saved = json.loads((tmp_path / "b" / "result.json").read_text())
    assert saved["options"]["eta"] == 0.3 and saved["options"]["start"] == [0.5, 0.5]
    # a setting where the claim fails (too few steps for R1 / noise to converge): exit status 1
    args = _parser().parse_args(["experiment", "dirac-gan", "--set", "steps=20", "--out", str(tmp_path / "d")])
    assert args.func(args) == 1


def test_cli_list_prints_one_line_per_experiment_with_its_claim(capsys):
    from gankit.cli.main import main

    assert main(["experiment", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(EXPERIMENTS)
    for line, entry in zip(lines, EXPERIMENTS):
        assert line.startswith(entry.name) and entry.meta["claim"] in line
    assert main(["experiment", "bilinear-game", "--set", "stepz=3"]) == 2
    assert "gankit: error: unknown option experiment.stepz" in capsys.readouterr().err
