"""A run directory has one writer, is a run only when gankit's marker says so, and a run
that would take too long, or is told to stop, says so and stops at once.

Each test states a concrete behaviour: exit status, the line printed, the bytes of the
user's files, the step of the checkpoint left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from gankit.cli.main import main
from gankit.config import load_config
from gankit.lockfile import LOCK
from gankit.session import rundir
from gankit.engine.checkpoint import load_checkpoint
from gankit.session.run import load_run, train

SMALL = ["generator.width=32", "discriminator.width=32", "train.batch_size=64", "train.log_every=50",
         "train.progress=false", "train.threads=1", "eval.num_samples=200"]
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def sets(overrides: list[str]) -> list[str]:
    return [x for o in overrides for x in ("--set", o)]


def gankit(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gankit", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def step_rows(run_dir: Path) -> list[int]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "eval" not in r]


def wait_for(cond, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    """A run stopped at step 100 of 2,000."""
    d = tmp_path_factory.mktemp("runs") / "ring"
    train(load_config(None, SMALL + ["train.steps=2000"]), run_dir=d, steps=100)
    return d


# -- one writer ------------------------------------------------------------------------------
def test_two_resumes_at_once_one_refuses_naming_the_other(ring_run, tmp_path):
    d = tmp_path / "ring"
    subprocess.run(["cp", "-a", str(ring_run), str(d)], check=True)
    procs = [gankit("resume", str(d)), gankit("resume", str(d))]
    results = [(p, *p.communicate(timeout=600)) for p in procs]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0, 2], [(p.returncode, err[-500:]) for p, _, err in results]
    (winner, _, _), = [r for r in results if r[0].returncode == 0]
    (_, out, err), = [r for r in results if r[0].returncode == 2]
    assert err.count("\n") == 1 and err.startswith("gankit: error: run directory "), err
    assert f"is in use by another gankit process (PID {winner.pid})" in err
    assert out == ""
    # one writer: every logged step once, none lost, the checkpoint at the planned end
    assert step_rows(d) == list(range(50, 2001, 50))
    assert load_run(d).step == 2000
    assert not (d / LOCK).exists()  # given back when the writer ended


def test_a_killed_writer_leaves_no_stale_lock(tmp_path):
    d = tmp_path / "run"
    p = gankit("train", "--out", str(d), *sets(SMALL + ["train.steps=1000000"]))
    lock = d / LOCK
    try:
        wait_for(lambda: lock.is_file() and lock.read_text().strip() == str(p.pid))
    finally:
        p.kill()  # SIGKILL: no handler, no clean-up runs
        p.wait(timeout=60)
    assert lock.read_text().strip() == str(p.pid)  # the file stays, the lock does not
    with rundir.hold(d):
        assert lock.read_text().strip() == str(os.getpid())
    # and the run, stopped before its first checkpoint, starts over
    assert main(["train", "--out", str(d), *sets(SMALL + ["train.steps=20", "train.log_every=5"])]) == 0
    assert step_rows(d) == [5, 10, 15, 20]


def test_a_held_run_directory_refuses_every_writer(ring_run, tmp_path, capsys):
    d = tmp_path / "ring"
    subprocess.run(["cp", "-a", str(ring_run), str(d)], check=True)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gankit.session import rundir
        with rundir.hold({str(d)!r}):
            print("held", flush=True)
            time.sleep(300)
    """)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = digest(d)
        for argv in (["resume", str(d)], ["sample", str(d), "-n", "10", "--out", str(d / "mine.npy")]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err == (f"gankit: error: run directory {d} is in use by another gankit process "
                           f"(PID {holder.pid}); wait for it to finish or stop it, then run this again\n")
        assert digest(d) == before
        # reading is not writing: eval and samples written elsewhere go on
        assert main(["eval", str(d)]) == 0
        assert main(["sample", str(d), "-n", "10", "--out", str(tmp_path / "s.npy")]) == 0
    finally:
        holder.kill()
        holder.wait()


def test_two_judges_on_one_session(ring_run, tmp_path):
    d = tmp_path / "ring"
    subprocess.run(["cp", "-a", str(ring_run), str(d)], check=True)
    first = gankit("judge", str(d), "--port", "0", "--n", "4", "--pool", "10")
    try:
        line = ""
        while "open http" not in line:
            line = first.stdout.readline()
            assert line or first.poll() is None, first.stderr.read()
        log = (d / "judge" / "hype-inf.jsonl").read_bytes()
        for extra in ([], ["--score"]):
            second = subprocess.run([sys.executable, "-m", "gankit", "judge", str(d), "--port", "0", "--n", "4",
                                     "--pool", "10", *extra], capture_output=True, text=True, env=ENV, timeout=300)
            assert second.returncode == 2, second.stderr
            assert second.stderr == (f"gankit: error: judge session 'hype-inf' of {d} is in use by another gankit "
                                     f"process (PID {first.pid}); wait for it to finish or stop it, then run this "
                                     "again\n")
        assert (d / "judge" / "hype-inf.jsonl").read_bytes() == log  # nothing recorded by the second
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=300)
    assert first.returncode == 0


# -- the marker ------------------------------------------------------------------------------
def test_train_never_overwrites_a_users_files(tmp_path, capsys):
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "config.yaml").write_text("# my experiment, by hand\ntrain:\n  steps: 5\n")
    (exp / "metrics.jsonl").write_text('{"step": 1, "note": "my own numbers"}\n')
    before = digest(exp)
    for argv in (["train", "--config", str(exp / "config.yaml"), "--out", str(exp)], ["train", "--out", str(exp)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is a non-empty directory that holds no gankit run ('config.yaml' and 1 more); " \
            "choose a new or empty directory (gankit marks its runs with .gankit-run)" in err, err
        assert digest(exp) == before and sorted(p.name for p in exp.iterdir()) == ["config.yaml", "metrics.jsonl"]
    (exp / "config.yaml").unlink()  # only a metrics.jsonl: once taken for an interrupted run and emptied
    assert main(["train", "--out", str(exp)]) == 2
    assert "holds no gankit run ('metrics.jsonl'); choose a new" in capsys.readouterr().err
    assert (exp / "metrics.jsonl").read_text() == '{"step": 1, "note": "my own numbers"}\n'


def test_the_marker_is_written_first_and_says_what_it_is(tmp_path, monkeypatch):
    written: list[str] = []
    real = rundir.write_atomic

    def spy(path: Path, text: str) -> None:
        written.append(Path(path).name)
        real(path, text)
    monkeypatch.setattr(rundir, "write_atomic", spy)
    d = tmp_path / "run"
    train(load_config(None, SMALL + ["train.steps=10", "train.log_every=5"]), run_dir=d)
    assert written[:2] == [".gankit-run", "config.yaml"]
    marker = json.loads((d / ".gankit-run").read_text())
    assert marker["format"] == 1 and marker["created"].startswith("20")


def test_runs_of_older_gankit_resume_and_evaluate(ring_run, tmp_path, capsys):
    """The rule for directories without the marker: a gankit checkpoint.pt makes one a run
    (only gankit writes that file); it resumes and evaluates, and is marked when resumed."""
    d = tmp_path / "old"
    subprocess.run(["cp", "-a", str(ring_run), str(d)], check=True)
    (d / ".gankit-run").unlink()
    assert main(["eval", str(d), "--metrics", "energy"]) == 0
    assert not (d / ".gankit-run").exists()  # reading marks nothing
    assert main(["train", "--out", str(d)]) == 2
    assert "already holds a run; use `gankit resume" in capsys.readouterr().err
    assert main(["resume", str(d), "--steps", "150"]) == 0
    assert json.loads((d / ".gankit-run").read_text())["adopted"]
    assert load_run(d).step == 150 and step_rows(d) == [50, 100, 150]


def test_a_full_disk_leaves_no_half_written_config(tmp_path, monkeypatch, capsys):
    import builtins

    real_open = builtins.open

    def full(file, mode="r", *a, **k):
        f = real_open(file, mode, *a, **k)
        if "w" in mode and Path(file).name.startswith(".config.yaml."):
            f.close()
            raise OSError(28, "No space left on device", str(file))
        return f
    monkeypatch.setattr(builtins, "open", full)
    d = tmp_path / "run"
    assert main(["train", "--out", str(d), *sets(SMALL + ["train.steps=10"])]) == 2
    err = capsys.readouterr().err
    assert err == f"gankit: error: cannot write {d / 'config.yaml'} (No space left on device); it was left as it was\n"
    assert sorted(p.name for p in d.iterdir()) == [".gankit-run"]  # no config.yaml at all, and no temporary file


def test_sample_never_overwrites_without_force(ring_run, tmp_path, capsys):
    out = tmp_path / "s.npy"
    out.write_bytes(b"my own array")
    assert main(["sample", str(ring_run), "-n", "10", "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"gankit: error: --out {out} exists; pass --force to overwrite it, or choose " \
                                      "another file\n"
    assert out.read_bytes() == b"my own array"
    assert main(["sample", str(ring_run), "-n", "10", "--out", str(out), "--force"]) == 0
    assert np.load(out).shape == (10, 2)


# -- long runs -------------------------------------------------------------------------------
ESTIMATE = re.compile(r"gankit: ([\d.]+) s a step \(steps 2-6\): the 194 steps to go take about ([\d.]+) "
                      r"(s|min) at this speed$", re.M)


def test_the_run_time_is_estimated_from_the_first_steps(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), *sets(SMALL + ["train.steps=200", "train.progress=true"])]) == 0
    m = ESTIMATE.search(capsys.readouterr().err)
    assert m, "no estimate line"
    per_step, total = float(m[1]), float(m[2]) * (60 if m[3] == "min" else 1)
    # the estimate is the measured speed times the steps to go (both printed rounded)
    assert total == pytest.approx(per_step * 194, rel=0.1, abs=30 if m[3] == "min" else 0.6)


def test_a_run_over_max_hours_is_refused_early(tmp_path, capsys):
    d = tmp_path / "r"
    assert main(["train", "--out", str(d), *sets(SMALL + ["train.steps=2000", "train.max_hours=1e-6"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gankit: error: this run would train too long: "), err
    assert " a step (steps 2-6): the 1,994 steps to go take about " in err
    assert "over train.max_hours=1e-06; allow it with --set train.max_hours=" in err
    assert not d.exists()  # a new run refused after its first steps leaves nothing behind


def test_resume_over_max_hours_is_refused_and_allowed_by_the_flag(ring_run, tmp_path, capsys):
    d = tmp_path / "ring"
    subprocess.run(["cp", "-a", str(ring_run), str(d)], check=True)
    ckpt = (d / "checkpoint.pt").read_bytes()
    assert main(["resume", str(d), "--max-hours", "1e-6"]) == 2
    assert "this run would train too long: " in capsys.readouterr().err
    assert (d / "checkpoint.pt").read_bytes() == ckpt and step_rows(d) == [50, 100]
    assert main(["resume", str(d), "--steps", "120", "--max-hours", "0"]) == 0
    assert load_run(d).step == 120 and load_run(d).cfg.train.max_hours == 0


SLOW = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from gankit.metrics import METRICS
    from gankit.session.run import RunInterrupted, train

    run_dir, flag, what = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    @METRICS.register("slow")
    def slow(ctx):
        '''An evaluation that takes minutes (as Inception features of 50,000 images do).'''
        flag.write_text("evaluating")
        time.sleep(300)
        return {}

    sets = ["generator.width=32", "discriminator.width=32", "train.batch_size=64", "train.progress=false",
            "train.threads=1", "train.log_every=5", "train.steps=1000", "train.checkpoint_every=10",
            "train.checkpoint_seconds=0"]
    if what == "eval":
        sets += ["train.eval_every=20", "eval.metrics=[slow]"]
    else:  # step 16 takes minutes
        from gankit.engine.loop import Trainer
        step = Trainer.train_step
        def slow_step(self):
            if self.step == 15:
                flag.write_text("stepping")
                time.sleep(300)
            return step(self)
        Trainer.train_step = slow_step
    try:
        train(None, overrides=sets, run_dir=run_dir)
    except RunInterrupted as e:
        print(e, flush=True)
        sys.exit(3)
""")


def _stop_while(what: str, tmp_path: Path, signals: int) -> tuple[str, float]:
    d, flag = tmp_path / "run", tmp_path / "flag"
    p = subprocess.Popen([sys.executable, "-c", SLOW, str(d), str(flag), what], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=ENV)
    wait_for(flag.exists, timeout=300)
    time.sleep(0.5)
    t0 = time.monotonic()
    for _ in range(signals):
        p.send_signal(signal.SIGTERM)
        time.sleep(0.2)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"SIGTERM did not stop the run within 30 s (during a long {what})")
    assert p.returncode == 3, err
    return out.strip(), time.monotonic() - t0


def test_sigterm_during_a_long_evaluation_stops_at_once(tmp_path):
    out, took = _stop_while("eval", tmp_path, signals=1)
    d = tmp_path / "run"
    assert out == f"interrupted at step 20; checkpoint saved in {d / 'checkpoint.pt'}; continue with: gankit resume {d}"
    assert took < 15
    # the state of the step before the evaluation, whole (its config names the test's metric,
    # registered only in the child, so the checkpoint is read as a file here)
    assert load_checkpoint(d / "checkpoint.pt")["trainer"]["step"] == 20
    assert step_rows(d) == [5, 10, 15, 20]


def test_a_second_sigterm_during_a_long_step_stops_at_once(tmp_path):
    out, took = _stop_while("step", tmp_path, signals=2)
    d = tmp_path / "run"
    assert out == (f"stopped at once during step 16, which is lost; the checkpoint of step 10 is kept in "
                   f"{d / 'checkpoint.pt'}; continue with: gankit resume {d}")
    assert took < 15
    assert load_run(d).step == 10


def test_lock_is_reentrant_in_one_process_and_exclusive_across(tmp_path):
    d = tmp_path
    with rundir.hold(d), rundir.hold(d):  # resume holds it, then fit again: one process, one lock
        assert (d / LOCK).read_text().strip() == str(os.getpid())
        r = subprocess.run([sys.executable, "-c", f"from gankit.session import rundir\nrundir.hold({str(d)!r}).__enter__()"],
                           capture_output=True, text=True, env=ENV)
        assert "gankit.lockfile.Busy" in r.stderr and f"(PID {os.getpid()})" in r.stderr
    assert not (d / LOCK).exists()
