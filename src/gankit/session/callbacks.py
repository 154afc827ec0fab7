"""What a run does around its loop, as callbacks on the run's events (minGPT's trainer,
stylegan2-ada's training loop).

:class:`~gankit.session.run.Run` keeps the loop, the evaluations and the checkpoints; the
rest (``metrics.jsonl``, the progress bar, TensorBoard, sample grids, the final outputs) is
a :class:`Callback` each. A user's plain function ``fn(run, logs)`` is one too
(:func:`as_callback`): it is called after every step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gankit.engine.loop import read_logs

if TYPE_CHECKING:
    from gankit.session.run import Run


class Callback:
    """The run's events, in order; every method does nothing unless overridden.

    ``on_fit_start`` once the run directory is held, before the first step; ``on_step``
    after every step, with the step's logs (averaged over ranks) on logging steps and None
    between them; ``on_eval`` after each periodic evaluation; ``on_fit_end`` once the last
    checkpoint is written and the final evaluation is in ``run.metrics`` (not after an
    interruption or an error); ``close`` always, last."""

    def on_fit_start(self, run: Run) -> None:
        pass

    def on_step(self, run: Run, step: int, logs: dict[str, float] | None) -> None:
        pass

    def on_eval(self, run: Run, step: int, metrics: Mapping[str, Any]) -> None:
        pass

    def on_fit_end(self, run: Run) -> None:
        pass

    def close(self) -> None:
        pass


class EveryStep(Callback):
    """``fn(run, logs)`` after every step; between logging steps ``logs`` are the step's own
    (read from its tensors, which waits for the device: for tests and experiments)."""

    def __init__(self, fn: Callable[[Run, dict[str, float]], None]) -> None:
        self.fn = fn

    def on_step(self, run: Run, step: int, logs: dict[str, float] | None) -> None:
        self.fn(run, logs if logs is not None else read_logs(run.step_logs))


def as_callback(cb: Callback | Callable[[Run, dict[str, float]], None]) -> Callback:
    """A :class:`Callback` as it is; a function ``fn(run, logs)`` as :class:`EveryStep`."""
    return cb if isinstance(cb, Callback) else EveryStep(cb)


__all__ = ["Callback", "EveryStep", "as_callback"]
