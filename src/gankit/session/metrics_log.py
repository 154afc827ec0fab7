"""``RUN_DIR/metrics.jsonl``: one JSON row per logging step and per periodic evaluation.

Rows reach the file as they are written (line-buffered), so a killed run keeps its log;
a resumed run first drops the rows past its checkpoint (:func:`gankit.session.rundir.trim_log`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from gankit import jsonio
from gankit.session.callbacks import Callback

if TYPE_CHECKING:
    from gankit.session.run import Run


class MetricsLog(Callback):
    """Appends ``{"step", **logs}`` (the row the run keeps in ``run.history``) and
    ``{"step", "eval": metrics}`` to ``metrics.jsonl``."""

    def __init__(self) -> None:
        self.file: IO[str] | None = None

    def on_fit_start(self, run: Run) -> None:
        self.file = open(run.dir / "metrics.jsonl", "a", buffering=1)

    def on_step(self, run: Run, step: int, logs: dict[str, float] | None) -> None:
        if logs is not None and self.file is not None:
            self.file.write(jsonio.dumps(run.history[-1]) + "\n")

    def on_eval(self, run: Run, step: int, metrics: Mapping[str, Any]) -> None:
        if self.file is not None:
            self.file.write(jsonio.dumps({"step": step, "eval": metrics}) + "\n")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


__all__ = ["MetricsLog"]
