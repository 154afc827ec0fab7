"""Run directories on disk: the marker that makes a directory a gankit run, one writer at
a time, and files that are written whole or not at all.

* ``.gankit-run`` (the *marker*): JSON ``{"format", "gankit", "created"}``, the first file
  written into a new run directory. Only a directory that holds it is taken for a run that
  may be started over; any other non-empty directory is refused and left untouched, so a
  user's own ``config.yaml`` or ``metrics.jsonl`` is never overwritten. A directory written
  by gankit before the marker existed is recognised by its ``checkpoint.pt`` (a file only
  gankit writes) and is marked when it is next resumed.
* ``.gankit-lock``: the lock (:mod:`gankit.lockfile`) held by the one process that writes
  the run; a second writer gets one line naming the first's PID (exit status 2).

A run opens its directory with :func:`opened` (lock, marker, ``config.yaml``); a new run's
directory is named by :func:`new_run_dir` after what ran (:func:`run_name`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from gankit import jsonio
from gankit.config import Config
from gankit.errors import GankitError
from gankit.lockfile import LOCK, Busy, locked  # noqa: F401 (Busy: what hold() raises)

MARKER = ".gankit-run"
FORMAT = 1


class RunDirError(GankitError):
    """A run directory cannot be used: not a run, not writable, or a write failed."""


def hold(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """The run directory's lock (the directory must exist): :class:`Busy` names the holder."""
    return locked(Path(run_dir) / LOCK, f"run directory {run_dir}")


# -- the marker -----------------------------------------------------------------------------
def is_marked(run_dir: Path) -> bool:
    return (Path(run_dir) / MARKER).is_file()


def write_marker(run_dir: Path, *, adopted: bool = False) -> None:
    """Mark ``run_dir`` as a gankit run (``adopted``: a run of a gankit without markers)."""
    from gankit import __version__

    info = {"format": FORMAT, "gankit": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    if adopted:
        info["adopted"] = "a run written before gankit marked its run directories"
    write_atomic(Path(run_dir) / MARKER, json.dumps(info) + "\n")


# What a process killed while it wrote leaves: temporary files of whole-file writes
# (``.NAME.PID.tmp``, renamed over NAME when complete) of these files.
_WRITTEN_WHOLE = ("checkpoint.pt", MARKER, "config.yaml", "metrics.json")


def _left_by_a_kill(name: str) -> bool:
    return name == LOCK or (name.endswith(".tmp") and any(name.startswith(f".{w}.") for w in _WRITTEN_WHOLE))


def foreign_entries(run_dir: Path) -> list[str]:
    """Entries of an existing directory other than what a killed gankit process leaves (the
    lock file, temporary files of whole-file writes): what makes it non-empty."""
    return sorted(p.name for p in Path(run_dir).iterdir() if not _left_by_a_kill(p.name))


def remove_leftovers(run_dir: Path) -> None:
    """Remove the temporary files of writes cut short by a killed process (call under the lock)."""
    for p in Path(run_dir).iterdir():
        if p.name != LOCK and _left_by_a_kill(p.name):
            with contextlib.suppress(OSError):
                p.unlink()


def check_new(path: Path) -> None:
    """A new run needs a directory that is absent, empty, or a gankit run stopped before its
    first checkpoint (marked, no ``checkpoint.pt``), in a place it can write."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"--out {path} exists and is not a directory")
    if path.is_dir():
        if (path / "checkpoint.pt").exists():
            raise RunDirError(f"{path} already holds a run; use `gankit resume {path}` or another --out")
        others = [n for n in foreign_entries(path) if n != MARKER]
        if others and not is_marked(path):
            more = f" and {len(others) - 1} more" if len(others) > 1 else ""
            raise RunDirError(f"--out {path} is a non-empty directory that holds no gankit run ({others[0]!r}{more}); "
                              f"choose a new or empty directory (gankit marks its runs with {MARKER})")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise RunDirError(f"--out {path}: {parent} is not a directory")
    try:  # a real probe: permission bits say nothing to root, nor about read-only mounts
        os.rmdir(tempfile.mkdtemp(prefix=".gankit-probe-", dir=parent))
    except OSError as e:
        raise RunDirError(f"--out {path}: cannot write in {parent} ({e.strerror or type(e).__name__})") from None


def claim(run_dir: Path, *, fresh: bool) -> None:
    """Under the lock, before anything else is written: make sure ``run_dir`` may be
    written and mark it. ``fresh``: a new run (step 0, nothing restored)."""
    run_dir = Path(run_dir)
    if fresh:
        check_new(run_dir)  # again, under the lock: another process may have trained meanwhile
    elif not is_marked(run_dir) and not (run_dir / "checkpoint.pt").is_file():
        raise RunDirError(f"{run_dir} holds no gankit run ({MARKER} or checkpoint.pt)")
    if not is_marked(run_dir):
        write_marker(run_dir, adopted=not fresh)


def discard_fresh(run_dir: Path) -> None:
    """Remove what a new run wrote before it stopped at its first steps (no checkpoint
    yet): its own files only, then the directory if that leaves it empty."""
    for name in ("config.yaml", "metrics.jsonl", MARKER):
        with contextlib.suppress(OSError):
            (Path(run_dir) / name).unlink()
    with contextlib.suppress(OSError):
        Path(run_dir).rmdir()


@contextlib.contextmanager
def opened(run_dir: Path, cfg: Config, step: int, *, fresh: bool) -> Iterator[None]:
    """Hold ``run_dir`` for a run at ``step`` while it trains: lock it, check it may be
    written, mark it, then write its config (whole or not at all) and drop what a killed
    writer left. A directory this call created and nothing was written to is removed on exit."""
    run_dir = Path(run_dir)
    with contextlib.ExitStack() as stack:
        created = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
        if created:
            stack.callback(_remove_if_empty, run_dir)  # a first write that failed leaves nothing
        stack.enter_context(hold(run_dir))
        claim(run_dir, fresh=fresh)
        write_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        remove_leftovers(run_dir)  # left by a process killed mid-write
        trim_log(run_dir / "metrics.jsonl", step)
        yield


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def trim_log(path: Path, step: int) -> None:
    """Drop ``metrics.jsonl`` rows past ``step`` (a run resumed from an earlier checkpoint
    logs those steps again) and a partial last line left by a killed process."""
    if not path.is_file():
        return
    lines = path.read_text(errors="replace").splitlines(keepends=True)
    keep = []
    for line in lines:
        try:
            row = jsonio.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            keep.append(line if line.endswith("\n") else line + "\n")
    if keep != lines:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(keep))
        os.replace(tmp, path)


def remove_run(run_dir: Path) -> None:
    """Remove an earlier gankit run in ``run_dir`` (marked, or holding ``checkpoint.pt``), so
    that a new one starts there (a benchmark run again); the marker goes last. Any other
    directory is left as it is (:func:`check_new` then refuses it if it is not empty)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or not (is_marked(run_dir) or (run_dir / "checkpoint.pt").is_file()):
        return
    with hold(run_dir):  # never while another process writes it
        for p in sorted(run_dir.iterdir(), key=lambda p: p.name == MARKER):
            if p.name == LOCK:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()


# -- new runs -------------------------------------------------------------------------------
def run_name(cfg: Config) -> str:
    """What ran, for the run directory's name: model, objective, data (``gan-ns-ring``,
    ``cdcgan-ns-fashion-mnist``, ``aae-ns-digits``, ``wgan-gp`` shows as ``gan-wgan-gp-ring``)."""
    m = cfg.model
    if m.name != "gan":
        model = m.name
    else:
        model = {"mlp": "gan"}.get(m["generator"].name, m["generator"].name)
        model = ("c" + model) if m["conditional"] else model
    objective, penalty = m.get("loss"), m.get("penalty")
    loss = objective.name if objective is not None else ""
    if loss == "fgan":
        loss = f"fgan-{objective.options.get('divergence', '')}".rstrip("-")
    if penalty is not None and penalty.name not in ("none", ""):
        loss = f"{loss}-{penalty.name}"
    data = cfg.data.name
    if data in ("folder", "npz", "points"):
        path = str(cfg.data.options.get("path", "")).rstrip("/")
        stem = Path(path).stem if path else ""
        data = f"{data}-{stem}" if stem else data
    return "-".join(part for part in (model, loss, data) if part)


def new_run_dir(cfg: Config) -> Path:
    """``out_dir/name``, or ``out_dir/<run_name>-<time>`` with ``-2``, ``-3``... if taken."""
    base = Path(cfg.out_dir)
    name = cfg.name or f"{run_name(cfg)}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = base / name
    i = 2
    while path.exists() and cfg.name is None:
        path = base / f"{name}-{i}"
        i += 1
    return path


def absolute_data_paths(cfg: Config) -> None:
    """Record the data's files as absolute paths, so that the run reopens (eval, sample,
    resume) from any working directory."""
    for key in ("path", "file"):
        value = cfg.data.options.get(key)
        if isinstance(value, str) and value:
            cfg.data.options[key] = str(Path(value).expanduser().resolve())


# -- whole files ----------------------------------------------------------------------------
def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, fsync'ed, renamed
    over it): a full disk leaves the old file, or none, never a truncated one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        why = e.strerror or errno.errorcode.get(e.errno or 0) or type(e).__name__
        raise RunDirError(f"cannot write {path} ({why}); it was left as it was") from None
