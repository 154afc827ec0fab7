"""How long a run will take, judged from its first steps, and the refusal of one too long.

The first step warms up (allocations, kernel choice, compilation) and is not timed; the
next ones are, up to :attr:`Pace.STEPS` steps or :attr:`Pace.SECONDS` of them, whichever
ends first, so a run of two-minute steps is judged after its second step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from gankit.errors import ConfigError
from gankit.engine import distributed

if TYPE_CHECKING:
    from gankit.session.run import Run


class RunTooLong(ConfigError):
    """The first steps' speed says the run would train for longer than ``train.max_hours``."""


class Pace:
    """Times the first training steps of ``run`` (training to step ``total``) and says how
    long the run will take at that speed: :attr:`said`, one line for the caller to print,
    and :class:`RunTooLong` over ``train.max_hours``."""

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
        what = (f"{duration(self.per_step)} a step ({steps}): the {left:,} steps to go take about "
                f"{duration(seconds)} at this speed")
        if t.max_hours and seconds > t.max_hours * 3600:
            raise RunTooLong(f"this run would train too long: {what}, over train.max_hours={t.max_hours:g}; allow it with --set train.max_hours="
                             f"{math.ceil(seconds / 3600 * 1.2)} (gankit resume: --max-hours; 0 = no limit), "
                             "or shorten the run (train.steps, train.batch_size, smaller networks)")
        if self.run.is_main and t.progress and left:
            evals = f"; evaluations every {t.eval_every} steps come on top" if t.eval_every else ""
            self.said = what + evals
        return True

    def stop_note(self) -> str | None:
        """What a first Ctrl-C says when steps are slow: how long the step in progress may take."""
        if self.per_step is None or self.per_step < self.SLOW_STEP_S:
            return None
        return (f"stopping after the step in progress (about {duration(self.per_step)} a step) and saving it; "
                "a second Ctrl-C stops at once and keeps the last checkpoint")


def duration(seconds: float) -> str:
    """``0.012 s``, ``2.5 s``, ``14 min``, ``3 h 20 min``, ``6.2 days``."""
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
    if seconds < 48 * 3600:
        h, m = divmod(round(seconds / 60), 60)
        return f"{h} h {m} min"
    return f"{seconds / 86400:.1f} days"


__all__ = ["Pace", "RunTooLong", "duration"]
