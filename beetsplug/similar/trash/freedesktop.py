"""Finding a file in a freedesktop.org trash, and putting it back. Pure.

``send2trash`` moves a file to ``files/NAME`` of a trash folder and writes
``info/NAME.trashinfo`` with the original ``Path=`` and the
``DeletionDate=``, but it does not say which NAME it chose (``a.jpg``,
``a 1.jpg``, ...). So the file is found afterwards, or after a crash, by
its info: that original path, deleted at or after a given time, and (on
one file system) the same inode as before.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from ..rename.planner import FileId, digest_of, holds, partial_copy

INFO = ".trashinfo"
SLACK = 2.0  # seconds: DeletionDate has whole seconds, in local time
# A link that fails so: across file systems, or a disk without hard links.
_NO_LINKS = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK)


class RestoreError(Exception):
    """A file cannot be put back; the message is one line."""


@dataclass(frozen=True)
class Trashed:
    file: str  # .../files/NAME
    info: str  # .../info/NAME.trashinfo
    deleted: float  # DeletionDate, seconds since the epoch


def _mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def trash_dirs(original: str) -> list[tuple[str, str]]:
    """(trash folder, the folder its relative ``Path=`` start from) where
    ``send2trash`` may have put the file from ``original``: the home trash
    (``$XDG_DATA_HOME/Trash``) and those of the file's mount point."""
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    dirs = [(os.path.join(data, "Trash"), data)]
    try:  # the one send2trash chose when it was imported
        from send2trash import plat_other
        dirs.append((os.fsdecode(plat_other.HOMETRASH_B),
                     os.fsdecode(plat_other.XDG_DATA_HOME)))
    except Exception:  # noqa: BLE001 - another platform
        pass
    if hasattr(os, "getuid"):
        top = _mount_point(os.path.dirname(os.path.abspath(original)) or ".")
        dirs += [(os.path.join(top, ".Trash", str(os.getuid())), top),
                 (os.path.join(top, f".Trash-{os.getuid()}"), top)]
    seen, out = set(), []
    for trash, top in dirs:
        if os.path.realpath(trash) not in seen:
            seen.add(os.path.realpath(trash))
            out.append((trash, top))
    return out


def read_info(info_path: str, top: str) -> tuple[str, float] | None:
    """(original path, deletion time) from a ``.trashinfo`` file."""
    path = deleted = None
    try:
        with open(info_path, "rb") as f:
            for line in f.read(1 << 16).splitlines():
                if line.startswith(b"Path="):
                    path = os.fsdecode(unquote_to_bytes(line[5:].strip()))
                elif line.startswith(b"DeletionDate="):
                    deleted = time.mktime(time.strptime(line[13:].strip().decode(),
                                                        "%Y-%m-%dT%H:%M:%S"))
    except (OSError, ValueError):
        return None
    if path is None or deleted is None:
        return None
    return os.path.normpath(os.path.join(top, path)), deleted


def _may_be(name: str, base: str) -> bool:
    """Whether send2trash may have named the file from ``base`` so:
    ``a.jpg`` or ``a 3.jpg``."""
    stem, ext = os.path.splitext(base)
    return name == base or (name.startswith(f"{stem} ") and name.endswith(ext)
                            and name[len(stem) + 1:len(name) - len(ext)].isdigit())


def _probed(base: str):
    """The names send2trash tries in turn (``a.jpg``, ``a 1.jpg``, ...)."""
    stem, ext = os.path.splitext(base)
    yield base
    n = 1
    while True:
        yield f"{stem} {n}{ext}"
        n += 1


def find(original: str, since: float, ident: FileId | None = None,
         known: str | None = None) -> Trashed | None:
    """The file trashed from ``original`` at or after ``since``: the latest
    one, and when ``ident`` is given the one that is still that file, else
    ``known`` (the trashed file recorded when it was sent: a copy, when the
    trash is across mounts of one disk), else the latest one on another
    file system (a copy there).

    The names send2trash tries are probed first, up to the first free one
    (where it put the file, unless names were freed since); the whole
    trash is read only when that finds nothing."""
    original = os.path.normpath(os.path.abspath(original))
    base = os.path.basename(original)
    dirs = trash_dirs(original)
    found: list[Trashed] = []
    for trash, top in dirs:
        for name in _probed(base):
            info = os.path.join(trash, "info", name + INFO)
            if not os.path.lexists(info) and \
                    not os.path.lexists(os.path.join(trash, "files", name)):
                break
            _consider(found, trash, top, name, original, since)
    best = _best(found, ident, known)
    if best is not None:
        return best
    found = []
    for trash, top in dirs:
        try:
            names = os.listdir(os.path.join(trash, "info"))
        except OSError:
            continue
        for info_name in names:
            name = info_name[:-len(INFO)]
            if info_name.endswith(INFO) and _may_be(name, base):
                _consider(found, trash, top, name, original, since)
    return _best(found, ident, known)


def find_sent(original: str, since: float, ident: FileId | None,
              known: str) -> Trashed | None:
    """The file a run sent from ``original`` at or after ``since`` (it is
    no longer there): as :func:`find`, with ``known`` the trashed file
    recorded when it was sent; when none was (the run was cut off between
    sending it and recording where it landed), the newest record of its
    path, even a copy on the same disk (across mounts of one disk)."""
    return find(original, since, ident, known) or (None if known else find(original, since))


def _consider(found: list[Trashed], trash: str, top: str, name: str, original: str,
              since: float) -> None:
    info = os.path.join(trash, "info", name + INFO)
    facts = read_info(info, top)
    file = os.path.join(trash, "files", name)
    if facts and facts[0] == original and facts[1] >= since - SLACK and os.path.lexists(file):
        found.append(Trashed(file, info, facts[1]))


def _best(found: list[Trashed], ident: FileId | None, known: str | None) -> Trashed | None:
    if ident is not None:
        found = ([t for t in found if holds(t.file, ident)]
                 or [t for t in found if known and t.file == os.path.normpath(known)]
                 or [t for t in found if _device(t.file) != ident[0]])
    return max(found, key=lambda t: t.deleted, default=None)


def _device(path: str) -> int | None:
    try:
        return os.lstat(path).st_dev
    except OSError:
        return None


def restore(trashed: Trashed, original: str) -> Trashed | None:
    """Put a trashed file back at ``original``, never over a file; raises
    :class:`RestoreError`. Moved back (one file system), its entry in the
    trash is removed. Copied back, the entry is returned, for the caller to
    :func:`discard` once it has recorded the file back: the copy is a new
    file, which a walk cut off before that record knows by the entry."""
    where = f"; it stays in the trash at {trashed.file}"
    os.makedirs(os.path.dirname(original) or ".", exist_ok=True)
    try:
        os.link(trashed.file, original)  # fails when the name is taken
        os.unlink(trashed.file)
    except FileExistsError:
        if not _same_bytes(original, trashed.file):
            raise RestoreError(f"{original} is taken by another file{where}") from None
        return trashed  # copied back before, by a walk cut off before its record
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise RestoreError(f"{original}: cannot put it back ({exc.strerror}){where}") \
                from None
        _copy_back(trashed.file, original, where)
        return trashed
    discard([trashed])
    return None


def discard(entries: Sequence[Trashed]) -> None:
    """Remove entries of the trash (their files are back)."""
    for entry in entries:
        for path in (entry.file, entry.info):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _copy_back(src: str, dst: str, where: str) -> None:
    """Across file systems (or without hard links): copy to a hidden name
    beside ``dst``, then give the copy its name, never over a file. Cut off
    anywhere, no part of a file is under ``dst``."""
    part = partial_copy(dst)
    try:
        if os.path.lexists(part):
            os.unlink(part)  # our own copy, cut off
        with open(src, "rb") as fin, open(part, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, part)
        _name_copy(part, dst, where)
    except OSError as exc:
        raise RestoreError(f"{dst}: cannot put it back ({exc.strerror}){where}") from None
    finally:
        try:
            os.unlink(part)
        except FileNotFoundError:
            pass


def _name_copy(part: str, dst: str, where: str) -> None:
    """Give the copy ``part`` the name ``dst``, never over another file
    (where the disk has no hard links, a rename after a check)."""
    try:
        os.link(part, dst)
        return
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if not os.path.lexists(dst):
            os.rename(part, dst)
            return
    if not _same_bytes(dst, part):
        raise RestoreError(f"{dst} is taken by another file{where}")


def _same_bytes(a: str, b: str) -> bool:
    try:
        return digest_of(a) == digest_of(b)
    except OSError:
        return False
