"""Run directories: train, resume, load, evaluate. The public API the CLI uses.

``runs/<name>/`` holds ``config.yaml`` (resolved), ``metrics.jsonl`` (logged during
training), ``metrics.json`` (final evaluation), plots, and ``checkpoint.pt`` with
everything needed to continue exactly: networks, EMA, optimisers, step, RNG states, data
position and the config.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from gankit import jsonio
from gankit.config import Config, build_config, load_config, recorded_config
from gankit.data import DATASETS, DataSource
from gankit.data.points import unused_labels_note
from gankit.errors import CheckpointError, ConfigError
from gankit.metrics import METRICS, EvalContext
from gankit.metrics.defaults import metrics_to_compute
from gankit.registry import Registry
from gankit.training import distributed, rundir
from gankit.training.checkpoint import check_state, load_checkpoint, rng_state, save_atomic, set_rng_state
from gankit.training.loop import Diverged, lr_schedule, read_logs
from gankit.training.recipe import RECIPES, load_recipes as _register_recipes


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

    Under torchrun (:mod:`gankit.training.distributed`) every rank builds the same Run; only
    rank 0 (``is_main``) writes the directory, training logs are averaged over ranks and
    evaluations run on rank 0 and are broadcast.
    """

    def __init__(self, cfg: Config, run_dir: Path) -> None:
        _register_recipes()
        ctx = distributed.setup(cfg.device)
        self.cfg, self.dir, self.rank, self.world = cfg, Path(run_dir), ctx.rank, ctx.world
        self.device = distributed.device_for(pick_device(cfg.device), ctx)
        from gankit.training.fastpath import configure_backends

        configure_backends(self.device, tf32=cfg.train.tf32, deterministic=cfg.train.deterministic)
        # The same seed on every rank: identical initial networks, EMA and RNG streams, so
        # rank 0's checkpoint restores every rank (gankit.training.distributed).
        torch.manual_seed(cfg.seed * 1000)
        self.data: DataSource = DATASETS.build(cfg.data.name, cfg.data.options)
        self.recipe = RECIPES.build(cfg.model.name, cfg.model.options, cfg=cfg, data=self.data, device=self.device, rank=ctx.rank)
        if ctx.active and not getattr(self.recipe, "supports_distributed", False):
            raise ConfigError(f"model={cfg.model.name} does not support multi-process training yet; run one process")
        from gankit.validate import check_run

        check_run(cfg, self.data, self.recipe)
        self.history: list[dict[str, float]] = []
        self.metrics: dict[str, Any] = {}
        self.wall_time = 0.0
        self._saved_step: int | None = None
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
    def fit(self, steps: int | None = None, *, callbacks: Iterable[Callable[[Run, dict[str, float]], None]] = (),
            notes: Iterable[str] = ()) -> Run:
        """Train until ``steps`` total training steps (default: the run's planned end).

        Nothing is lost: a checkpoint is written every ``train.checkpoint_every`` steps and
        every ``train.checkpoint_seconds`` of wall time, at the end, and on SIGINT/SIGTERM,
        which then raise :class:`RunInterrupted` once the checkpoint is on disk. Each
        ``metrics.jsonl`` row is flushed as it is written. A loss that becomes non-finite or
        explodes stops the run with :class:`~gankit.training.loop.Diverged`; the last
        checkpoint on disk is then the last good state (none is written after divergence).

        What a signal guarantees (:class:`_StopSignals`): during an evaluation it stops at
        once and the state of the step before it is saved; during a training step the first
        signal stops at the end of that step (saved there), a second stops at once, keeping
        the last checkpoint on disk (a step cannot be cut mid-way and saved).

        The directory is this process's alone while it trains (:mod:`gankit.training.rundir`:
        a lock naming the process, and the run's marker, written first). After the first
        steps the run's length at their speed is estimated; over ``train.max_hours`` the run
        stops with :class:`RunTooLong` before it has spent more than those few steps.
        """
        total = steps if steps is not None else planned_end(self.cfg)
        fresh = self._saved_step is None
        with contextlib.ExitStack() as stack:
            if self.is_main:
                self._open_dir(stack, fresh)
            try:
                self._notes = list(notes)   # lines said once training starts (the image default's choice)
                return self._fit(total, callbacks)
            except RunTooLong:
                if self.is_main and fresh and self._saved_step is None:
                    stack.callback(rundir.discard_fresh, self.dir)  # after the lock's file is gone
                elif self.is_main:
                    _trim_log(self.dir / "metrics.jsonl", self._saved_step or 0)
                raise

    def _open_dir(self, stack: contextlib.ExitStack, fresh: bool) -> None:
        """Lock the run directory, check it may be written, mark it, then write its config
        (whole or not at all)."""
        created = not self.dir.exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        if created:
            stack.callback(_remove_if_empty, self.dir)  # a first write that failed leaves nothing
        stack.enter_context(rundir.hold(self.dir))
        rundir.claim(self.dir, fresh=fresh)
        rundir.write_atomic(self.dir / "config.yaml", yaml.safe_dump(self.cfg.to_dict(), sort_keys=False))
        rundir.remove_leftovers(self.dir)  # left by a process killed mid-write
        _trim_log(self.dir / "metrics.jsonl", self.step)

    def _fit(self, total: int, callbacks: Iterable[Callable[[Run, dict[str, float]], None]]) -> Run:
        t = self.cfg.train
        if self.is_main and t.progress:
            _note(f"{self.threads} torch thread{'s' if self.threads > 1 else ''} ({self.threads_reason})")
        if self.is_main and (labels_note := unused_labels_note(self.data, self.cfg.conditional)):
            _note(labels_note)
        for line in getattr(self, "_notes", ()) if self.is_main else ():
            _note(line)
        trainer = self.recipe.trainer
        start = time.perf_counter() - self.wall_time
        by_time = t.checkpoint_seconds > 0 and not distributed.initialized()  # ranks must agree: steps only there
        last_save = time.monotonic()
        pace = _Pace(self, total)
        with contextlib.ExitStack() as stack:
            stop = stack.enter_context(_StopSignals(abortable=not distributed.initialized()))
            bar = _progress(self, total)
            if bar is not None:
                stack.callback(bar.close)
            writer = _tensorboard(self) if t.tensorboard and self.is_main else None
            if writer is not None:
                stack.callback(writer.close)
            # line-buffered: every row reaches the file as it is written (a killed run keeps its log)
            jsonl = stack.enter_context(open(self.dir / "metrics.jsonl", "a", buffering=1)) if self.is_main else None
            in_step = False
            try:
                while trainer.step < total:
                    in_step = True
                    raw = pace.timed(trainer.train_step)
                    in_step = False
                    step = trainer.step
                    if pace.measure(step):
                        stop.note = pace.stop_note()
                        if pace.said:
                            _note(pace.said, bar)
                    logged = step % t.log_every == 0 or step == total
                    logs: dict[str, float] = {}
                    if logged:
                        self._check_finite()
                        logs = distributed.mean_logs(read_logs(raw))
                        row = {"step": step, **{k: round(v, 6) for k, v in logs.items()}}
                        self.history.append(row)
                        if jsonl is not None:
                            jsonl.write(jsonio.dumps(row) + "\n")
                        if writer is not None:
                            for k, v in logs.items():
                                writer.add_scalar(f"train/{k}", v, step)
                        if bar is not None:
                            bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items() if k in ("d_loss", "g_loss", "D(x)", "D(G(z))", "recon_mse")}, refresh=False)
                    if bar is not None:
                        bar.update(1)
                    if callbacks:
                        seen = logs if logged else read_logs(raw)
                        for cb in callbacks:
                            cb(self, seen)
                    if t.eval_every and step % t.eval_every == 0 and step < total:
                        with stop.abortable():
                            m = self.evaluate_in_training()
                        if jsonl is not None:
                            jsonl.write(jsonio.dumps({"step": step, "eval": m}) + "\n")
                        if writer is not None:
                            for k, v in m.items():
                                if isinstance(v, (int, float)):
                                    writer.add_scalar(f"eval/{k}", v, step)
                    if t.sample_every and step % t.sample_every == 0 and self.is_main:
                        self.save_samples(writer)
                    interrupted = stop.signum is not None if not distributed.initialized() else (
                        logged and distributed.any_rank(stop.signum is not None))
                    due = (t.checkpoint_every and step % t.checkpoint_every == 0) or \
                        (by_time and time.monotonic() - last_save >= t.checkpoint_seconds)
                    if step < total and (due or interrupted):
                        self.wall_time = time.perf_counter() - start
                        self.save_checkpoint()
                        last_save = time.monotonic()
                    if interrupted:
                        raise RunInterrupted(self.dir, step, stop.signum or signal.SIGINT)
                if bar is not None:
                    bar.close()
                if trainer.step >= planned_end(self.cfg) and self.recipe.finishing():
                    # work after the planned last step (e.g. DRS's critic): the trained state is saved first
                    self.wall_time = time.perf_counter() - start
                    self.save_checkpoint()
                    self.recipe.finish()
                self.wall_time = time.perf_counter() - start
                self.save_checkpoint()
                with stop.abortable():
                    self.metrics = self.evaluate_in_training()
                self.metrics["step"] = trainer.step
                self.metrics["wall_time_s"] = round(self.wall_time, 3)
                self.metrics["threads"] = self.threads
                self.metrics["data_kind"] = self.data.kind
                if writer is not None:
                    for k, v in self.metrics.items():
                        if isinstance(v, (int, float)):
                            writer.add_scalar(f"eval/{k}", v, trainer.step)
            except _Abort as abort:
                raise self._stopped(abort.signum, in_step, start) from None
        if self.is_main:
            rundir.write_atomic(self.dir / "metrics.json", jsonio.dumps(self.metrics, indent=2) + "\n")
            self.plot()
            from gankit.report import write_report

            write_report(self.dir, class_names=getattr(self.data, "class_names", None))
        return self

    def _stopped(self, signum: int, in_step: bool, start: float) -> RunInterrupted:
        """A signal that stopped the run at once: mid-step, the step is abandoned and the last
        checkpoint is what remains; mid-evaluation, the state before it is saved."""
        if in_step:
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

    def evaluate(self, metrics: Iterable[str] | None = None) -> dict[str, Any]:
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
            out.update(METRICS.get(name)(ctx))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        for k, v in ctx.cache.items():
            if k in ("feature_extractor", "feature_protocol"):
                out[k] = v
        return out

    def save_samples(self, writer: Any = None) -> Path | None:
        """Grid of the fixed noise batch (same z every time, one row per class for conditional
        models) as ``samples/step_NNNNNN.png`` and, if enabled, in TensorBoard."""
        if self.data.kind != "images":
            return None
        from gankit.plotting.grid import image_grid, save_image_grid

        k = self.recipe.num_classes
        labels = torch.arange(k).repeat_interleave(10) if k else None
        n = 10 * k if k else 64
        if hasattr(self.recipe, "sample_grid"):  # the recipe's own picture (translation: input | output | target)
            imgs, nrow = self.recipe.sample_grid(32, seed=self.cfg.eval.seed)
        else:
            imgs, nrow = self.recipe.generate(n, labels, seed=self.cfg.eval.seed), 10 if k else 8
        path = save_image_grid(imgs, self.dir / "samples" / f"step_{self.step:06d}.png", nrow=nrow)
        if writer is not None:
            writer.add_image("samples", image_grid(imgs, nrow), self.step, dataformats="HWC")
        return path

    def evaluate_in_training(self) -> dict[str, Any]:
        """:meth:`evaluate` on rank 0, broadcast to every rank, leaving training's RNG
        streams and data position exactly as they were (so evaluating never changes the
        trajectory, and ranks stay in step)."""
        out: dict[str, Any] | None = None
        if self.is_main:
            data_state = self.data.state_dict()
            shard = getattr(self.data, "shard", None)
            if shard is not None:
                self.data.shard = (0, 1)  # metrics draw real data as one process
            devices = [self.device] if self.device.type == "cuda" else []
            try:
                with torch.random.fork_rng(devices=devices):
                    out = self.evaluate()
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


class RunInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM stopped a run; its checkpoint at ``step`` is on disk (``None``: no
    checkpoint had been written). ``abandoned``: the step that was cut short and not saved."""

    def __init__(self, run_dir: Path, step: int | None, signum: int, *, abandoned: int | None = None) -> None:
        self.run_dir, self.step, self.signum, self.abandoned = run_dir, step, int(signum), abandoned
        if step is None:
            text = (f"stopped during step {abandoned}; no checkpoint had been written, so nothing was kept: "
                    f"start the run again")
        elif abandoned is not None:
            text = (f"stopped at once during step {abandoned}, which is lost; the checkpoint of step {step} is kept "
                    f"in {run_dir / 'checkpoint.pt'}; continue with: gankit resume {run_dir}")
        else:
            text = (f"interrupted at step {step}; checkpoint saved in {run_dir / 'checkpoint.pt'}; "
                    f"continue with: gankit resume {run_dir}")
        super().__init__(text)


class RunTooLong(ConfigError):
    """The first steps' speed says the run would train for longer than ``train.max_hours``."""


class _Abort(BaseException):
    """A signal that stops the run at once (raised from the signal handler)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _StopSignals:
    """While training, SIGINT and SIGTERM ask the loop to stop after the current step (it
    then checkpoints and raises :class:`RunInterrupted`). A second signal stops at once, and
    so does the first inside :meth:`abortable` (an evaluation: the training state is the
    step's before it, so it can be saved). Python runs the handler between bytecodes, so
    "at once" is as soon as the torch operation in progress returns."""

    def __init__(self, enabled: bool = True, *, abortable: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.can_abort = abortable
        self.signum: int | None = None
        self.note: str | None = None  # said on the first signal (a slow step: how long it may take)
        self._abortable = self._aborted = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if (self._abortable or not first) and not self._aborted:
            self._abortable, self._aborted = False, True  # once: the checkpoint that follows is not cut
            raise _Abort(self.signum or signum)
        if self.note:
            print(f"\ngankit: {self.note}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def abortable(self) -> Iterator[None]:
        """A stretch of work that a signal may cut short (the caller saves the state before it)."""
        if not (self.enabled and self.can_abort):
            yield
            return
        if self.signum is not None:
            raise _Abort(self.signum)
        self._abortable = True
        try:
            yield
        finally:
            self._abortable = False

    def __enter__(self) -> _StopSignals:
        if self.enabled:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


class _Pace:
    """Times the first training steps after the first (which warms up: allocations, kernel
    choice, compilation) and says how long the run will take at that speed: one line on
    stderr, and :class:`RunTooLong` over ``train.max_hours``. It measures up to
    :attr:`STEPS` steps or :attr:`SECONDS` of them, whichever ends first, so a run of
    two-minute steps is judged after its second step."""

    STEPS = 5
    SECONDS = 5.0
    SLOW_STEP_S = 2.0  # from here on a first Ctrl-C says how long the step in progress may take

    def __init__(self, run: Run, total: int) -> None:
        self.run, self.total = run, total
        self.first = run.step + 1   # the warm-up step, not timed
        self.spent = 0.0
        self.steps = 0
        self.per_step: float | None = None
        self.said: str | None = None  # the estimate, for the caller to print beside its progress bar
        self._cuda = run.device.type == "cuda"

    def timed(self, step_fn: Callable[[], Any]) -> Any:
        """Run one step, timing it while measuring (the device synchronised around it)."""
        if self.per_step is not None or self.run.step < self.first:
            return step_fn()
        self._sync()
        t0 = time.perf_counter()
        out = step_fn()
        self._sync()
        self.spent += time.perf_counter() - t0
        self.steps += 1
        return out

    def _sync(self) -> None:
        if self._cuda:
            torch.cuda.synchronize(self.run.device)

    def measure(self, step: int) -> bool:
        """After a step: True once, when the speed is known (then said and checked)."""
        # under torchrun every rank decides at the same step (a count, not a time) on rank 0's speed
        enough = self.steps >= self.STEPS or (self.spent >= self.SECONDS and not distributed.initialized())
        if self.per_step is not None or not self.steps or not (enough or step >= self.total):
            return False
        self.per_step = distributed.broadcast_object(self.spent / self.steps)
        left = self.total - step
        seconds = left * self.per_step
        t = self.run.cfg.train
        steps = f"steps {step - self.steps + 1}-{step}" if self.steps > 1 else f"step {step}"
        what = (f"{_duration(self.per_step)} a step ({steps}): the {left:,} steps to go take about "
                f"{_duration(seconds)} at this speed")
        if t.max_hours and seconds > t.max_hours * 3600:
            raise RunTooLong(f"this run would train too long: {what}, over train.max_hours={t.max_hours:g}; allow it with --set train.max_hours="
                             f"{math.ceil(seconds / 3600 * 1.2)} (gankit resume: --max-hours; 0 = no limit), "
                             "or shorten the run (train.steps, train.batch_size, smaller networks)")
        if self.run.is_main and t.progress and left:
            evals = f"; evaluations every {t.eval_every} steps come on top" if t.eval_every else ""
            self.said = what + evals
        return True

    def stop_note(self) -> str | None:
        if self.per_step is None or self.per_step < self.SLOW_STEP_S:
            return None
        return (f"stopping after the step in progress (about {_duration(self.per_step)} a step) and saving it; "
                "a second Ctrl-C stops at once and keeps the last checkpoint")


def _duration(seconds: float) -> str:
    """``0.012 s``, ``2.5 s``, ``14 min``, ``3 h 20 min``, ``6.2 days``."""
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
    if seconds < 48 * 3600:
        h, m = divmod(round(seconds / 60), 60)
        return f"{h} h {m} min"
    return f"{seconds / 86400:.1f} days"


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def _trim_log(path: Path, step: int) -> None:
    """Drop ``metrics.jsonl`` rows past ``step`` (a run resumed from an earlier checkpoint
    logs those steps again) and a partial last line left by a killed process."""
    if not path.is_file():
        return
    lines = path.read_text(errors="replace").splitlines(keepends=True)
    keep = []
    for line in lines:
        try:
            row = jsonio.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            keep.append(line if line.endswith("\n") else line + "\n")
    if keep != lines:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(keep))
        os.replace(tmp, path)


def _note(text: str, bar: Any = None) -> None:
    if bar is not None:  # above the progress bar, which is redrawn below it
        bar.write(f"gankit: {text}", file=sys.stderr)
    else:
        print(f"gankit: {text}", file=sys.stderr, flush=True)


def choose_threads(cfg: Config, data: DataSource, recipe: Any, device: torch.device, world: int = 1) -> tuple[int, str]:
    """Set torch's CPU thread count for the work and say why.

    Small MLPs on point data do a few microseconds of arithmetic per operation: a second
    thread only adds synchronisation, and on a shared machine a spinning OpenMP thread
    waits for a busy core (measured 78-88 ms per default step at 2 threads under load,
    a few ms on one). Convolutions have work to split, so they get every core this process
    may use (divided between the processes of a torchrun job). ``train.threads`` or the
    ``OMP_NUM_THREADS`` environment variable override the choice."""
    if cfg.train.threads > 0:
        n, why = cfg.train.threads, "train.threads"
    elif os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads(), "OMP_NUM_THREADS"
    elif device.type != "cpu":
        return torch.get_num_threads(), f"torch's default; the networks run on {device.type}"
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        params = sum(p.numel() for m in recipe.modules().values() for p in m.parameters())
        if data.kind == "points" and params < 2_000_000:
            n, why = 1, "small networks on point data run fastest on one thread; train.threads=N overrides"
        else:
            # Only the cores that are free now: a thread whose core is busy with another process
            # stalls the others at every barrier (measured: a cDCGAN at 2 threads on 2 cores at
            # load 7-8 ran 0.26 steps/s, at 1 thread 11.5 steps/s; on an idle machine 2 threads are
            # ~2.5x faster than 1). Measured for every run, so it adapts to the machine as the
            # user finds it.
            share = max(1, cores // max(1, world))
            load = others_busy_cores()
            free = max(1, min(share, int(cores - load + 0.5)))
            n = free
            why = (f"{n} of {cores} cores for convolutional work (other processes keep {load:.1f} busy); "
                   "train.threads=N overrides"
                   if n < share else f"{cores} cores for convolutional work; train.threads=N overrides")
    torch.set_num_threads(n)
    return n, why


def others_busy_cores(window: float = 0.2) -> float:
    """How many cores other processes keep busy right now: the machine's busy time over a
    short window from /proc/stat, less this process's own (so a long benchmark does not count
    its previous runs). Elsewhere, the 1-minute load average."""
    def machine() -> tuple[float, float]:
        with open("/proc/stat") as f:
            v = [float(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0.0)
        return sum(v) - idle, sum(v)

    try:
        b0, t0 = machine()
        c0 = time.process_time()
        time.sleep(window)
        b1, t1 = machine()
        own = time.process_time() - c0
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = (t1 - t0) / ticks / window if t1 > t0 else 1.0
    return max(0.0, ((b1 - b0) / ticks - own) / window) if cores > 0 else 0.0


def check_new_run_dir(path: Path) -> None:
    """A new run needs a directory that is absent, empty, or a gankit run stopped before its
    first checkpoint (:func:`gankit.training.rundir.check_new`)."""
    rundir.check_new(path)


def _progress(run: Run, total: int) -> Any:
    if not (run.cfg.train.progress and run.is_main):
        return None
    from tqdm.auto import tqdm

    # smoothing 0.05: the ETA follows a long average of the step rate, so a busy moment on a
    # shared machine does not swing it (tqdm's 0.3 swung from 6 min to 1 h 48 min under load)
    return tqdm(total=total, initial=run.step, desc=run.dir.name, unit="step", dynamic_ncols=True, mininterval=0.5,
                smoothing=0.05)


def _tensorboard(run: Run) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(run.dir / "tensorboard"))


def run_name(cfg: Config) -> str:
    """What ran, for the run directory's name: model, objective, data (``gan-ns-ring``,
    ``cdcgan-ns-fashion-mnist``, ``aae-ns-digits``, ``wgan-gp`` shows as ``gan-wgan-gp-ring``)."""
    if cfg.model.name != "gan":
        model = cfg.model.name
    else:
        model = {"mlp": "gan"}.get(cfg.generator.name, cfg.generator.name)
        model = ("c" + model) if cfg.conditional else model
    loss = cfg.loss.name
    if loss == "fgan":
        loss = f"fgan-{cfg.loss.options.get('divergence', '')}".rstrip("-")
    if cfg.penalty.name not in ("none", ""):
        loss = f"{loss}-{cfg.penalty.name}"
    data = cfg.data.name
    if data in ("folder", "npz", "points"):
        path = str(cfg.data.options.get("path", "")).rstrip("/")
        stem = Path(path).stem if path else ""
        data = f"{data}-{stem}" if stem else data
    return "-".join(part for part in (model, loss, data) if part)


def _new_run_dir(cfg: Config) -> Path:
    base = Path(cfg.out_dir)
    name = cfg.name or f"{run_name(cfg)}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = base / name
    i = 2
    while path.exists() and cfg.name is None:
        path = base / f"{name}-{i}"
        i += 1
    return path


def train(config: Config | Mapping[str, Any] | None = None, *, overrides: Iterable[str] = (),
          run_dir: str | Path | None = None, **fit_kwargs: Any) -> Run:
    """Train a GAN. ``config``: a Config, a nested dict, or None for the default; ``overrides``:
    ``["loss=wgan", "train.steps=500"]``. Returns the finished :class:`Run`.

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
        run_dir = distributed.broadcast_object(str(_new_run_dir(cfg)))
    check_new_run_dir(Path(run_dir))
    absolute_data_paths(cfg)
    run = Run(cfg, Path(run_dir))
    return run.fit(**fit_kwargs)


def absolute_data_paths(cfg: Config) -> None:
    """Record the data's files as absolute paths, so that the run reopens (eval, sample,
    resume) from any working directory."""
    for key in ("path", "file"):
        value = cfg.data.options.get(key)
        if isinstance(value, str) and value:
            cfg.data.options[key] = str(Path(value).expanduser().resolve())


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
    (see :func:`gankit.training.loop.lr_factor`); :func:`describe_schedule` says so.
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
                _note(describe_schedule(run.cfg))
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
