"""A judging session: the questions, in their order, and the append-only file of answers.

HYPE (Zhou et al., NeurIPS 2019) asks a person "real or generated?" about items that are
half real, half generated, in random order, and scores the error rate: 50 % means the person
cannot tell. HYPE∞ gives unlimited time; the time-limited variant shows each item for a fixed
exposure and then masks it.

Files, in ``RUN/judge/``:

* ``<session>.items.npz``: the items in question order (``x``, ``real``, ``label``), written
  once (atomically) when the session starts; a restarted server reads them back, so the
  order and the images are the same whatever happened to the run since.
* ``<session>.jsonl``: a header line, then one line per answer, each written with one
  ``write`` and flushed and fsync'ed before the server replies, so a killed server loses no
  answer it acknowledged. Lines are only ever appended.

An *item* is one image, or, for point data, a batch of points shown as one scatter plot
(one point says nothing about a distribution).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit import lockfile
from gankit import jsonio
from gankit.capabilities import FiniteData
from gankit.errors import ConfigError

SESSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ANSWERS = ("real", "generated")
FORMAT = 1


def session_name(exposure_ms: int | None) -> str:
    return "hype-inf" if exposure_ms is None else f"hype-{exposure_ms}ms"


@dataclass
class Items:
    """The questions of one session, in order. ``x``: ``(n, C, H, W)`` images in [-1, 1] or
    ``(n, points, d)`` batches of points; ``real (n,)`` bool; ``label (n,)`` int (-1: none)."""

    kind: str
    x: np.ndarray
    real: np.ndarray
    label: np.ndarray
    class_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.real)

    def digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.x.astype(np.float32), self.real.astype(np.bool_), self.label.astype(np.int64)):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def limits(self) -> tuple[float, float]:
        """Points: one square window for every item (from all of them), so the axes say
        nothing about which item is which."""
        lo, hi = np.percentile(self.x.reshape(-1, self.x.shape[-1]), [0.5, 99.5], axis=0)
        lo_, hi_ = float(lo.min()), float(hi.max())
        pad = 0.12 * (hi_ - lo_ or 1.0)
        return lo_ - pad, hi_ + pad

    def window(self) -> tuple[tuple[float, float], ...]:
        """2-D points: one window ``((x0, x1), (y0, y1))`` for every item (from all of them).
        Square, at equal aspect, when the coordinates' spreads differ by at most
        ``ASPECT_RATIO_MAX``; otherwise each coordinate gets its own range, so elongated data
        fill the canvas instead of a thin stripe of it."""
        lo, hi = np.percentile(self.x.reshape(-1, self.x.shape[-1]), [0.5, 99.5], axis=0)
        span = np.where(hi > lo, hi - lo, 0.0)
        span = np.where(span > 0, span, span.max() or 1.0)
        if span.max() <= ASPECT_RATIO_MAX * span.min():
            span = np.full_like(span, span.max())
        mid, half = (lo + hi) / 2, 0.62 * span   # a 12 % margin on each side
        return tuple((float(m - h), float(m + h)) for m, h in zip(mid, half))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, kind=np.array(self.kind), x=self.x.astype(np.float32), real=self.real, label=self.label,
                     class_names=np.array(self.class_names, dtype=str))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Items:
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(kind=str(z["kind"]), x=z["x"], real=z["real"].astype(bool), label=z["label"].astype(np.int64),
                           class_names=[str(c) for c in z["class_names"]])
        except (OSError, ValueError, KeyError) as e:
            raise ConfigError(f"{path} is not a judge items file ({type(e).__name__}); move it away to start over") from None


ASPECT_RATIO_MAX = 2.0   # the judge's scatter keeps equal aspect up to this ratio of spreads


def make_items(run: Any, n: int, seed: int, points: int = 256) -> Items:
    """``n`` items, half real (drawn from the run's data set) and half generated, shuffled
    with ``seed``. Conditional models generate every class in turn; a real item keeps its label."""
    if n < 2 or n % 2:
        raise ConfigError(f"--n must be an even number >= 2 (half real, half generated), got {n}")
    data, recipe = run.data, run.recipe
    kind = data.kind
    if kind != "images" and tuple(data.shape) not in ((1,), (2,)):
        raise ConfigError(f"judge shows images and 1-D or 2-D points; this run's data have shape {tuple(data.shape)}")
    half = n // 2
    gen = torch.Generator().manual_seed(seed)
    k = recipe.num_classes
    if kind == "images":
        if data.x is not None and len(data) < half:
            raise ConfigError(f"--n {n} needs {half} real images; the data set has {len(data)}")
        real_x, real_y = draw_real(data, half, seed)
        labels = torch.arange(half) % k if k else None
        if labels is not None:
            labels = labels[torch.randperm(half, generator=gen)]
        fake_x = recipe.generate(half, labels, seed=seed + 1)
        fake_y = labels
    else:
        real_x = draw_real(data, half * points, seed)[0].reshape(half, points, -1)
        fake_x = recipe.generate(half * points, None, seed=seed + 1).reshape(half, points, -1)
        real_y = fake_y = None
    x = torch.cat([real_x.float().cpu(), fake_x.float().cpu()]).numpy()
    real = np.array([True] * half + [False] * half)
    label = np.full(n, -1, dtype=np.int64)
    if k and real_y is not None:
        label[:half] = real_y.numpy()
    if k and fake_y is not None:
        label[half:] = fake_y.numpy()
    order = torch.randperm(n, generator=gen).numpy()
    names = [str(c) for c in data.class_names] if k else []
    return Items(kind="images" if kind == "images" else "points", x=x[order], real=real[order], label=label[order],
                 class_names=names)


def draw_real(data: Any, n: int, seed: int, skip: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` real examples for ``seed``, the data set's training position untouched. A finite
    data set gives rows ``skip .. skip + n - 1`` of one seeded permutation, so the held-out
    samples of the machine judges (``skip`` = the items' count) never repeat an item's image
    (fewer than ``n`` when the set runs out); an infinite one is sampled with its own stream."""
    if isinstance(data, FiniteData):
        perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[skip:skip + n]
        y = data.y
        return data.x[perm], (None if y is None else y[perm])
    x, y = data.sample(n, torch.Generator().manual_seed(seed + 1_000_003 * (skip > 0)))
    return x, y


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


class AnswerLog:
    """``<session>.jsonl``: the header, then the answers. Thread-safe; every append is
    fsync'ed before :meth:`answer` returns."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path, self.header = path, header
        self.answers: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()
        if path.exists():
            self._read()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._append({"type": "session", **header, "started": _now()})

    def _read(self) -> None:
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        rows = []
        for line in text.splitlines():
            try:
                row = jsonio.loads(line)
            except ValueError:
                continue  # cannot happen with whole-line writes, but a damaged line must not stop a resume
            if isinstance(row, dict):
                rows.append(row)
        head = rows[0] if rows and rows[0].get("type") == "session" else None
        if head is None:
            raise ConfigError(f"{self.path} does not start with a judge session header; move it away to start over")
        for key in ("n", "seed", "exposure_ms", "items_sha256", "points"):
            if head.get(key) != self.header.get(key):
                raise ConfigError(f"{self.path} was started with {key}={head.get(key)!r}, not {self.header.get(key)!r}: "
                                  f"rerun with the same options or pass --session NAME for a new session")
        for row in rows[1:]:
            i = row.get("item")
            if row.get("type") == "answer" and isinstance(i, int) and i not in self.answers:
                self.answers[i] = row
        if text and not text.endswith("\n"):  # a torn last line: the next answer starts on its own line
            with open(self.path, "a", encoding="utf-8") as f:
                f.write("\n")

    def _append(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    @property
    def next_item(self) -> int | None:
        n = int(self.header["n"])
        return next((i for i in range(n) if i not in self.answers), None)

    def answer(self, item: int, said: str, truth: str, label: int | None, rt_ms: float | None,
               exposure_ms: int | None) -> dict[str, Any]:
        """Record the answer to ``item``; :class:`AnswerConflict` if it is not the current question."""
        with self.lock:
            if item in self.answers:
                raise AnswerConflict(f"question {item} is already answered")
            if item != self.next_item:
                raise AnswerConflict(f"question {item} is not the current question ({self.next_item})")
            row = {"type": "answer", "item": item, "answer": said, "truth": truth, "label": label,
                   "rt_ms": rt_ms, "exposure_ms": exposure_ms, "time": _now()}
            self._append(row)
            self.answers[item] = row
            return row


class AnswerConflict(Exception):
    """An answer to a question already answered, or not yet asked."""


@dataclass
class Session:
    """Items and answers of one named session of one run."""

    name: str
    items: Items
    log: AnswerLog
    exposure_ms: int | None
    lock: Path | None = None  # held while the session is open: one process answers and scores it

    @property
    def done(self) -> bool:
        return self.log.next_item is None

    def close(self) -> None:
        """Give the session back (also done when the process ends)."""
        if self.lock is not None:
            lockfile.release(self.lock)
            self.lock = None


def judge_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "judge"


def open_session(run: Any, run_dir: Path, *, name: str, n: int, seed: int, exposure_ms: int | None,
                 points: int) -> Session:
    """Start the session ``name`` or resume it (same items, same order, answers kept)."""
    if not SESSION_NAME.match(name):
        raise ConfigError(f"--session must be letters, digits, '.', '_' or '-' (at most 64), got {name!r}")
    d = judge_dir(run_dir)
    items_path, log_path = d / f"{name}.items.npz", d / f"{name}.jsonl"
    # One process per session: two servers on one session would record conflicting answers.
    created = not d.exists()
    d.mkdir(parents=True, exist_ok=True)
    lock = d / f".{name}.lock"
    try:
        lockfile.acquire(lock, f"judge session {name!r} of {run_dir}")
        try:
            session = _open(run, name, items_path, log_path, n=n, seed=seed, exposure_ms=exposure_ms, points=points)
        except BaseException:
            lockfile.release(lock)
            raise
    except BaseException:
        if created:  # a refused session leaves the run as it was
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    session.lock = lock
    atexit.register(session.close)
    return session


def _open(run: Any, name: str, items_path: Path, log_path: Path, *, n: int, seed: int, exposure_ms: int | None,
          points: int) -> Session:
    if items_path.exists():
        items = Items.load(items_path)
    else:
        if log_path.exists():
            raise ConfigError(f"{log_path} has answers but {items_path.name} is missing; "
                              "restore it or pass --session NAME for a new session")
        items = make_items(run, n, seed, points)
        items.save(items_path)
    header = {"version": FORMAT, "session": name, "n": len(items), "seed": seed, "exposure_ms": exposure_ms,
              "points": points if items.kind == "points" else None, "kind": items.kind,
              "items_sha256": items.digest()}
    if len(items) != n:
        raise ConfigError(f"session {name!r} has {len(items)} questions, not --n {n}: "
                          "rerun with the same --n or pass --session NAME for a new session")
    return Session(name, items, AnswerLog(log_path, header), exposure_ms)


def read_sessions(run_dir: Path) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every session's header and answers in ``RUN/judge/`` (read only, for scoring)."""
    out = []
    d = judge_dir(run_dir)
    for path in sorted(d.glob("*.jsonl")) if d.is_dir() else []:
        rows = []
        for line in path.read_text(errors="replace").splitlines():
            try:
                row = jsonio.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        if not rows or rows[0].get("type") != "session":
            continue
        seen: set[int] = set()
        answers = []
        for row in rows[1:]:
            if row.get("type") == "answer" and isinstance(row.get("item"), int) and row["item"] not in seen \
                    and row.get("answer") in ANSWERS and row.get("truth") in ANSWERS:
                seen.add(row["item"])
                answers.append(row)
        out.append((rows[0], answers))
    return out
