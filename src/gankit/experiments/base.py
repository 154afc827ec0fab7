"""The experiment framework: a registry of the notes' claims, each a runnable check.

An experiment is a function registered in :data:`EXPERIMENTS` whose keyword-only typed
arguments are its options (``seed`` among them, with a fixed default). It computes (or
trains) and returns an :class:`ExperimentResult`: a table, headline numbers, the arrays
its figure needs, and whether the claim held at these settings. The registry entry
carries ``claim=`` (the sentence of the notes being checked) and ``plot=`` (a function
``(result, path) -> None`` from :mod:`gankit.plotting.experiments`, which only draws).

:func:`run` validates the options, runs the experiment and writes its run directory::

    runs/experiments/NAME-YYYYmmdd-HHMMSS/
        result.json    options, claim, table, summary, holds, series
        NAME.png       the figure
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import CheckpointError
from gankit.registry import Registry

DEFAULT_ROOT = Path("runs") / "experiments"


@dataclasses.dataclass
class ExperimentResult:
    """What an experiment found.

    Attributes:
        name: registry name.
        claim: the claim of the notes being checked.
        columns: table header.
        rows: table body, one list per row (numbers, strings, bools).
        summary: headline numbers (what a README table or a test quotes).
        holds: whether the claim held at these settings.
        series: arrays the figure draws (trajectories, curves); lists or numpy arrays.
        options: the resolved options (filled in by :func:`run`).
        run_dir: where :func:`run` wrote ``result.json`` and the figure.
    """

    name: str
    claim: str
    columns: list[str]
    rows: list[list[Any]]
    summary: dict[str, float]
    holds: bool
    series: dict[str, Any] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    run_dir: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return _plain({
            "name": self.name, "claim": self.claim, "holds": self.holds, "options": self.options,
            "summary": self.summary, "columns": self.columns, "rows": self.rows, "series": self.series,
        })

    @classmethod
    def load(cls, run_dir: str | Path) -> ExperimentResult:
        """Read ``run_dir/result.json`` back (series come back as lists)."""
        path = Path(run_dir) / "result.json"
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise CheckpointError(f"cannot read experiment result {path}: {e}") from None
        return cls(d["name"], d["claim"], d["columns"], d["rows"], d["summary"], d["holds"],
                   d.get("series", {}), d.get("options", {}), Path(run_dir))


# An experiment: keyword-only options -> ExperimentResult. Registry meta: claim=..., plot=...
# An experiment that writes files of its own (training runs, sample grids) declares a
# ``run_dir: Path`` argument; the framework passes the (already created) run directory.
Experiment = Callable[..., ExperimentResult]
EXPERIMENTS: Registry[Experiment] = Registry("experiment", context=("run_dir",))


def run(name: str, out_dir: str | Path | None = None, *, plot: bool = True, **options: Any) -> ExperimentResult:
    """Run experiment ``name`` with ``options`` and write its run directory.

    Unknown options or wrong types raise :class:`gankit.errors.ConfigError` before anything
    runs. ``out_dir`` defaults to ``runs/experiments/NAME-YYYYmmdd-HHMMSS`` (relative to the
    working directory). ``plot=False`` skips the figure. Returns the result with ``options``
    and ``run_dir`` set.
    """
    entry = EXPERIMENTS.entry(name)
    resolved = EXPERIMENTS.resolve(name, options)
    run_dir = Path(out_dir) if out_dir is not None else _fresh_dir(name)
    run_dir.mkdir(parents=True, exist_ok=True)
    context = {"run_dir": run_dir} if "run_dir" in inspect.signature(entry.factory).parameters else {}
    result = entry.factory(**context, **resolved)
    result.options = resolved
    result.run_dir = run_dir
    _write_json(run_dir / "result.json", {**result.to_json(), "paper": entry.paper, "description": entry.summary})
    plotter = entry.meta.get("plot")
    if plot and plotter is not None:
        plotter(result, run_dir / f"{name}.png")
    return result


def describe() -> list[tuple[str, str, str]]:
    """``(name, one-line description, claim)`` of every registered experiment."""
    return [(e.name, e.summary, e.meta.get("claim", "")) for e in EXPERIMENTS]


def format_table(result: ExperimentResult) -> str:
    """The result as plain text: claim, aligned table, summary numbers, verdict."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]

    def line(row: list[str]) -> str:  # first column left-aligned (labels), the rest right (numbers)
        return "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths)))

    out = [f"{result.name}: {result.claim}", "", line(result.columns), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    if result.summary:
        out.append("")
        out += [f"{k} = {_cell(v)}" for k, v in result.summary.items()]
    out += ["", f"claim holds at these settings: {'yes' if result.holds else 'NO'}"]
    return "\n".join(out)


def relative_error(measured: float, expected: float) -> float:
    """``|measured - expected| / |expected|`` (absolute error when ``expected`` is 0)."""
    return abs(measured - expected) / (abs(expected) if expected != 0 else 1.0)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)):
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return f"{v:.6g}"
    return str(v)


def _fresh_dir(name: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = DEFAULT_ROOT / f"{name}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _plain(x: Any) -> Any:
    """numpy / torch / tuples / paths -> JSON-able Python values."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, (list, tuple)) or (isinstance(x, Sequence) and not isinstance(x, (str, bytes))):
        return [_plain(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None   # strict JSON has no NaN / inf
    if isinstance(x, Path):
        return str(x)
    return x


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)
