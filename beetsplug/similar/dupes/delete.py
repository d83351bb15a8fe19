"""Acting on an extra photo only when it is safe, checked at that moment.

Pure: the standard library. The library's facts (paths, hashes) may be
stale: the file may have been overwritten, moved away (a row whose file is
gone), or two rows may name one file (a symlink, a hard link). So every
fact that makes a deletion, a move or a mark safe is checked again on the
disk right before it. A file is read only after its type is checked: a
named pipe or a device would block or never end.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable

_CHUNK = 1 << 20


def content_hash(path: str) -> str:
    """SHA-256 of a regular file's bytes, hex (as ``imaging.decode``'s).
    Raises OSError, without reading, for anything else (a FIFO, a device,
    a folder, a symbolic link)."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise OSError(0, "not a regular file", path)
    # Non-blocking: a file swapped for a FIFO after the check is not waited on.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file", path)
        digest = hashlib.sha256()
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def on_disk(path: str) -> bool:
    """True when ``path`` is a regular file (not gone, not a link)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def keeper_refusal(keep: str, keep_hash: str,
                   hash_of: Callable[[str], str] = content_hash) -> str | None:
    """Why the photo at ``keep`` cannot stand for its group's extras now,
    or None: it must be a regular file holding the recorded bytes."""
    try:
        kst = os.lstat(keep)
    except OSError:
        return f"the photo to keep is gone ({keep}); re-import its folder"
    if not stat.S_ISREG(kst.st_mode):
        return f"the photo to keep is not a regular file ({keep})"
    try:
        if hash_of(keep) != keep_hash:
            return f"the photo to keep changed since it was imported ({keep}); re-import it"
    except OSError as exc:
        return f"cannot read the photo to keep ({keep}: {exc.strerror})"
    return None


def refusal(victim: str, victim_hash: str, keep: str, keep_hash: str,
            hash_of: Callable[[str], str] = content_hash) -> str | None:
    """Why ``victim`` must not be deleted (or moved, or marked) now, or None
    when it may be.

    It may be only when both it and ``keep`` are regular files (not
    symbolic links), they are different files (not one file under two
    names), and each still holds the bytes the library recorded for it.
    """
    try:
        vst = os.lstat(victim)
    except OSError:
        return "the file is gone"
    try:
        kst = os.lstat(keep)
    except OSError:
        return f"the photo to keep is gone ({keep}); re-import its folder"
    if not stat.S_ISREG(vst.st_mode):
        return "not a regular file (a symbolic link?)"
    if not stat.S_ISREG(kst.st_mode):
        return f"the photo to keep is not a regular file ({keep})"
    if os.path.samestat(vst, kst) or os.path.realpath(victim) == os.path.realpath(keep):
        return f"it is the same file as the photo to keep ({keep})"
    reason = keeper_refusal(keep, keep_hash, hash_of)
    if reason is not None:
        return reason
    try:
        if hash_of(victim) != victim_hash:
            return "it changed since it was imported; re-import it"
    except OSError as exc:
        return f"cannot read it again ({exc.strerror})"
    return None
