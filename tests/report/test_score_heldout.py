"""The machine judges of ``gankit judge --score`` are scored on data the run never trained on:
a points file's held-out rows, an image set's test split; only a set without any held-out
split falls back to training rows, and says so. The split and its size are written beside
the scores."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import gankit
from gankit.cli.main import main
from gankit.data import DATASETS
from gankit.data.base import TensorSource
from gankit.report import score
from gankit.session.run import load_run

N_ROWS = 200   # 10 % held out: 20 rows


@pytest.fixture(scope="module")
def indexed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step run on a CSV whose row i is the point (i, sin i): a point's first coordinate
    names its row."""
    d = tmp_path_factory.mktemp("heldout")
    rows = "\n".join(f"{i},{np.sin(i):.6f}" for i in range(N_ROWS))
    (d / "indexed.csv").write_text("row,wave\n" + rows + "\n")
    gankit.train(overrides=[f"data=points:{d / 'indexed.csv'}", "train.steps=2", "train.batch_size=32",
                            "train.progress=false", "eval.metrics=[]"], run_dir=d / "run")
    return d / "run"


def test_judge_scores_exactly_the_held_out_rows_of_a_points_file(indexed_run: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    pools, critic_inputs = [], []
    pool_fn, critic_fn = score._pool, score.critic_outputs

    def spy_pool(*a, **k):
        out = pool_fn(*a, **k)
        pools.append(out)
        return out

    def spy_critic(run, x, labels):
        critic_inputs.append(np.array(x))
        return critic_fn(run, x, labels)

    monkeypatch.setattr(score, "_pool", spy_pool)
    monkeypatch.setattr(score, "critic_outputs", spy_critic)
    code = main(["judge", str(indexed_run), "--score", "--n", "4", "--points", "8", "--pool", "1000"])
    out = capsys.readouterr().out
    assert code == 0

    # the held-out rows are the first 20 of numpy's permutation with data.split_seed=0 (points.split_points)
    held = set(np.random.default_rng(0).permutation(N_ROWS)[:20].tolist())
    (((px, preal, _), _),) = pools
    scored = px[preal, 0]
    assert sorted(int(round(v)) for v in scored) == sorted(held)     # every held-out row once, nothing else
    np.testing.assert_allclose(px[preal, 1], np.round(np.sin(scored), 6), atol=1e-6)
    # the discriminator saw the same rows: its first call is on the pool, real rows first
    assert sorted(int(round(v)) for v in critic_inputs[0][:20, 0]) == sorted(held)

    result = json.loads((indexed_run / "judge" / "score.json").read_text())
    assert result["held_out"] == {
        "split": "held-out rows", "real": 20, "available": 20, "trained_on": False,
        "description": "20 of the points file's held-out rows (data.test_fraction): 20 rows never trained on "
                       "(training split: 180)"}
    machine = [r for r in result["rows"] if r.get("held_out")]
    assert [r["judge"] for r in machine] == ["discriminator", "classifier"]
    assert machine[0]["protocol"] == "held-out rows (20 real + 20 generated)" and machine[0]["items"] == 40
    assert machine[1]["protocol"] == "held-out rows (20 real + 20 generated), 5-fold CV"
    assert "held-out rows (20 real + 20 generated)" in out
    assert "machine judges' real samples: 20 of the points file's held-out rows" in out


def test_an_image_set_is_judged_on_its_test_split(cond_run: Path) -> None:
    run = load_run(cond_run)            # dcgan-digits: trained on digits' train split
    held = score.held_out_real(run, 100, seed=0)
    assert (held.split, held.available, held.trained_on, len(held.x)) == ("test split", 359, False, 100)
    test = DATASETS.build("digits", {"split": "test"})
    train = {r.numpy().tobytes() for r in run.data.x}
    test_rows = {r.numpy().tobytes(): int(y) for r, y in zip(test.x, test.y)}
    for x, y in zip(held.x, held.y):
        assert test_rows[x.numpy().tobytes()] == int(y)     # a test image, with its own label
    assert sum(x.numpy().tobytes() in train for x in held.x) <= 1   # digits repeats few images across splits


def test_without_a_held_out_split_the_training_rows_are_used_and_named(tmp_path: Path) -> None:
    x = torch.arange(60.0).reshape(30, 1, 1, 2)
    data = TensorSource(x, None, name="npz:imgs.npz")
    run = SimpleNamespace(data=data, cfg=SimpleNamespace(data=SimpleNamespace(name="npz", options={"path": "imgs.npz"})))
    held = score.held_out_real(run, 10, seed=0, skip=4)
    assert (held.split, held.trained_on, held.available) == ("training rows", True, 30)
    assert "TRAINING rows" in held.description and "no held-out split" in held.description
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(0))[4:14]   # judge.draw_real's rows
    torch.testing.assert_close(held.x, x[perm])
