"""TensorBoard (``train.tensorboard``): ``RUN_DIR/tensorboard/`` with the training logs as
``train/*``, every evaluation as ``eval/*`` and the sample grids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gankit.session.callbacks import Callback

if TYPE_CHECKING:
    from gankit.session.run import Run


class TensorBoardLog(Callback):
    """Scalars of every logging step and evaluation, the final evaluation's included;
    :attr:`writer` is there for other callbacks' images (:class:`~gankit.session.samples.SampleGrids`)."""

    def __init__(self) -> None:
        self.writer: Any = None

    def on_fit_start(self, run: Run) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run.dir / "tensorboard"))

    def on_step(self, run: Run, step: int, logs: dict[str, float] | None) -> None:
        for k, v in (logs or {}).items():
            self.writer.add_scalar(f"train/{k}", v, step)

    def on_eval(self, run: Run, step: int, metrics: Mapping[str, Any]) -> None:
        for k, v in metrics.items():
            if isinstance(v, (int, float)):
                self.writer.add_scalar(f"eval/{k}", v, step)

    def on_fit_end(self, run: Run) -> None:
        self.on_eval(run, run.step, run.metrics)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


__all__ = ["TensorBoardLog"]
