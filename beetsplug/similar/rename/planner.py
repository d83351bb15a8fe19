"""Plan and carry out renames that never overwrite or lose a file.

Pure: the standard library only. :func:`plan` turns wanted renames into
steps: each file first hops to a temporary name beside it, then to its
target, so swaps, cycles and case-only renames are safe. A target held
by a file outside the plan is never taken: the name gets a ``.1``, ``.2``
suffix. :func:`perform` does one step without ever replacing a file, and
can be re-run on a step that was cut off half way (after a crash).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    key: Hashable  # whose file this is (a photo id)
    src: str
    dst: str
    part: int = 0  # 0: the photo file; 1, 2, ...: its companions


class RenameError(Exception):
    """A step that cannot be done safely; ``str()`` is one line."""


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def with_suffix(path: str, n: int) -> str:
    stem, ext = os.path.splitext(path)
    return f"{stem}.{n}{ext}"


def plan(
    wanted: Sequence[tuple[Hashable, str, str]],
    token: str | None = None,
    exists: Callable[[str], bool] = os.path.lexists,
) -> list[Step]:
    """Steps for ``(key, src, dst)`` renames of single files; see
    :func:`plan_units`."""
    return plan_units([(key, [(src, dst)]) for key, src, dst in wanted], token, exists)


def _suffixed(dst: str, stem: str, n: int) -> str:
    """``dst`` with ``.n`` after the unit's stem: IMG.1.CR2, IMG.1.CR2.xmp."""
    folder, name = os.path.split(dst)
    if stem and name.startswith(stem) and name != stem:
        return os.path.join(folder, f"{stem}.{n}{name[len(stem):]}")
    return with_suffix(dst, n)


def plan_units(
    units: Sequence[tuple[Hashable, Sequence[tuple[str, str]]]],
    token: str | None = None,
    exists: Callable[[str], bool] = os.path.lexists,
    on_taken: Callable[[Hashable, str, str], None] = lambda key, name, instead: None,
) -> list[Step]:
    """Steps for renaming units of files that move together: ``(key,
    [(src, dst), ...])``, a photo first and then its companions (parts 1,
    2, ...). Returned in the order to perform them: every first hop (to a
    temporary name), then every second hop.

    ``token`` makes the temporary names unique to this run (default: from
    the clock and process id). Files whose target is their source stay. When
    a unit's target names are taken, by a file outside the plan or by
    another unit, the whole unit gets a numbered suffix after its stem, so
    companions keep matching their photo; ``on_taken(key, name, instead)``
    hears of each name a file outside the plan holds.
    """
    token = token or f"{time.time_ns() // 1000:x}{os.getpid():x}"
    sources = {_norm(src) for _, files in units for src, _ in files}
    taken: set[str] = set()
    final: list[tuple[Hashable, int, str, str]] = []
    for key, files in units:
        moving = [(part, src, dst) for part, (src, dst) in enumerate(files) if src != dst]
        if not moving:
            continue
        stem = os.path.splitext(os.path.basename(files[0][1]))[0]
        targets, n = [dst for _, _, dst in moving], 0
        outside = [t for t in targets if _norm(t) not in sources and exists(t)]
        while not all(_norm(t) not in taken and (_norm(t) in sources or not exists(t))
                      for t in targets):
            n += 1
            targets = [_suffixed(dst, stem, n) for _, _, dst in moving]
        if outside:
            on_taken(key, outside[0], targets[0])
        taken.update(_norm(t) for t in targets)
        final += [(key, part, src, t) for (part, src, _), t in zip(moving, targets)]

    first, second = [], []
    for i, (key, part, src, dst) in enumerate(final):
        ext = os.path.splitext(src)[1]
        tmp = os.path.join(os.path.dirname(src), f".similar-{token}-{i}{ext}")
        first.append(Step(key, src, tmp, part))
        second.append(Step(key, tmp, dst, part))
    return first + second


FileId = tuple[int, int]  # (st_dev, st_ino): which file, whatever its name


def file_id(path: str) -> FileId:
    """The identity of the regular file at ``path``; raises OSError."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    return st.st_dev, st.st_ino


def holds(path: str, ident: FileId) -> bool:
    """True when ``path`` is a name of the file ``ident`` (not a link to it)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == ident


def _distinct_entries(a: str, b: str) -> bool:
    """Both names are listed in their folders: two links to one file, not one
    entry reached by two spellings (as on a case-insensitive disk)."""
    def listed(path: str) -> bool:
        return os.path.basename(path) in os.listdir(os.path.dirname(path) or ".")
    return listed(a) and listed(b)


def _taken(src: str, dst: str) -> RenameError:
    return RenameError(f"{dst}: already exists; not overwriting it with {src}")


def _move(src: str, dst: str) -> None:
    """Hard link then unlink: never replaces ``dst``. Where the disk has no
    hard links, a rename after a check."""
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    try:
        os.link(src, dst)  # fails if dst exists: no overwrite, ever
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise _taken(src, dst) from None
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
            raise RenameError(f"{src}: cannot move to {dst}: {exc.strerror}") from None
        if os.path.lexists(dst):
            raise _taken(src, dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def perform(src: str, dst: str, ident: FileId | None = None,
            later: Sequence[str] = ()) -> str:
    """Move the file ``ident`` from ``src`` to ``dst``, never replacing a file.

    Safe to call again on a step that was interrupted: the file is
    recognised by its identity, not by its name, so another file sitting at
    ``src``, ``dst`` or a ``later`` place of the same photo is never taken
    for it. Returns ``"done"`` when the move happened now or before (the
    file is at ``dst`` or further on). Raises :class:`RenameError` when the
    move cannot be done safely. Without ``ident`` (journals of older
    versions) the file found at ``src`` is taken to be the right one.
    """
    if ident is None:
        if not os.path.lexists(src):
            if os.path.lexists(dst):
                return "done"
            raise RenameError(f"{src}: file vanished; neither it nor {dst} exists")
        ident = file_id(src)
    if holds(src, ident):
        if holds(dst, ident):
            if _distinct_entries(src, dst):  # cut between link and unlink
                os.unlink(src)
            else:  # one entry, two spellings: a case-only rename
                os.rename(src, dst)
            return "done"
        if os.path.lexists(dst):
            raise _taken(src, dst)
        _move(src, dst)
        return "done"
    if holds(dst, ident) or any(holds(p, ident) for p in later):
        return "done"
    raise RenameError(f"{src}: file vanished or replaced by another file; "
                      f"it is not at {dst} either (re-import its folder)")
