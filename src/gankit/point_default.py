"""How the default preset adapts to a user's file of points.

The default preset (``presets/default.yaml``) was chosen on 2-D mixtures: its latent is a
32-piece categorical code and **two** Gaussian coordinates, so within one piece of the code
the generator draws a 2-D sheet. A user's file often has more columns: a cluster that spreads
in 6 dimensions cannot be filled by a 2-D sheet, and a classifier tells such samples from the
data at once. When the data is a finite set of points (a file, ``points:PATH``) with more than
two columns, the layer below the user's gives the latent as many Gaussian coordinates as the
data has columns (``latent_dim`` = 32 + d) and, below 20,000 rows, batches of 256 instead of
1,024 (as good by the classifier test, in 0.44 of the time). It was chosen on the ``users``
family of ``gankit bench generalise`` (family seed 0) and is reported on another
(docs/default-preset.md).

One line says what it chose (:func:`describe`); the values are an ordinary config layer
(``point default`` in ``--dry-run``), overridden by a preset, a file or ``--set``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gankit.errors import GankitError

CODE_PIECES = 32     # the default preset's categorical code (model.prior.components)
FEW_ROWS = 20_000    # below this many rows a wide file trains on batches of SMALL_BATCH (default preset: 1,024)
SMALL_BATCH = 256


def point_facts(data: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(rows, columns)`` of the finite point data a raw ``data`` section names, or None
    (not points, not finite, or not readable: training then reports the problem itself)."""
    from gankit.capabilities import FiniteData
    from gankit.data import DATASETS

    name = str(data.get("name", ""))
    options = {k: v for k, v in data.items() if k != "name"}
    if ":" in name:   # points:FILE
        name, options["path"] = name.split(":", 1)
    if name not in DATASETS:
        return None
    try:
        src = DATASETS.build(name, options)
    except GankitError:
        return None
    if getattr(src, "kind", "points") != "points" or not isinstance(src, FiniteData):
        return None
    x = getattr(src, "x", None)
    if x is None or x.dim() != 2:
        return None
    return int(x.shape[0]), int(x.shape[1])


def layer(facts: tuple[int, int]) -> dict[str, Any] | None:
    """The layer for ``(rows, columns)``: None where the default preset already fits (2 columns)."""
    rows, d = facts
    if d <= 2:
        return None
    out: dict[str, Any] = {"model": {"latent_dim": CODE_PIECES + d}}
    if rows < FEW_ROWS:
        out["train"] = {"batch_size": SMALL_BATCH}
    return out


def describe(facts: tuple[int, int]) -> str:
    rows, d = facts
    batch = f", batches of {SMALL_BATCH} (for < {FEW_ROWS:,} rows)" if rows < FEW_ROWS else ""
    return (f"point default: {rows:,} rows of {d} columns -> a latent of the {CODE_PIECES}-piece code and {d} "
            f"Gaussian coordinates (one per column; the default preset has 2){batch}; --set model.latent_dim "
            "or train.batch_size changes it")
