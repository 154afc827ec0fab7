"""Runs: train, resume, load, evaluate. The public API the CLI, the experiments and the
benchmarks use; :func:`train` is the one entrance to training.

A :class:`Run` is a thin session around the loop (:mod:`gankit.engine.loop`): it steps,
evaluates and checkpoints, and calls its callbacks' events (:mod:`gankit.session.callbacks`)
for the rest. ``runs/<name>/`` holds ``config.yaml`` (resolved), ``metrics.jsonl`` (logged during
training), ``metrics.json`` (final evaluation), plots, and ``checkpoint.pt`` with
everything needed to continue exactly: networks, EMA, optimisers, step, RNG states, data
position and the config.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config, build_config, load_config, recorded_config
from gankit.capabilities import FiniteData
from gankit.data import DATASETS, DataSource
from gankit.data.points import unused_labels_note
from gankit.errors import CheckpointError, ConfigError
from gankit.metrics import METRICS, EvalContext
from gankit.metrics.defaults import metrics_to_compute
from gankit.registry import Registry
from gankit.engine import distributed
from gankit.session import rundir
from gankit.session.callbacks import Callback, as_callback
from gankit.engine.checkpoint import check_state, load_checkpoint, rng_state, save_atomic, set_rng_state
from gankit.engine.loop import Diverged, lr_schedule, read_logs
from gankit.session.metrics_log import MetricsLog
from gankit.session.outputs import FinalOutputs
from gankit.session.pace import Pace, RunTooLong
from gankit.session.progress import ProgressBar, say
from gankit.recipes import RECIPES, build_recipe
from gankit.session.rundir import absolute_data_paths, new_run_dir, run_name  # noqa: F401 (run_name: importable here)
from gankit.session.samples import SampleGrids
from gankit.session.signals import Abort, RunInterrupted, StopSignals
from gankit.session.tensorboard_log import TensorBoardLog
from gankit.session.threads import choose_threads


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r} is not a torch device (auto, cpu, cuda, cuda:1, ...)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA device is available (use device=auto or cpu)")
    return dev


class Run:
    """A training run bound to its directory.

    Under torchrun (:mod:`gankit.engine.distributed`) every rank builds the same Run; only
    rank 0 (``is_main``) writes the directory, training logs are averaged over ranks and
    evaluations run on rank 0 and are broadcast.
    """

    def __init__(self, cfg: Config, run_dir: Path) -> None:
        ctx = distributed.setup(cfg.device)
        self.cfg, self.dir, self.rank, self.world = cfg, Path(run_dir), ctx.rank, ctx.world
        self.device = distributed.device_for(pick_device(cfg.device), ctx)
        from gankit.engine.fastpath import configure_backends

        configure_backends(self.device, tf32=cfg.train.tf32, deterministic=cfg.train.deterministic)
        # The same seed on every rank: identical initial networks, EMA and RNG streams, so
        # rank 0's checkpoint restores every rank (gankit.engine.distributed).
        torch.manual_seed(cfg.seed * 1000)
        self.data: DataSource = DATASETS.build(cfg.data.name, cfg.data.options)
        self.recipe = build_recipe(cfg, self.data, self.device, rank=ctx.rank)
        if ctx.active and not self.recipe.supports_distributed:
            raise ConfigError(f"model={cfg.model.name} does not support multi-process training yet; run one process")
        from gankit.validate import check_run

        check_run(cfg, self.data, self.recipe)
        self.history: list[dict[str, float]] = []
        self.metrics: dict[str, Any] = {}
        self.wall_time = 0.0
        self._saved_step: int | None = None
        self._in_step = False  # inside trainer.train_step: a signal there abandons the step
        self.step_logs: Mapping[str, Any] = {}  # the last step's logs as the loop returned them (tensors)
        self.threads, self.threads_reason = choose_threads(cfg, self.data, self.recipe, self.device, ctx.world)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def step(self) -> int:
        return self.recipe.trainer.step

    # -- persistence ----------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        return {"format": 1, "config": self.cfg.to_dict(), **self.recipe.state_dict(),
                "rng": rng_state(), "wall_time": self.wall_time}

    def save_checkpoint(self) -> Path:
        """Rank 0 writes; every rank waits until the file is complete. Losses since the last
        check are checked first: a diverged state is never written over a good one."""
        self._check_finite()
        path = self.dir / "checkpoint.pt"
        if self.is_main:
            save_atomic(self.checkpoint_state(), path)
        distributed.barrier()
        self._saved_step = self.step
        return path

    def restore(self, state: Mapping[str, Any], where: str = "checkpoint") -> None:
        """Load a checkpoint's state, checked as a whole against this run's networks first:
        a mismatch is one line naming the module and the first key that differs."""
        check_state(state, self.recipe, where)
        try:
            self.recipe.load_state_dict(state)
            set_rng_state(state["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise CheckpointError(f"{where} does not fit this run: {first}") from None
        self.wall_time = float(state.get("wall_time", 0.0))
        self._saved_step = self.step

    # -- training -------------------------------------------------------------------------
    def fit(self, steps: int | None = None, *, callbacks: Iterable[Callback | Callable[[Run, dict[str, float]], None]] = (),
            notes: Iterable[str] = ()) -> Run:
        """Train until ``steps`` total training steps (default: the run's planned end).

        ``callbacks``: :class:`~gankit.session.callbacks.Callback` objects, or functions
        ``fn(run, logs)`` called after every step; they follow the run's own (rank 0:
        ``metrics.jsonl``, the progress bar, TensorBoard, sample grids, ``metrics.json``,
        plots and the report). ``notes``: lines said once training starts.

        Nothing is lost: a checkpoint is written every ``train.checkpoint_every`` steps and
        every ``train.checkpoint_seconds`` of wall time, at the end, and on SIGINT/SIGTERM,
        which then raise :class:`RunInterrupted` once the checkpoint is on disk. Each
        ``metrics.jsonl`` row is flushed as it is written. A loss that becomes non-finite or
        explodes stops the run with :class:`~gankit.engine.loop.Diverged`; the last
        checkpoint on disk is then the last good state (none is written after divergence).

        What a signal guarantees (:class:`~gankit.session.signals.StopSignals`): during an
        evaluation it stops at once and the state of the step before it is saved; during a
        training step the first signal stops at the end of that step (saved there), a second
        stops at once, keeping the last checkpoint on disk (a step cannot be cut mid-way and saved).

        The directory is this process's alone while it trains (:mod:`gankit.session.rundir`:
        a lock naming the process, and the run's marker, written first). After the first
        steps the run's length at their speed is estimated; over ``train.max_hours`` the run
        stops with :class:`RunTooLong` before it has spent more than those few steps.
        """
        total = steps if steps is not None else planned_end(self.cfg)
        fresh = self._saved_step is None
        hooks = [*self._standard_callbacks(total), *map(as_callback, callbacks)]
        with contextlib.ExitStack() as stack:
            if self.is_main:
                stack.enter_context(rundir.opened(self.dir, self.cfg, self.step, fresh=fresh))
            try:
                self._say_notes(notes)
                start = time.perf_counter() - self.wall_time
                with contextlib.ExitStack() as closing:
                    for cb in hooks:
                        closing.callback(cb.close)
                    with StopSignals(abortable=not distributed.initialized()) as stop:
                        for cb in hooks:
                            cb.on_fit_start(self)
                        try:
                            self._loop(total, stop, hooks, start)
                            self._finish(stop, start)
                        except Abort as abort:
                            raise self._stopped(abort.signum, start) from None
                    for cb in hooks:
                        cb.on_fit_end(self)
            except RunTooLong:
                if self.is_main and fresh and self._saved_step is None:
                    stack.callback(rundir.discard_fresh, self.dir)  # runs before the lock is let go
                elif self.is_main:
                    rundir.trim_log(self.dir / "metrics.jsonl", self._saved_step or 0)
                raise
        return self

    def _standard_callbacks(self, total: int) -> list[Callback]:
        """What rank 0 writes beside the checkpoints, as the config asks."""
        if not self.is_main:
            return []
        t = self.cfg.train
        board = TensorBoardLog() if t.tensorboard else None
        return [MetricsLog(), *([board] if board else []), *([ProgressBar(total)] if t.progress else []),
                *([SampleGrids(t.sample_every, board)] if t.sample_every else []), FinalOutputs()]

    def _say_notes(self, notes: Iterable[str]) -> None:
        """Rank 0 says, once training starts: the thread count (with a progress bar), labels
        the run does not use, and the caller's ``notes`` (the image default's choice)."""
        if not self.is_main:
            return
        threads = f"{self.threads} torch thread{'s' if self.threads > 1 else ''} ({self.threads_reason})"
        for line in (threads if self.cfg.train.progress else None,
                     unused_labels_note(self.data, bool(self.recipe.num_classes)), *notes):
            if line is not None:
                say(line)

    def _loop(self, total: int, stop: StopSignals, hooks: list[Callback], start: float) -> None:
        """Steps to ``total``; after each: its logs, the callbacks, an evaluation and a
        checkpoint when due, and the end of the run when a signal asked for it."""
        t, trainer = self.cfg.train, self.recipe.trainer
        pace = Pace(self, total)
        by_time = t.checkpoint_seconds > 0 and not distributed.initialized()  # ranks must agree: steps only there
        last_save = time.monotonic()
        while trainer.step < total:
            self._in_step = True
            self.step_logs = pace.timed(trainer.train_step)
            self._in_step = False
            step = trainer.step
            if pace.measure(step):
                stop.note = pace.stop_note()
                if pace.said:
                    say(pace.said)
            logs = self._logged(step, total)
            for cb in hooks:
                cb.on_step(self, step, logs)
            if t.eval_every and step % t.eval_every == 0 and step < total:
                with stop.abortable():
                    metrics = self.evaluate_in_training()
                for cb in hooks:
                    cb.on_eval(self, step, metrics)
            interrupted = stop.signum is not None if not distributed.initialized() else (
                logs is not None and distributed.any_rank(stop.signum is not None))
            due = (t.checkpoint_every and step % t.checkpoint_every == 0) or \
                (by_time and time.monotonic() - last_save >= t.checkpoint_seconds)
            if step < total and (due or interrupted):
                self.wall_time = time.perf_counter() - start
                self.save_checkpoint()
                last_save = time.monotonic()
            if interrupted:
                raise RunInterrupted(self.dir, step, stop.signum or signal.SIGINT)

    def _logged(self, step: int, total: int) -> dict[str, float] | None:
        """On a logging step (every ``train.log_every`` and the last): the losses checked,
        the step's logs averaged over ranks and kept in :attr:`history`. None between them."""
        if step % self.cfg.train.log_every and step != total:
            return None
        self._check_finite()
        logs = distributed.mean_logs(read_logs(self.step_logs))
        self.history.append({"step": step, **{k: round(v, 6) for k, v in logs.items()}})
        return logs

    def _finish(self, stop: StopSignals, start: float) -> None:
        """After the last step: the recipe's work past the planned end (e.g. DRS's critic,
        with the trained state saved first), the last checkpoint and the final evaluation."""
        if self.step >= planned_end(self.cfg) and self.recipe.finishing():
            self.wall_time = time.perf_counter() - start
            self.save_checkpoint()
            self.recipe.finish()
        self.wall_time = time.perf_counter() - start
        self.save_checkpoint()
        with stop.abortable():
            self.metrics = self.evaluate_in_training()
        self.metrics.update(step=self.step, wall_time_s=round(self.wall_time, 3), threads=self.threads,
                            data_kind=self.data.kind)

    def _stopped(self, signum: int, start: float) -> RunInterrupted:
        """A signal that stopped the run at once: mid-step, the step is abandoned and the last
        checkpoint is what remains; mid-evaluation, the state before it is saved."""
        if self._in_step:
            return RunInterrupted(self.dir, self._saved_step, signum, abandoned=self.step + 1)
        if self._saved_step != self.step:
            self.wall_time = time.perf_counter() - start
            self.save_checkpoint()
        return RunInterrupted(self.dir, self.step, signum)

    def _check_finite(self) -> None:
        try:
            self.recipe.trainer.check_finite()
        except Diverged as e:
            kept = (f"the last good checkpoint (step {self._saved_step}) is kept in {self.dir / 'checkpoint.pt'}"
                    if self._saved_step is not None else "no checkpoint had been written")
            raise Diverged(f"{e}; {kept}") from None

    # -- evaluation -----------------------------------------------------------------------
    def eval_context(self) -> EvalContext:
        ev = self.cfg.eval
        seed = ev.seed

        def generate(n: int, labels: torch.Tensor | None) -> torch.Tensor:
            return self.recipe.generate(n, labels, seed=seed)

        return EvalContext(self.data, generate, num_samples=ev.num_samples, seed=seed, device=self.device, model=self.recipe,
                           cache={"inception": ev.inception, "conditional": bool(self.recipe.num_classes),
                                  "inception_resize": ev.inception_resize, "fid_reference": ev.fid_reference,
                                  # the feature classifier's training bar (first use of a data set only)
                                  "progress": bool(self.cfg.train.progress and self.is_main),
                                  # the classifier trains on this data set's own train split, tests on its test split
                                  "dataset": {"name": self.cfg.data.name, "options": dict(self.cfg.data.options)}})

    def evaluate(self, metrics: Iterable[str] | None = None,
                 options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """The metrics (default: the run's ``eval.metrics``, else its defaults) of the current
        generator; ``options``: per-metric options, e.g. ``{"fid": {"extractor": "classifier"}}``."""
        names = list(metrics) if metrics is not None else metrics_to_compute(
            self.cfg.eval.metrics, self.recipe, self.data, self.cfg.eval.inception, self.cfg.eval.num_samples)
        ctx = self.eval_context()
        out: dict[str, Any] = {}
        bar = None
        if self.cfg.train.progress and self.is_main and names:
            from tqdm.auto import tqdm

            bar = tqdm(names, desc=f"evaluating ({self.cfg.eval.num_samples} samples)", unit="metric",
                       dynamic_ncols=True, leave=False)
        for name in names:
            if bar is not None:
                bar.set_postfix_str(name)
            opts = dict((options or {}).get(name, {}))
            out.update(METRICS.get(name)(ctx, **METRICS.resolve(name, opts)) if opts else METRICS.get(name)(ctx))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        for k, v in ctx.cache.items():
            if k in ("feature_extractor", "feature_protocol"):
                out[k] = v
        return out

    def evaluate_in_training(self, metrics: Iterable[str] | None = None,
                             options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """:meth:`evaluate` on rank 0, broadcast to every rank, leaving training's RNG
        streams and data position exactly as they were (so evaluating never changes the
        trajectory, and ranks stay in step)."""
        out: dict[str, Any] | None = None
        if self.is_main:
            data_state = self.data.state_dict()
            shard = self.data.shard if isinstance(self.data, FiniteData) else None
            if shard is not None:
                self.data.shard = (0, 1)  # metrics draw real data as one process
            devices = [self.device] if self.device.type == "cuda" else []
            try:
                with torch.random.fork_rng(devices=devices):
                    out = self.evaluate(metrics, options)
            finally:
                self.data.load_state_dict(data_state)
                if shard is not None:
                    self.data.shard = shard
        return distributed.broadcast_object(out)

    def plot(self) -> None:
        from gankit.plotting import runs as plots

        plots.plot_run(self)


def planned_end(cfg: Config) -> int:
    """The step a run trains to: ``train.steps``, or the end of its last extension."""
    return cfg.train.extend[-1] if cfg.train.extend else cfg.train.steps


def train(config: Config | Mapping[str, Any] | None = None, *, overrides: Iterable[str] = (),
          run_dir: str | Path | None = None, replace: bool = False, **fit_kwargs: Any) -> Run:
    """Train a GAN: the one entrance for the CLI, the experiments and the benchmarks.

    ``config``: a Config, a nested dict, or None for the default; ``overrides``:
    ``["loss=wgan", "train.steps=500"]``. ``run_dir``: by default a new directory named
    after the run (:func:`~gankit.session.rundir.new_run_dir`). ``replace``: an earlier
    gankit run in ``run_dir`` is removed first, so the run starts over there (a benchmark
    run again); any other non-empty directory is still refused. ``fit_kwargs`` (``steps``,
    ``callbacks``, ``notes``) go to :meth:`Run.fit`. Returns the finished :class:`Run`.

    Everything is validated before anything is written: the run directory is created only
    once the config, the data set and the networks have been checked."""
    if isinstance(config, Config):
        cfg = config
    elif config is None:  # the default run and the overrides, layered as the CLI layers them
        from gankit.config import load_config

        cfg = load_config(overrides=overrides)
    else:
        from gankit.config import merge, parse_overrides

        cfg = build_config(merge(dict(config), parse_overrides(overrides)))
    if run_dir is None:  # one name for all ranks (the time stamp could differ between them)
        distributed.setup(cfg.device)
        run_dir = distributed.broadcast_object(str(new_run_dir(cfg)))
    if replace:  # rank 0 clears the directory while the others wait
        if distributed.setup(cfg.device).is_main:
            rundir.remove_run(Path(run_dir))
        distributed.barrier()
    rundir.check_new(Path(run_dir))
    absolute_data_paths(cfg)
    run = Run(cfg, Path(run_dir))
    return run.fit(**fit_kwargs)


def load_run(run_dir: str | Path) -> Run:
    """Rebuild a run from ``RUN_DIR/checkpoint.pt`` (for resume, sample, eval), checked as a
    whole: a checkpoint that does not fit its own config is one line naming what differs."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    path = run_dir / "checkpoint.pt"
    state = load_checkpoint(path)
    try:  # the run's plug-ins only as far as the user allows: a run directory is data, never code
        cfg = build_config(recorded_config(state["config"], where=run_dir))
    except ConfigError as e:
        raise CheckpointError(f"{path} holds an invalid config: {e}") from None
    run = Run(cfg, run_dir)
    run.restore(state, where=str(path))
    return run


def resume(run_dir: str | Path, steps: int | None = None, *, max_hours: float | None = None, **fit_kwargs: Any) -> Run:
    """Continue a run exactly where it stopped.

    ``steps`` is the step to train to (default: the run's planned end). Up to the planned
    end the run keeps its own learning-rate schedule, so stopping anywhere and resuming
    gives bit-identically what the uninterrupted run gives. Past the planned end, the run is
    *extended*: the extension is appended to ``train.extend`` (recorded in the run's config
    and checkpoint) and the schedule restarts from the base learning rate over it
    (see :func:`gankit.engine.loop.lr_factor`); :func:`describe_schedule` says so.
    ``max_hours`` replaces the run's ``train.max_hours`` (and is recorded with it)."""
    if max_hours is not None and not (math.isfinite(max_hours) and max_hours >= 0):
        raise ConfigError(f"--max-hours must be a number of hours >= 0 (0 = no limit), got {max_hours}")
    with writing(run_dir):  # before the checkpoint is read: a second resume must not start from it
        run = load_run(run_dir)
        if max_hours is not None:
            run.cfg.train.max_hours = float(max_hours)
        return _resume(run, steps, **fit_kwargs)


def writing(run_dir: str | Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``run_dir``'s lock for an existing run that is about to be written (rank 0 of a
    torchrun job only; the other ranks write nothing). A directory that is no run is left
    alone: reading it then says what is missing."""
    run_dir = Path(run_dir)
    rank0 = distributed.info().is_main if distributed.initialized() else os.environ.get("RANK", "0") == "0"
    if rank0 and (run_dir / "checkpoint.pt").is_file():
        return rundir.hold(run_dir)
    return contextlib.nullcontext()


def _resume(run: Run, steps: int | None, **fit_kwargs: Any) -> Run:
    if steps is not None:
        if steps < run.step:
            raise ConfigError(f"--steps {steps} is below the run's current step {run.step}")
        if steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {steps}")
        t = run.cfg.train
        if steps > planned_end(run.cfg):
            t.extend = [*t.extend, steps]
            run.recipe.trainer.lr_factor = lr_schedule(t.lr_decay, t.steps, t.extend, t.lr_final)
            if run.is_main and t.progress:
                say(describe_schedule(run.cfg))
    return run.fit(steps, **fit_kwargs)


def describe_schedule(cfg: Config) -> str:
    """One line: the run's learning-rate schedule, segment by segment."""
    t = cfg.train
    if t.lr_decay == "none":
        return f"constant learning rate to step {planned_end(cfg)}"
    bounds = [0, t.steps, *t.extend]
    parts = [f"{a}-{b}" for a, b in zip(bounds, bounds[1:])]
    extra = "; each extension restarts from the base learning rate" if t.extend else ""
    return f"learning rate: {t.lr_decay} decay to 0 over steps {', '.join(parts)}{extra}"


__all__ = ["RECIPES", "Run", "RunInterrupted", "describe_schedule", "load_config", "load_run", "planned_end",
           "resume", "train"]
