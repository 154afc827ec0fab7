"""Run directories written by an earlier gankit (tests/fixtures/old-runs/, README there) still
open, evaluate to the numbers they recorded, resume further, and serve ``gankit eval`` and
``gankit sample``: a change to the config, checkpoint or recipes must keep old runs usable."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from gankit.cli.main import main
from gankit.session.run import load_run, resume

OLD_RUNS = Path(__file__).parent.parent / "fixtures" / "old-runs"
NAMES = sorted(p.name for p in OLD_RUNS.iterdir() if (p / "checkpoint.pt").is_file())


@pytest.fixture(scope="module", autouse=True)
def recorded_classifier(module_cache_dir):
    """The digits feature classifier the runs were scored with, kept beside them: trained again,
    its weights would follow this CPU's kernels and move the FID by about 0.5 % (measured under
    ATEN_CPU_CAPABILITY=default), so the runs' image numbers are compared on the same features."""
    shutil.copytree(OLD_RUNS / "cache", module_cache_dir, dirs_exist_ok=True)
    return module_cache_dir


@pytest.fixture
def old_run(request, tmp_path) -> Path:
    """A copy of the fixture run: opening and resuming write into the run directory."""
    return Path(shutil.copytree(OLD_RUNS / request.param, tmp_path / request.param))


def test_every_kind_of_run_is_there():
    assert NAMES == ["aae", "dcgan", "gan", "infogan", "pix2pix"]


@pytest.mark.parametrize("old_run", NAMES, indirect=True)
def test_opens_and_evaluates_to_its_recorded_numbers(old_run):
    stored = json.loads((old_run / "metrics.json").read_text())
    run = load_run(old_run)
    assert run.step == stored["step"] == 6
    # evaluation is seeded (eval.seed) and uses no training RNG: twice the same numbers exactly
    first, second = run.evaluate(), run.evaluate()
    assert first == second
    numbers = {k: v for k, v in first.items() if isinstance(v, float)}
    assert numbers
    for k, v in numbers.items():
        if math.isfinite(v):
            # equal on the machine that wrote them; the tolerance is float32 rounding on other CPU kernels
            assert v == pytest.approx(stored[k], rel=1e-5, abs=1e-7), k
        else:
            assert stored[k] is None, k  # written as null (strict JSON)


@pytest.mark.parametrize("old_run", NAMES, indirect=True)
def test_resumes_a_few_steps_further(old_run):
    before = {k: {n: t.clone() for n, t in m.state_dict().items()} for k, m in load_run(old_run).recipe.modules().items()}
    run = resume(old_run, steps=9)
    assert run.step == 9 and json.loads((old_run / "metrics.json").read_text())["step"] == 9
    assert [json.loads(line)["step"] for line in (old_run / "metrics.jsonl").read_text().splitlines()] == [6, 9]
    after = {k: m.state_dict() for k, m in run.recipe.modules().items()}
    assert set(after) == set(before)
    moved = [f"{k}.{n}" for k in before for n, t in before[k].items()
             if t.is_floating_point() and not torch.equal(t, after[k][n])]
    assert moved and all(torch.isfinite(t).all() for m in after.values() for t in m.values() if t.is_floating_point())
    again = load_run(old_run)  # and the resumed run reopens in turn
    assert again.step == 9


@pytest.mark.parametrize("old_run", NAMES, indirect=True)
def test_cli_eval_and_sample_succeed(old_run, tmp_path, capsys):
    stored = json.loads((old_run / "metrics.json").read_text())
    assert main(["eval", str(old_run)]) == 0
    printed = capsys.readouterr().out
    shown = json.loads(printed[printed.index("{"):])
    for k, v in shown.items():
        if isinstance(v, float):
            assert v == pytest.approx(stored[k], rel=1e-4, abs=1e-5), k  # printed to 5 decimals
    out = tmp_path / ("s.npy" if old_run.name == "gan" else "s.png")
    assert main(["sample", str(old_run), "-n", "16", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
