"""The training progress bar (tqdm) and the lines said beside it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from gankit.session.callbacks import Callback

if TYPE_CHECKING:
    from gankit.session.run import Run

# The logs shown after the bar, when a step logs them.
SHOWN = ("d_loss", "g_loss", "D(x)", "D(G(z))", "recon_mse")


def say(text: str) -> None:
    """One line for the user on stderr, above the progress bar if one is drawn (tqdm redraws
    the bar below it)."""
    from tqdm.auto import tqdm

    tqdm.write(f"gankit: {text}", file=sys.stderr)


class ProgressBar(Callback):
    """A bar from the run's step to ``total``, closed when the last step is done (before
    the work after it, which shows its own bars)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Any = None

    def on_fit_start(self, run: Run) -> None:
        from tqdm.auto import tqdm

        # smoothing 0.05: the ETA follows a long average of the step rate, so a busy moment on a
        # shared machine does not swing it (tqdm's 0.3 swung from 6 min to 1 h 48 min under load)
        self.bar = tqdm(total=self.total, initial=run.step, desc=run.dir.name, unit="step", dynamic_ncols=True,
                        mininterval=0.5, smoothing=0.05)
        if run.step >= self.total:
            self.close()

    def on_step(self, run: Run, step: int, logs: dict[str, float] | None) -> None:
        if self.bar is None:
            return
        if logs is not None:
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items() if k in SHOWN}, refresh=False)
        self.bar.update(1)
        if step >= self.total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


__all__ = ["ProgressBar", "say"]
