"""A run: its directory, the session around the loop and the callbacks on its events.

:func:`train`, :func:`resume` and :func:`load_run` are the entrances the command line, the
benches and the experiments share; :class:`Run` keeps the loop around the recipe's steps and
its checkpoints, and the outputs (``metrics.jsonl``, the progress bar, TensorBoard, sample
grids, ``metrics.json``, plots and the report page) attach as callbacks
(:mod:`gankit.session.callbacks`).
"""

from gankit.session.run import Run, load_run, resume, train

__all__ = ["Run", "load_run", "resume", "train"]
