"""How every benchmark runs: a list of jobs, here or in spawned processes, with results in the
jobs' order; and the one way a benchmark trains a run from scratch and times it."""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")


def run_jobs(fn: Callable[..., R], jobs: Sequence[Sequence[Any]], *, workers: int = 1, threads: int | None = None,
             desc: str | None = None, postfix: Callable[[R], str] | None = None,
             echo: Callable[[R], str] | None = None) -> list[R]:
    """``fn(*job)`` for every job, in ``workers`` processes (1: in this one), each with
    ``threads`` torch threads (None: as they are); the results in the jobs' order, whatever
    order they finished in. ``desc``: a progress bar with that name, ``postfix`` what it says
    of a finished job; ``echo``: a line printed for each finished job."""
    if threads is not None:
        fn = functools.partial(_with_threads, threads, fn)
    results: list[Any] = [None] * len(jobs)
    bar = None
    if desc is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=desc, unit="run", dynamic_ncols=True, smoothing=0.05)

    def done(i: int, result: R) -> None:
        results[i] = result
        if echo is not None:
            print(echo(result), flush=True)
        if bar is not None:
            if postfix is not None:
                bar.set_postfix_str(postfix(result), refresh=False)
            bar.update(1)

    if workers == 1:
        import torch

        before = torch.get_num_threads()
        try:
            for i, job in enumerate(jobs):
                done(i, fn(*job))
        finally:
            torch.set_num_threads(before)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: a forked child would inherit the parent's OpenMP state, which is not fork-safe
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
            for f in as_completed(futures):
                done(futures[f], f.result())
    if bar is not None:
        bar.close()
    return results


def _with_threads(threads: int, fn: Callable[..., R], *args: Any) -> R:
    import torch

    torch.set_num_threads(threads)
    return fn(*args)


@dataclass
class Timed:
    """A run trained by :func:`train_timed` and what it cost: ``wall_s`` and ``cpu_s`` (this
    process's CPU time, so that runs beside each other are compared by their own work) of the
    whole call (building, training, the final evaluation), the load averages at its start and
    end; ``run`` is None and ``diverged`` says why where the loss blew up."""

    run: Any
    wall_s: float
    cpu_s: float
    load_start: tuple[float, ...]
    load_end: tuple[float, ...]
    diverged: str = ""

    @property
    def train_s(self) -> float:
        """The training loop's own wall time (no evaluation), NaN for a diverged run."""
        return math.nan if self.run is None else float(self.run.wall_time)


def train_timed(cfg: Any, run_dir: Path, *, keep_checkpoint: bool = True,
                callbacks: Iterable[Callable[..., None]] = (), allow_divergence: bool = False,
                run: Any = None) -> Timed:
    """Train ``cfg`` in ``run_dir`` from scratch with :func:`gankit.session.train` and time it.

    A gankit run left in ``run_dir`` by an earlier bench is removed first, so that the run does
    not resume it (any other content is refused by ``train``). ``callbacks`` go to ``Run.fit``;
    without ``keep_checkpoint`` the checkpoint file is deleted afterwards (the returned run
    keeps its networks in memory); ``allow_divergence``: a loss that became NaN/inf gives a
    :class:`Timed` without a run instead of raising. ``run``: a ``Run`` of ``cfg`` in
    ``run_dir`` built (not yet trained) by the caller, to evaluate its untrained state first;
    it is trained with ``Run.fit`` and timed from there."""
    from gankit.session import train
    from gankit.session.rundir import remove_run

    run_dir = Path(run_dir)
    if run is not None:  # built by the caller: its directory is cleared here, as train(replace=True) does
        remove_run(run_dir)
    load0 = _load()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        run = train(cfg, run_dir=run_dir, replace=True, callbacks=list(callbacks)) if run is None else \
            run.fit(callbacks=list(callbacks))
    except FloatingPointError as e:  # the loop refuses a non-finite loss
        if not allow_divergence:
            raise
        return Timed(None, time.perf_counter() - t0, time.process_time() - c0, load0, _load(), str(e))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if not keep_checkpoint:
        (run.dir / "checkpoint.pt").unlink(missing_ok=True)
    return Timed(run, wall, cpu, load0, _load())


def _load() -> tuple[float, ...]:
    try:
        return os.getloadavg()
    except OSError:
        return (math.nan,) * 3
