"""What a finished run leaves for the reader: ``metrics.json`` (the final evaluation),
the plots and ``report.html``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gankit import jsonio
from gankit.session import rundir
from gankit.session.callbacks import Callback

if TYPE_CHECKING:
    from gankit.session.run import Run


class FinalOutputs(Callback):
    """Writes ``metrics.json`` (whole or not at all), the run's plots (:meth:`Run.plot`) and
    its report page once training and the final evaluation are done."""

    def on_fit_end(self, run: Run) -> None:
        rundir.write_atomic(run.dir / "metrics.json", jsonio.dumps(run.metrics, indent=2) + "\n")
        run.plot()
        from gankit.report import write_report

        write_report(run.dir, class_names=run.data.class_names)


__all__ = ["FinalOutputs"]
