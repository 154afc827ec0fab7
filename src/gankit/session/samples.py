"""Sample grids while training (``train.sample_every``): ``RUN_DIR/samples/step_NNNNNN.png``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gankit.capabilities import DrawsSampleGrid
from gankit.session.callbacks import Callback

if TYPE_CHECKING:
    from gankit.session.run import Run
    from gankit.session.tensorboard_log import TensorBoardLog


def save_samples(run: Run, writer: Any = None) -> Path | None:
    """Grid of the fixed noise batch (same z every time, one row per class for conditional
    models) as ``samples/step_NNNNNN.png`` and, given a TensorBoard ``writer``, there too.
    Image data only (None otherwise)."""
    if run.data.kind != "images":
        return None
    from gankit.plotting.grid import image_grid, save_image_grid

    recipe, seed = run.recipe, run.cfg.eval.seed
    k = recipe.num_classes
    labels = torch.arange(k).repeat_interleave(10) if k else None
    n = 10 * k if k else 64
    if isinstance(recipe, DrawsSampleGrid):  # the recipe's own picture (translation: input | output | target)
        imgs, nrow = recipe.sample_grid(32, seed=seed)
    else:
        imgs, nrow = recipe.generate(n, labels, seed=seed), 10 if k else 8
    path = save_image_grid(imgs, run.dir / "samples" / f"step_{run.step:06d}.png", nrow=nrow)
    if writer is not None:
        writer.add_image("samples", image_grid(imgs, nrow), run.step, dataformats="HWC")
    return path


class SampleGrids(Callback):
    """:func:`save_samples` every ``every`` steps, into ``board``'s TensorBoard as well."""

    def __init__(self, every: int, board: TensorBoardLog | None = None) -> None:
        self.every, self.board = every, board

    def on_step(self, run: Run, step: int, logs: dict[str, float] | None) -> None:
        if step % self.every == 0:
            save_samples(run, self.board.writer if self.board is not None else None)


__all__ = ["SampleGrids", "save_samples"]
