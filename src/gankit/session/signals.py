"""SIGINT and SIGTERM while a run trains: stop after the step in progress, or at once.

A first signal asks the loop to stop after the current step (it then checkpoints and raises
:class:`RunInterrupted`); a second stops at once, and so does the first during an
evaluation (:meth:`StopSignals.abortable`), whose training state is the step's before it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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


class Abort(BaseException):
    """A signal that stops the run at once (raised from the signal handler)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StopSignals:
    """While training, SIGINT and SIGTERM set :attr:`signum` for the loop to stop after the
    current step. A second signal raises :class:`Abort`, and so does the first inside
    :meth:`abortable`. Python runs the handler between bytecodes, so "at once" is as soon as
    the torch operation in progress returns. Only the main thread can install handlers;
    elsewhere (and with ``enabled=False``) signals keep their usual meaning."""

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
            raise Abort(self.signum or signum)
        if self.note:
            print(f"\ngankit: {self.note}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def abortable(self) -> Iterator[None]:
        """A stretch of work that a signal may cut short (the caller saves the state before it)."""
        if not (self.enabled and self.can_abort):
            yield
            return
        if self.signum is not None:
            raise Abort(self.signum)
        self._abortable = True
        try:
            yield
        finally:
            self._abortable = False

    def __enter__(self) -> StopSignals:
        if self.enabled:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


__all__ = ["Abort", "RunInterrupted", "StopSignals"]
