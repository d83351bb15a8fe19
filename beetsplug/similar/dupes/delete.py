"""Deleting an extra photo only when it is safe, checked at that moment.

Pure: the standard library and the content hash. The library's facts
(paths, hashes) may be stale: the file may have been overwritten, or two
rows may name one file (a symlink, a hard link). So every fact that makes
a deletion safe is checked again on the disk right before it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from ..imaging.decode import content_hash


def refusal(victim: str, victim_hash: str, keep: str, keep_hash: str,
            hash_of: Callable[[str], str] = content_hash) -> str | None:
    """Why ``victim`` must not be deleted now, or None when it may be.

    It may be deleted only when both it and ``keep`` are regular files (not
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
        return f"the photo to keep is gone ({keep})"
    if not stat.S_ISREG(vst.st_mode):
        return "not a regular file (a symbolic link?)"
    if not stat.S_ISREG(kst.st_mode):
        return f"the photo to keep is not a regular file ({keep})"
    if os.path.samestat(vst, kst) or os.path.realpath(victim) == os.path.realpath(keep):
        return f"it is the same file as the photo to keep ({keep})"
    try:
        if hash_of(keep) != keep_hash:
            return f"the photo to keep changed since it was imported ({keep}); re-import it"
        if hash_of(victim) != victim_hash:
            return "it changed since it was imported; re-import it"
    except OSError as exc:
        return f"cannot read it again ({exc.strerror})"
    return None
