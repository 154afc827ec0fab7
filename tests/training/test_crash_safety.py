"""Nothing lost: stop anywhere (Ctrl-C, SIGTERM, kill -9), resume, get the same result.

The claim is bit-identity: a run stopped at any step and resumed from its checkpoint ends
with exactly the parameters and optimiser moments of the same run left alone. It is
checked for every preset family, with the learning-rate schedule switched on (the schedule
belongs to the run's planned length, so a resume must not stretch it), and for runs killed
with SIGKILL at random moments, mid-write included.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.config import load_config
from gankit.engine import loop
from gankit.engine.loop import Diverged, lr_factor
from gankit.session.run import Run, RunInterrupted, load_run, resume, train

SMALL_MLP = ["generator.width=32", "discriminator.width=32", "train.batch_size=64", "train.log_every=5",
             "train.progress=false", "train.threads=1"]
SMALL_IMAGES = ["generator.width=8", "discriminator.width=8", "train.batch_size=32", "train.log_every=5",
                "train.progress=false", "train.sample_every=0", "train.threads=1"]

# Every preset family, each with a decaying learning rate so that the schedule is part of
# what must continue exactly.
FAMILIES = {
    "toy": (None, SMALL_MLP + ["train.steps=40"]),
    "dcgan": ("dcgan-digits", SMALL_IMAGES + ["train.steps=16", "train.lr_decay=linear"]),
    "conditional": ("dcgan-digits", SMALL_IMAGES + ["train.steps=16", "conditional=true", "train.lr_decay=cosine",
                                                    "train.ema=0.9"]),
    "aae": ("aae-digits", ["encoder.width=32", "generator.width=32", "discriminator.width=32", "train.steps=30",
                           "train.batch_size=32", "train.log_every=5", "train.progress=false", "train.threads=1"]),
    "unrolled": (None, SMALL_MLP + ["train.steps=30", "mitigations.unrolled.k=3"]),
    "minibatch": (None, SMALL_MLP + ["train.steps=30", "mitigations.minibatch.kernels=5"]),
    "wgan-gp": ("wgan-gp", SMALL_MLP + ["train.steps=20", "train.lr_decay=linear"]),
}


@pytest.fixture
def no_eval(monkeypatch):
    """The claim is about the training state; the final evaluation and plots are tested elsewhere."""
    monkeypatch.setattr(Run, "evaluate_in_training", lambda self: {})
    monkeypatch.setattr(Run, "plot", lambda self: None)


def _state(run: Run) -> dict[str, torch.Tensor]:
    out = {f"{m}.{k}": v.clone() for m, mod in run.recipe.modules().items() for k, v in mod.state_dict().items()}
    for ph in run.recipe.trainer.phases:
        for i, st in ph.optimizer.state_dict()["state"].items():
            for key, v in st.items():
                out[f"opt.{ph.name}.{i}.{key}"] = torch.as_tensor(v).clone()
    return out


def assert_same_state(a: Run, b: Run) -> None:
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _signal_at(step: int, sig: int = signal.SIGINT):
    def cb(run: Run, logs: dict[str, float]) -> None:
        if run.step == step:
            os.kill(os.getpid(), sig)
    return cb


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("family", FAMILIES)
def test_interrupted_and_resumed_equals_uninterrupted(family, tmp_path, no_eval):
    preset, overrides = FAMILIES[family]
    cfg = load_config(None, overrides, preset=preset)
    full = train(cfg, run_dir=tmp_path / "full")
    stop = cfg.train.steps // 2 + 1  # not a logging step, not a checkpoint step, not the end
    before = signal.getsignal(signal.SIGINT)  # Python's handler, or SIG_IGN in a background job
    with pytest.raises(RunInterrupted) as info:
        train(load_config(None, overrides, preset=preset), run_dir=tmp_path / "cut", callbacks=[_signal_at(stop)])
    assert info.value.step == stop and f"gankit resume {tmp_path / 'cut'}" in str(info.value)
    assert signal.getsignal(signal.SIGINT) is before  # the handler is given back
    resumed = resume(tmp_path / "cut")
    assert resumed.step == full.step == cfg.train.steps
    assert_same_state(full, resumed)
    # the log of the interrupted + resumed run is the uninterrupted run's log
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "full")


def test_sigterm_checkpoints_too(tmp_path, no_eval):
    cfg = load_config(None, SMALL_MLP + ["train.steps=20"])
    with pytest.raises(RunInterrupted) as info:
        train(cfg, run_dir=tmp_path / "r", callbacks=[_signal_at(7, signal.SIGTERM)])
    assert info.value.signum == signal.SIGTERM and load_run(tmp_path / "r").step == 7


def test_lr_schedule_segments_closed_form():
    f = lr_factor("linear", 100, [150, 250])
    assert [f(s) for s in (0, 50, 99, 100, 125, 149, 150, 200, 250, 400)] == \
        [1.0, 0.5, 1 - 99 / 100, 1.0, 0.5, 1 - 49 / 50, 1.0, 0.5, 0.0, 0.0]
    g = lr_factor("cosine", 100, [300])
    assert g(0) == 1.0 and g(50) == pytest.approx(0.5) and g(100) == 1.0
    assert g(200) == pytest.approx(0.5) and g(300) == pytest.approx(0.0, abs=1e-15)
    # without extensions: the plain decay over the planned run
    assert lr_factor("linear", 100)(30) == 1.0 - 30 / 100 and lr_factor("none", 100) is None


def test_stopping_early_keeps_the_planned_schedule(tmp_path, no_eval):
    """--steps below the planned end stops there on the run's own schedule: a later resume
    to the end is the uninterrupted run (the old behaviour stretched the decay over --steps)."""
    cfg = load_config(None, SMALL_MLP + ["train.steps=40"])
    full = train(cfg, run_dir=tmp_path / "full")
    train(load_config(None, SMALL_MLP + ["train.steps=40"]), run_dir=tmp_path / "part", steps=10)
    mid = resume(tmp_path / "part", steps=25)
    assert mid.step == 25 and mid.cfg.train.extend == []
    assert_same_state(full, resume(tmp_path / "part"))


def test_extending_a_run_is_a_recorded_new_schedule(tmp_path, no_eval):
    """Past the planned end, the extension restarts the decay over its own span and is
    recorded: planned 40 + extension to 60 equals a run configured with train.extend=[60]."""
    base = SMALL_MLP + ["train.steps=40"]
    straight = train(load_config(None, base + ["train.extend=[60]"]), run_dir=tmp_path / "straight")
    assert straight.step == 60
    train(load_config(None, base), run_dir=tmp_path / "ext")
    extended = resume(tmp_path / "ext", steps=60)
    assert extended.cfg.train.extend == [60]
    assert_same_state(straight, extended)
    # the learning rate restarted at the base value: the first extension step is not lr 0
    c = extended.cfg
    base_lr = {"G": c.optim_g.lr, "D": c.optim_d.lr}
    assert all(g["lr"] == pytest.approx(base_lr[ph.name] * (1 - 19 / 20))
               for ph in extended.recipe.trainer.phases for g in ph.optimizer.param_groups)
    # the extension survives a reload, and a stop inside it resumes exactly
    assert load_run(tmp_path / "ext").cfg.train.extend == [60]


def test_divergence_stops_keeping_the_last_good_checkpoint(tmp_path, no_eval):
    cfg = load_config(None, SMALL_MLP + ["train.steps=400", "train.checkpoint_every=5", "optim_d.lr=1000.0",
                                         "optim_g.lr=1000.0", "train.lr_decay=none"])
    with pytest.raises(Diverged, match="no checkpoint had been written"):  # diverges within 5 steps
        train(cfg, run_dir=tmp_path / "early")
    # healthy for 20 steps, then the learning rate jumps to 1000
    cfg = load_config(None, SMALL_MLP + ["train.steps=400", "train.checkpoint_every=5", "train.lr_decay=none"])
    def blow_up(run: Run, logs: dict[str, float]) -> None:
        if run.step == 20:
            for ph in run.recipe.trainer.phases:
                ph.optimizer.param_groups[0]["lr"] = 1000.0
    cfg.train.lr_decay = "none"
    with pytest.raises(Diverged, match="last good checkpoint") as info:
        train(cfg, run_dir=tmp_path / "r", callbacks=[blow_up])
    kept = load_run(tmp_path / "r")
    assert kept.step == 20
    assert f"(step {kept.step})" in str(info.value)
    for m in kept.recipe.modules().values():
        for v in m.state_dict().values():
            assert torch.isfinite(v).all() and v.abs().max() < math.sqrt(loop.EXPLODED)


def test_the_step_never_reads_a_tensor_back(tmp_path, no_eval, monkeypatch):
    """No host-device synchronisation in a step: Tensor.item and friends are called only at
    the logging cadence (on a GPU each one stalls the queue)."""
    cfg = load_config(None, SMALL_MLP + ["train.steps=40", "train.log_every=20", "train.checkpoint_every=0",
                                         "train.checkpoint_seconds=0"])
    run = Run(cfg, tmp_path / "r")
    calls = []
    for name in ("item", "tolist", "cpu", "__bool__", "__float__"):
        orig = getattr(torch.Tensor, name)

        def counted(self, *a, _orig=orig, _name=name, **k):
            # gankit's own reads; torch.optim reads its step counters, which live on the host
            caller = sys._getframe(1).f_code.co_filename
            if "gankit" in caller and "test_" not in caller:
                calls.append((_name, run.step))
            return _orig(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, name, counted)
    run.fit()
    monkeypatch.undo()
    steps = {s for _, s in calls}
    # reads happen only right after logging steps 20 and 40 (logs, divergence check, checkpoint)
    assert steps <= {20, 40}, sorted(steps)


# -- kill -9 at random moments ---------------------------------------------------------------

KILL_CFG = SMALL_MLP + ["train.steps=300", "train.checkpoint_every=20", "train.checkpoint_seconds=0.05",
                        "eval.num_samples=200"]


def _child(argv: list[str]) -> None:
    from gankit.cli.main import main
    os._exit(main(argv))


def test_kill_9_at_random_moments_loses_nothing(tmp_path):
    """20 SIGKILLs at random moments of one run (mid-step, mid-checkpoint, mid-log): after
    each, a directory with a checkpoint evaluates and resumes, and the run finally ends
    bit-identical to the same run never killed."""
    ctx = mp.get_context("forkserver")  # forks from a server that never ran torch: no thread pools
    ctx.set_forkserver_preload(["gankit.cli.main"])
    d = tmp_path / "run"
    rng = random.Random(0)
    kills = with_checkpoint = 0
    for _ in range(20):
        ckpt = d / "checkpoint.pt"
        argv = (["resume", str(d)] if ckpt.exists() else ["train", "--out", str(d)] + [x for o in KILL_CFG for x in ("--set", o)])
        p = ctx.Process(target=_child, args=(argv,))
        p.start()
        started = time.monotonic()  # wait until this process trains (its log is open), then kill at random
        while p.is_alive() and time.monotonic() - started < 30 and not (
                (d / "metrics.jsonl").exists() and (d / "metrics.jsonl").stat().st_mtime > started - 1):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.5))
        if p.is_alive():
            os.kill(p.pid, signal.SIGKILL)
            kills += 1
        p.join()
        assert not list(d.glob(".checkpoint.pt.*.tmp")) or p.exitcode == -signal.SIGKILL
        if ckpt.exists():
            with_checkpoint += 1
            run = load_run(d)  # the whole checkpoint is readable and fits its config
            assert math.isfinite(run.evaluate(["energy"])["energy"])
            if run.step == run.cfg.train.steps:
                break
    assert kills >= 5 and with_checkpoint >= 3
    final = resume(d)
    reference = train(load_config(None, KILL_CFG), run_dir=tmp_path / "reference")
    assert_same_state(reference, final)
    assert not list(d.glob(".checkpoint.pt.*.tmp"))
    rows = _rows(d)
    assert [r["step"] for r in rows] == [r["step"] for r in _rows(tmp_path / "reference")]


def test_ctrl_c_on_the_command_line_saves_and_says_how_to_resume(tmp_path):
    d = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-m", "gankit", "train", "--out", str(d), "--set", "train.steps=1000000",
                          "--set", "train.max_hours=0", "--set", "train.progress=false", "--set", "train.log_every=10"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ((d / "metrics.jsonl").exists() and (d / "metrics.jsonl").stat().st_size):
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1] == (f"gankit: interrupted at step {load_run(d).step}; checkpoint saved in "
                                            f"{d / 'checkpoint.pt'}; continue with: gankit resume {d}")
    assert "Traceback" not in err
    rows = _rows(d)
    assert rows and rows[-1]["step"] <= load_run(d).step
