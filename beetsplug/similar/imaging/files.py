"""What kind of file a path is, checked before anything opens it.

Pure: the standard library. Opening a named pipe (FIFO) blocks until a
writer comes, and a device or socket is no photo: every reader checks
with :func:`check_regular` first; ``os.stat`` never opens the file.
"""

from __future__ import annotations

import os
import stat

from .errors import ImageError

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def odd_kind(path: str) -> str | None:
    """What ``path`` is when it exists but is not a regular file (symbolic
    links followed), else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # missing or unreadable: the reader says which
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def is_regular(path: str) -> bool:
    """True when ``path`` is a regular file (or a link to one)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def check_regular(path: str) -> None:
    """Raise an ImageError for a path that exists and is not a regular file."""
    kind = odd_kind(path)
    if kind is not None:
        raise ImageError(path, f"{kind}, not a photo file; not opened",
                         "move it out of the photo folders")
