"""Which run is live: a lock that the process changing files holds.

A process that journals or walks a run (renames, moves, the trash, or
their undo) holds an exclusive ``flock`` on ``<library>.similar-run.lock``
beside the library database, its pid and run id written in it. The OS
drops the lock when the process ends, however it ends (kill -9 too), so a
run left ``running`` or ``undoing`` while nobody holds the lock was cut
off, and one whose lock is held is in progress: a stale pid cannot lie.
Standard library only; without ``fcntl`` (not POSIX) nothing is locked.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".similar-run.lock"
# Another process that only looks (holder()) takes the lock for a moment:
# taking it waits out such a look before saying it is busy.
PATIENCE = 0.5  # seconds


@dataclass(frozen=True)
class Holder:
    """The process holding the lock, and its run when it has one."""

    pid: int | None
    run_id: int | None

    def __str__(self) -> str:
        pid = f" (pid {self.pid})" if self.pid else ""
        if self.run_id is not None:
            return f"run {self.run_id} is in progress{pid}"
        return f"another beet process{pid} is changing files"


class Busy(Exception):
    """Another process holds the lock; ``str()`` is one line."""

    def __init__(self, holder: Holder) -> None:
        super().__init__(f"{holder}; wait for it to end")
        self.holder = holder


def locked_line(lib) -> str:
    """What to say when the library database was held longer than beets
    waits (SQLite's "database is locked"): by the run in progress in
    another ``beet``, when there is one (a trash run holds the database
    while it sends a batch of files), else by another program."""
    other = holder(lib)
    if other is not None:
        return str(Busy(other))
    return ("the library database is locked by another program (beets waited "
            f"{lib.timeout:g} seconds); nothing is lost: try again when it is done, or "
            "raise `timeout` in your beets config")


_guard = threading.RLock()
_held: dict[str, list] = {}  # lock file -> [fd, depth]: this process's hold


def lock_file(lib) -> str | None:
    """The lock file beside the library database (None: in memory)."""
    path = os.fsdecode(lib.path)
    return None if fcntl is None or path == ":memory:" else path + SUFFIX


def _open(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None  # a read-only folder: nothing can change there anyway


def _read(fd: int) -> Holder:
    try:
        words = os.pread(fd, 100, 0).split()
        pid = int(words[0]) if words else None
        run_id = int(words[1]) if len(words) > 1 and words[1] != b"-" else None
    except (OSError, ValueError):
        pid = run_id = None
    return Holder(pid, run_id)


def _write(fd: int, run_id: int | None) -> None:
    text = f"{os.getpid()} {run_id if run_id is not None else '-'}\n".encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, text, 0)


@contextmanager
def holding(lib, run_id: int | None = None) -> Iterator[None]:
    """Hold the library's run lock for the block, naming ``run_id`` (also
    later: :func:`name`). Re-entrant within the process; raises
    :class:`Busy` when another process holds it."""
    path = lock_file(lib)
    with _guard:
        mine = _take(path, run_id) if path else None
    try:
        yield
    finally:
        if mine is not None:
            with _guard:
                mine[1] -= 1
                if mine[1] == 0:
                    del _held[path]
                    os.close(mine[0])  # closing drops the lock


def _take(path: str, run_id: int | None) -> list | None:
    """This process's hold on ``path``, one deeper; taken if need be."""
    mine = _held.get(path)
    if mine is None:
        fd = _open(path)
        if fd is None:
            return None
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) \
                        or time.monotonic() > deadline:
                    holder = _read(fd)
                    os.close(fd)
                    raise Busy(holder) from None
                time.sleep(0.02)
        mine = _held[path] = [fd, 0]
        _write(fd, run_id)
    elif run_id is not None:
        _write(mine[0], run_id)
    mine[1] += 1
    return mine


def name(lib, run_id: int) -> None:
    """Write ``run_id`` into the lock this process holds (after the run is
    journaled, so others can name it)."""
    path = lock_file(lib)
    with _guard:
        mine = _held.get(path) if path else None
        if mine is not None:
            _write(mine[0], run_id)


def holder(lib) -> Holder | None:
    """The other process holding the lock, or None (nobody, or this one)."""
    path = lock_file(lib)
    if path is None or path in _held or not os.path.exists(path):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return _read(fd)
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
