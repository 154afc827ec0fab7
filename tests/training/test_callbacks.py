"""The run's events: what a callback sees, in which order, and what the standard ones write."""

from __future__ import annotations

import json
import math
import os
import signal

import pytest

from gankit.session import rundir
from gankit.session.callbacks import Callback
from gankit.session.run import RunInterrupted, train

SMALL = {"train": {"steps": 6, "batch_size": 32, "progress": False, "log_every": 2, "eval_every": 3,
                   "checkpoint_every": 0, "threads": 1},
         "generator": {"width": 16, "depth": 2}, "discriminator": {"width": 16, "depth": 2},
         "eval": {"num_samples": 200}, "seed": 5}


class Recorder(Callback):
    """Every event as ``(name, step, extra)``."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.events: list[tuple[str, int, object]] = []
        self.stop_at = stop_at

    def on_fit_start(self, run):
        self.events.append(("start", run.step, None))

    def on_step(self, run, step, logs):
        self.events.append(("step", step, None if logs is None else dict(logs)))
        if step == self.stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    def on_eval(self, run, step, metrics):
        self.events.append(("eval", step, sorted(metrics)))

    def on_fit_end(self, run):
        self.events.append(("end", run.step, run.metrics["step"]))

    def close(self):
        self.events.append(("close", -1, None))


def test_events_come_in_order_with_the_logged_rows(tmp_path):
    rec = Recorder()
    run = train(SMALL, run_dir=tmp_path / "r", callbacks=[rec])
    names = [(name, step) for name, step, _ in rec.events]
    assert names == [("start", 0), ("step", 1), ("step", 2), ("step", 3), ("eval", 3), ("step", 4), ("step", 5),
                     ("step", 6), ("end", 6), ("close", -1)]
    assert rec.events[-2][2] == 6   # on_fit_end sees the final evaluation
    logged = {step: logs for name, step, logs in rec.events if name == "step" and logs is not None}
    assert sorted(logged) == [2, 4, 6]   # every log_every steps, and the last
    # the logs a callback sees are the rows kept in history and written to metrics.jsonl
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 3, 4, 6] and "eval" in rows[1]
    train_rows = [r for r in rows if "eval" not in r]
    assert train_rows == run.history
    for row in train_rows:
        assert {k: round(v, 6) for k, v in logged[row["step"]].items()} == {k: v for k, v in row.items() if k != "step"}
    assert rows[1]["eval"].keys() == set(next(x for n, _, x in rec.events if n == "eval"))
    assert json.loads((run.dir / "metrics.json").read_text())["step"] == 6


def test_a_plain_function_sees_every_steps_logs(tmp_path):
    seen: dict[int, dict[str, float]] = {}
    run = train(SMALL, run_dir=tmp_path / "r", callbacks=[lambda r, logs: seen.setdefault(r.step, logs)])
    assert sorted(seen) == [1, 2, 3, 4, 5, 6]
    assert all(set(logs) == set(seen[2]) and math.isfinite(logs["d_loss"]) for logs in seen.values())
    for row in run.history:   # on logging steps they are the logged values
        assert round(seen[row["step"]]["d_loss"], 6) == row["d_loss"]


def test_an_interrupted_run_closes_its_callbacks_and_skips_the_end(tmp_path):
    rec = Recorder(stop_at=4)
    with pytest.raises(RunInterrupted) as info:
        train(SMALL, run_dir=tmp_path / "r", callbacks=[rec])
    assert info.value.step == 4
    assert [n for n, _, _ in rec.events][-2:] == ["step", "close"] and ("end", 6, 6) not in rec.events
    assert not (tmp_path / "r" / "metrics.json").exists()
    rows = [json.loads(line)["step"] for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert rows == [2, 3, 4]


def test_replace_starts_over_only_in_a_gankit_run(tmp_path):
    d = tmp_path / "r"
    first = train(SMALL, run_dir=d)
    with pytest.raises(rundir.RunDirError, match="already holds a run"):
        train(SMALL, run_dir=d)
    again = train(SMALL, run_dir=d, replace=True)
    assert again.history == first.history   # the same seed from scratch, nothing resumed
    rows = (d / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [2, 3, 4, 6]   # the earlier run's rows are gone
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("a user's file")
    with pytest.raises(rundir.RunDirError, match="holds no gankit run"):
        train(SMALL, run_dir=mine, replace=True)
    assert (mine / "notes.txt").read_text() == "a user's file"


def test_tensorboard_gets_the_logged_and_evaluated_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train({**SMALL, "train": {**SMALL["train"], "tensorboard": True}}, run_dir=tmp_path / "r")
    acc = EventAccumulator(str(run.dir / "tensorboard"))
    acc.Reload()
    d_loss = [(e.step, e.value) for e in acc.Scalars("train/d_loss")]
    assert [s for s, _ in d_loss] == [2, 4, 6]
    assert [v for _, v in d_loss] == pytest.approx([row["d_loss"] for row in run.history], abs=1e-6)
    energy = [(e.step, e.value) for e in acc.Scalars("eval/energy")]
    assert [s for s, _ in energy] == [3, 6] and energy[-1][1] == pytest.approx(run.metrics["energy"], rel=1e-6)
