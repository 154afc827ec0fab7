"""``data=points:PATH``: a user's own point data, ``(N, d)`` in any dimension and any range.

Files: ``.npy`` (one array), ``.npz`` (array ``x``, or the file's single array, and optional
labels ``y``) and text tables ``.csv`` / ``.tsv`` / ``.txt`` (numbers separated by commas,
semicolons, tabs or spaces; an optional header row of column names; ``#`` comment lines and
blank lines skipped). Labels are optional (``data.labels``): integers or strings (``well``,
``pump``), mapped in sorted order to classes ``0..K-1`` whose names are the values themselves;
``conditional=true`` makes G and D use them (without it a run notes that it does not).

The points keep their own units: ``train.standardize=true`` (on in the ``default`` preset)
trains on ``(x - mean) / std`` of the training split and ``gankit sample`` maps back. A fixed,
seeded ``data.test_fraction`` of the rows (10 %) is held out of training; the ``twosample``
metric compares generated points with it, next to the training split's own distance to it.

Every problem with the file is one line naming it (:class:`~gankit.errors.DataError`):
missing or unreadable, empty, not numeric (strings, objects), NaN or Inf (the first bad row
named), not ``(N, d)``, fewer than 2 rows, labels that are empty, fractional or not one per row.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from gankit.data.base import DATASETS, DataSource, TensorSource
from gankit.errors import DataError
from gankit.registry import Fraction, Seed

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
SUFFIXES = (".npy", ".npz", *TEXT_SUFFIXES)
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Coordinates of a point. G's last layer and D's first hold width x d weights each, and a
# checkpoint holds them about ten times over (G, EMA G, D, DRS's critic, Adam's two moments):
# d = 1,000,000 would make a 5 GB checkpoint. Images belong to data=npz:PATH.
MAX_DIM = 16_384
# Numbers in a points file (N x d), checked from a .npy / .npz header before anything is
# read: 2 GiB as float64, the precision the file is read in.
MAX_VALUES = 1 << 28


class PointsSource(TensorSource):
    """Finite point data: the training split ``x (N, d)`` (labels ``y (N,)`` or None) that
    batches are drawn from, and the held-out split ``test_x (M, d)`` / ``test_y`` (``M`` may
    be 0) that only the metrics see. ``columns``: the coordinates' names (a header's), or None;
    ``label_column``: the label column or array the user named (``data.labels``), or None."""

    def __init__(self, x: Tensor, y: Tensor | None, *, name: str, num_classes: int = 0,
                 class_names: list[str] | None = None, test_x: Tensor | None = None,
                 test_y: Tensor | None = None, columns: list[str] | None = None,
                 label_column: str | None = None) -> None:
        super().__init__(x, y, name=name, num_classes=num_classes, kind="points", class_names=class_names)
        self.test_x = x[:0] if test_x is None else test_x
        self.test_y = test_y
        self.columns = columns
        self.label_column = label_column

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        """A batch as :class:`TensorSource` draws it; a request for more rows than the training
        split holds (a scatter plot of 2,500 points of a 500-point file) gets every row, in an
        order drawn from ``generator``, and leaves the epoch's position untouched."""
        if n * self.shard[1] <= len(self):
            return super().sample(n, generator)
        idx = torch.randperm(len(self), generator=generator)
        return self.x[idx], (None if self.y is None else self.y[idx])


# --------------------------------------------------------------------------- reading files

def _check_numeric(a: np.ndarray, where: str) -> None:
    if a.dtype.names is not None:
        raise DataError(f"{where}: a structured array (fields {', '.join(a.dtype.names)}) is not a point array; "
                        "save a plain (N, d) array of numbers")
    if a.dtype == object:
        raise DataError(f"{where}: an object array is not a point array; save numbers (float or int)")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise DataError(f"{where}: points must be numbers (float or int), got dtype {a.dtype}")


def _npy_shape(f: Any) -> tuple[int, ...] | None:
    """The array shape in the header of the .npy file ``f`` (read from its start), or None when the
    header cannot be read (the full load then names the problem)."""
    try:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        shape = read[version](f)[0]
    except Exception:  # noqa: BLE001 - any damage: left to the load's own messages
        return None
    return tuple(int(n) for n in shape)


def _check_values(shape: tuple[int, ...] | None, where: str) -> None:
    """Refuse an array of more than :data:`MAX_VALUES` numbers before it is read."""
    if shape is not None and math.prod(shape) > MAX_VALUES:
        raise DataError(f"{where}: an array of shape {shape} holds {math.prod(shape):,} numbers; a points file "
                        f"may hold at most {MAX_VALUES:,} (N x d); subsample the rows")


def _load_npy(p: Path) -> np.ndarray:
    try:
        with open(p, "rb") as f:
            _check_values(_npy_shape(f), str(p))
        return np.load(p, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DataError(f"{p}: an object array (pickled Python objects) is not a point array; "
                            "save numbers (float or int)") from None
        raise DataError(f"{p} is not a readable .npy file ({_first_line(e)})") from None
    except (EOFError, OSError) as e:
        if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise DataError(f"cannot read points file {p}: {e.strerror}") from None
        raise DataError(f"{p} is not a readable .npy file ({_first_line(e) or 'empty or truncated'})") from None


def _load_npz(p: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(p, allow_pickle=False) as f:
            out = {}
            for k in f.files:
                try:
                    with f.zip.open(k + ".npy" if k + ".npy" in f.zip.namelist() else k) as member:
                        _check_values(_npy_shape(member), f"{p}: array {k!r}")
                    out[k] = f[k]
                except ValueError as e:
                    if "allow_pickle" in str(e):
                        raise DataError(f"{p}: array {k!r} is an object array (pickled Python objects); "
                                        "save numbers (float or int)") from None
                    raise
            return out
    except DataError:
        raise
    except (PermissionError, IsADirectoryError) as e:
        raise DataError(f"cannot read points file {p}: {e.strerror}") from None
    except Exception as e:  # noqa: BLE001 - zipfile/numpy raise many types for a damaged file
        raise DataError(f"{p} is not a readable .npz file ({_first_line(e) or type(e).__name__})") from None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:160]


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _load_text(p: Path, labels: str | int = "none") -> tuple[np.ndarray, list[str] | None, list[int], np.ndarray | None, int | None]:
    """A numeric table ``(N, C)`` in float64 without its label column, the header's column
    names (or None), the file's line number of each row, the label column's cells as text
    (or None) and its index in the file (or None)."""
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{p} is not UTF-8 text (byte {e.start}): a points table must be numbers as text") from None
    except OSError as e:
        raise DataError(f"cannot read points file {p}: {e.strerror or e}") from None
    if "\0" in text:
        raise DataError(f"{p} holds NUL bytes: it is not a text table of numbers")
    lines = [(i + 1, line.strip()) for i, line in enumerate(text.splitlines())]
    lines = [(i, line) for i, line in lines if line and not line.startswith("#")]
    if not lines:
        raise DataError(f"{p} is empty: no rows of numbers")
    first = lines[0][1]
    delim = next((d for d in (",", ";", "\t") if d in first), None)

    def cells(line: str) -> list[str]:
        if delim is None:
            return line.split()
        return [c.strip() for c in next(csv.reader(io.StringIO(line), delimiter=delim))]

    rows = [(i, cells(line)) for i, line in lines]
    header = None
    if _is_header(rows[0][1], rows[1][1] if len(rows) > 1 else None):
        header = rows[0][1]
        rows = rows[1:]
        if not rows:
            raise DataError(f"{p} holds a header ({', '.join(header)[:80]}) but no rows of numbers")
    width = len(header) if header is not None else len(rows[0][1])
    col = _column(labels, width, header, str(p))
    out = np.empty((len(rows), width), dtype=np.float64)
    for r, (line_no, row) in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{p}, line {line_no}: {len(row)} values where the "
                            f"{'header has' if header is not None else 'first row has'} {width}")
        for c, cell in enumerate(row):
            if c == col:
                continue
            v = _number(cell)
            if v is None:
                raise DataError(f"{p}, line {line_no}, column {c + 1}: {cell[:40]!r} is not a number")
            out[r, c] = v
    if col is None:
        return out, header, [line_no for line_no, _ in rows], None, None
    raw_y = _text_labels([row[col] for _, row in rows], [line_no for line_no, _ in rows], col, p)
    names = None if header is None else header[:col] + header[col + 1:]
    return np.delete(out, col, axis=1), names, [line_no for line_no, _ in rows], raw_y, col


def _is_header(first: list[str], second: list[str] | None) -> bool:
    """The first row names the columns when one of its cells is not a number where the next
    row's is (a column of text labels is text in both), or, alone, when any cell is text."""
    if second is None or len(second) != len(first):
        return any(_number(c) is None for c in first)
    return any(_number(a) is None and _number(b) is not None for a, b in zip(first, second))


def _text_labels(cells: list[str], line_nos: list[int], col: int, p: Path) -> np.ndarray:
    """A label column's cells: numbers (float64, checked as integers later) when every cell
    is one, else the strings themselves (class names)."""
    for cell, line_no in zip(cells, line_nos):
        if not cell:
            raise DataError(f"{p}, line {line_no}, column {col + 1}: an empty label")
    values = [_number(c) for c in cells]
    if all(v is not None for v in values):
        return np.array(values, dtype=np.float64)
    return np.array(cells, dtype=str)


def _label_codes(raw: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Labels ``(N,)`` -> codes ``0..K-1`` and class names: integers in sorted order, named by
    their values; strings (``well``, ``pump``) in sorted order, named by themselves."""
    if raw.dtype.kind in "US":
        strings = np.char.strip(raw.astype(str))
        empty = np.flatnonzero(strings == "")
        if empty.size:
            raise DataError(f"{where}: labels must not be empty, row {int(empty[0])} holds {str(raw[empty[0]])!r}")
        values, codes = np.unique(strings, return_inverse=True)
        return codes.astype(np.int64), [str(v) for v in values]
    if raw.dtype == object or raw.dtype.names is not None or not (
            np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
        raise DataError(f"{where}: labels must be integers or strings, got dtype {raw.dtype}")
    if np.issubdtype(raw.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)))
        if bad.size:
            raise DataError(f"{where}: labels must be integers, row {int(bad[0])} holds {raw[bad[0]]!r}")
        if np.abs(raw).max(initial=0) > 2**53:
            raise DataError(f"{where}: labels must be integers of at most 2^53 in size")
        raw = raw.astype(np.int64)
    values, codes = np.unique(raw, return_inverse=True)
    return codes.astype(np.int64), [str(int(v)) for v in values]


def _column(spec: str | int, width: int, header: list[str] | None, where: str) -> int | None:
    """The label column ``spec`` names (``last``, ``first``, an index or a header name), or None."""
    if spec in ("none", "auto", ""):
        return None
    if spec in ("last", "first"):
        idx = width - 1 if spec == "last" else 0
    elif isinstance(spec, int):
        if not -width <= spec < width:
            raise DataError(f"{where}: data.labels={spec} is no column of {width}")
        idx = spec % width
    elif header is not None and spec in header:
        idx = header.index(spec)
    else:
        have = f"columns: {', '.join(header)}" if header is not None else "the file has no header row"
        raise DataError(f"{where}: no label column {spec!r} ({have}); data.labels is last, first, "
                        "a column index, a header name or none")
    if width < 2:
        raise DataError(f"{where}: data.labels={spec!r} would leave no coordinates (the file has {width} column)")
    return idx


class PointsTable(NamedTuple):
    """A points file as read: ``x (N, d)`` float64, label codes ``(N,)`` int64 or None, the
    class names of the codes, and the coordinates' names (a text table's header, without
    the label column; None without a header)."""

    x: np.ndarray
    y: np.ndarray | None
    class_names: list[str]
    columns: list[str] | None


def read_points(path: str, *, labels: str | int = "auto", key: str = "x") -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """``(x (N, d) float64, codes (N,) int64 or None, class names)`` from a points file."""
    x, y, names, _ = read_points_table(path, labels=labels, key=key)
    return x, y, names


def read_points_table(path: str, *, labels: str | int = "auto", key: str = "x") -> PointsTable:
    """The points file ``path`` as a :class:`PointsTable`."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"points file {p} does not exist")
    if not p.is_file():
        raise DataError(f"points file {p} is not a file")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"points file {p} must end in {', '.join(SUFFIXES)}, got {p.suffix or 'no suffix'!r}")
    where = str(p)
    header = None
    line_nos: list[int] | None = None  # text tables: errors name the file's line
    raw_y = None
    col = None  # the label column of a table or array, removed from the coordinates
    if suffix == ".npz":
        arrays = _load_npz(p)
        if not arrays:
            raise DataError(f"{p} holds no arrays")
        found = ", ".join(arrays)
        if key in arrays:
            x = arrays[key]
        elif key == "x" and len(arrays) == 1:
            (key, x), = arrays.items()
        else:
            raise DataError(f"{p}: no array {key!r} (arrays found: {found}); set data.key")
        if isinstance(labels, str) and labels not in ("auto", "none", "last", "first", ""):
            if labels not in arrays or labels == key:
                raise DataError(f"{p}: no label array {labels!r} (arrays found: {found}); set data.labels")
            raw_y = arrays[labels]
        elif labels == "auto" and "y" in arrays and key != "y":
            raw_y = arrays["y"]
    elif suffix == ".npy":
        x = _load_npy(p)
    else:
        x, header, line_nos, raw_y, col = _load_text(p, labels)
    _check_numeric(x, where)
    if x.ndim != 2:
        hint = ("; one coordinate per row is shape (N, 1): reshape with x[:, None]" if x.ndim == 1 else
                "; images belong to data=npz:PATH or data=folder:PATH" if x.ndim >= 3 else "")
        raise DataError(f"{where}: points must be an (N, d) array, got shape {x.shape}{hint}")
    if raw_y is None and line_nos is None:
        col = _column(labels, x.shape[1], header, where)
        if col is not None:
            raw_y, x = x[:, col], np.delete(x, col, axis=1)
    n, d = x.shape
    if d == 0:
        raise DataError(f"{where}: points have no coordinates (shape {x.shape})")
    if d > MAX_DIM:
        raise DataError(f"{where}: points of {d:,} coordinates; gankit takes at most {MAX_DIM:,} (G's last layer "
                        "and D's first hold width x d weights each, every checkpoint about ten copies of them); "
                        "reduce the dimension (PCA, fewer columns), or give images as data=npz:PATH")
    if n < 2:
        raise DataError(f"{where}: {n} point{'s' if n != 1 else ''}; a data set needs at least 2")
    x = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(x) | (np.abs(x) > FLOAT32_MAX)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        what = "NaN" if np.isnan(x[r, c]) else "Inf" if np.isinf(x[r, c]) else f"{x[r, c]:g}, beyond float32's range"
        if line_nos is not None:
            at = f"line {line_nos[r]}, column {c + 1 + (col is not None and c >= col)}"
        else:
            at = f"{'x' if suffix == '.npy' else key}[{r}, {c}]"
        raise DataError(f"{where}, {at}: {what}; {int(bad.any(axis=1).sum())} of {n} rows are not finite numbers")
    codes, names = None, []
    if raw_y is not None:
        raw_y = np.asarray(raw_y)
        if raw_y.ndim != 1 or raw_y.shape[0] != n:
            raise DataError(f"{where}: labels must be one per point, shape ({n},), got shape {raw_y.shape}")
        codes, names = _label_codes(raw_y, where)
    return PointsTable(x, codes, names, header)


def split_points(x: np.ndarray, y: np.ndarray | None, class_names: list[str], *, name: str,
                 test_fraction: float, seed: int, where: str, columns: list[str] | None = None,
                 label_column: str | None = None) -> PointsSource:
    """Hold out ``round(test_fraction N)`` rows (at least 2) chosen by a permutation seeded by
    ``seed``; the rest, in their original order, is the training split."""
    n = x.shape[0]
    n_test = 0 if test_fraction == 0 else max(2, round(test_fraction * n))
    if n_test and n - n_test < 2:
        raise DataError(f"{where}: {n} points are too few to hold out a test split of {n_test} "
                        "(data.test_fraction) and train on at least 2; give more points or data.test_fraction=0")
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[:n_test]] = True
    xt = torch.from_numpy(x.astype(np.float32))
    yt = None if y is None else torch.from_numpy(y)
    k = len(class_names) if y is not None else 0
    mask = torch.from_numpy(test)
    return PointsSource(xt[~mask], None if yt is None else yt[~mask], name=name, num_classes=k,
                        class_names=class_names if k else None, test_x=xt[mask],
                        test_y=None if yt is None else yt[mask], columns=columns,
                        label_column=label_column if k else None)


@DATASETS.register("points")
def points(*, path: str, labels: str | int = "auto", key: str = "x", test_fraction: Fraction = 0.1,
           split_seed: Seed = 0) -> PointsSource:
    """Your own points (N, d) from .npy, .npz or .csv; optional labels; 10 % held out.

    ``path``: a .npy, .npz, .csv, .tsv or .txt file of N rows of d numbers;
    ``labels``: ``auto`` (an .npz's ``y`` array if it has one, else none), ``none``, ``last`` or
    ``first`` (a column of the table or array), a column index, a header name (text tables)
    or an array name (.npz), holding integers or strings (class names, sorted); ``key``: the .npz array holding the points (its only array when
    ``x`` is absent); ``test_fraction``: the share of rows (at least 2) held out for the
    metrics, never trained on; ``split_seed``: the seed of the held-out rows' choice.
    Units are kept: ``train.standardize=true`` (the default preset's) trains on standardised
    points and samples in these units."""
    x, y, names, columns = read_points_table(path, labels=labels, key=key)
    p = Path(path).expanduser()
    named = None if labels in ("auto", "none", "") else str(labels)
    return split_points(x, y, names, name=f"points:{p}", test_fraction=test_fraction, seed=split_seed,
                        where=str(p), columns=columns, label_column=named)


def unused_labels_note(data: DataSource, conditional: bool) -> str | None:
    """One line for a run that names a label column (``data.labels``) but is not conditional,
    or None. Naming the column keeps it out of the coordinates and gives per-class rows; it
    does not make G and D use the labels, as on every labelled data set (mnist, digits):
    ``conditional=true`` does."""
    column = data.label_column
    if conditional or column is None or not data.num_classes:
        return None
    names = ", ".join(list(data.class_names)[:6]) + (", ..." if data.num_classes > 6 else "")
    return (f"data.labels={column}: {data.num_classes} classes ({names}) are kept out of the coordinates, "
            "but this run is unconditional: G and D do not see them; add conditional=true to generate per class")


__all__ = ["PointsSource", "PointsTable", "points", "read_points", "read_points_table", "split_points"]
