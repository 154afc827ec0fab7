"""One writer at a time: an advisory lock file that names its holder.

``fcntl.flock`` on a file, held by the process that writes (a run directory, a judge
session), with that process's PID inside. The kernel drops the lock when the process ends,
``kill -9`` included, so a lock file left behind is never a stale lock: the next process
simply takes it. A second process gets :class:`Busy`, one line naming the first's PID.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from gankit.errors import GankitError

LOCK = ".gankit-lock"  # a run directory's lock file


class Busy(GankitError):
    """Another process holds the lock."""


# Locks this process holds: path -> [fd, depth]. flock conflicts between two descriptors of
# one process too, so a nested acquire of the same path (resume -> fit) reuses the first.
_HELD: dict[str, list[int]] = {}


def _read_pid(fd: int) -> str:
    """The PID the holder wrote (it writes just after locking: wait for it briefly)."""
    for _ in range(20):
        text = os.pread(fd, 64, 0).decode("ascii", errors="replace").strip()
        if text:
            return text.split()[0]
        time.sleep(0.05)
    return "unknown"


def acquire(path: Path, what: str) -> None:
    """Take the lock file ``path`` for this process or raise :class:`Busy` naming the
    holder's PID. Re-entrant within a process; :func:`release` once per acquire."""
    key = os.path.abspath(path)
    if key in _HELD:
        _HELD[key][1] += 1
        return
    while True:
        try:
            fd = os.open(key, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise GankitError(f"cannot lock {what}: {e.strerror or type(e).__name__} ({key})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise Busy(f"{what} is in use by another gankit process (PID {pid}); "
                             "wait for it to finish or stop it, then run this again") from None
        except OSError as e:
            os.close(fd)
            raise GankitError(f"cannot lock {what}: {e.strerror or type(e).__name__}") from None
        # The holder unlinks the file on release: if it did so between our open and flock,
        # we locked a file nobody else will see; take the one now at the path instead.
        try:
            st = os.stat(key)
            same = (st.st_dev, st.st_ino) == (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = [fd, 1]


def release(path: Path) -> None:
    """Give back one :func:`acquire` of ``path``; the last removes the file and unlocks."""
    key = os.path.abspath(path)
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] > 0:
        return
    del _HELD[key]
    with contextlib.suppress(OSError):
        os.unlink(key)  # while still locked: see acquire()
    os.close(held[0])


@contextlib.contextmanager
def locked(path: Path, what: str) -> Iterator[None]:
    """``with locked(RUN / LOCK, "run directory RUN"):`` one writer inside."""
    acquire(path, what)
    try:
        yield
    finally:
        release(path)


def is_held(path: Path) -> bool:
    """Whether this process holds the lock file ``path``."""
    return os.path.abspath(path) in _HELD
