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
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    key: Hashable  # whose file this is (a photo id)
    src: str
    dst: str


class RenameError(Exception):
    """A step that cannot be done safely; ``str()`` is one line."""


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _with_suffix(path: str, n: int) -> str:
    stem, ext = os.path.splitext(path)
    return f"{stem}.{n}{ext}"


def plan(
    wanted: Sequence[tuple[Hashable, str, str]],
    token: str | None = None,
    exists: Callable[[str], bool] = os.path.lexists,
) -> list[Step]:
    """Steps for ``(key, src, dst)`` renames, in the order to perform them:
    every first hop (to a temporary name), then every second hop.

    ``token`` makes the temporary names unique to this run (default: from
    the clock and process id). Renames whose target is their source are
    dropped. Two files wanting one name, or a name taken by a file outside
    the plan, get numbered suffixes.
    """
    token = token or f"{time.time_ns() // 1000:x}{os.getpid():x}"
    moving = [(k, s, d) for k, s, d in wanted if s != d]
    sources = {_norm(s) for _, s, _ in wanted}
    taken: set[str] = set()
    final: list[tuple[Hashable, str, str]] = []
    for key, src, dst in moving:
        candidate, n = dst, 0
        while True:
            norm = _norm(candidate)
            free_on_disk = norm in sources or not exists(candidate)
            if norm not in taken and free_on_disk:
                break
            n += 1
            candidate = _with_suffix(dst, n)
        taken.add(_norm(candidate))
        final.append((key, src, candidate))

    first, second = [], []
    for i, (key, src, dst) in enumerate(final):
        ext = os.path.splitext(src)[1]
        tmp = os.path.join(os.path.dirname(src), f".similar-{token}-{i}{ext}")
        first.append(Step(key, src, tmp))
        second.append(Step(key, tmp, dst))
    return first + second


def _hard_linked(a: str, b: str) -> bool:
    """Two directory entries of one file (not one entry named two ways, as
    on a case-insensitive disk)."""
    try:
        return os.path.samefile(a, b) and os.stat(a).st_nlink > 1
    except OSError:
        return False


def _taken(src: str, dst: str) -> RenameError:
    return RenameError(f"{dst}: already exists; not overwriting it with {src}")


def perform(src: str, dst: str) -> str:
    """Move ``src`` to ``dst`` without ever replacing a file.

    Safe to call again on a step that was interrupted: returns ``"done"``
    when the move happened now or had already happened. Raises
    :class:`RenameError` when the move cannot be done safely.
    """
    src_there, dst_there = os.path.lexists(src), os.path.lexists(dst)
    if not src_there and dst_there:
        return "done"  # done before an interruption
    if not src_there:
        raise RenameError(f"{src}: file vanished; neither it nor {dst} exists")
    if dst_there:
        if _hard_linked(src, dst):
            os.unlink(src)  # a link-then-unlink cut in the middle: dst has it
            return "done"
        raise _taken(src, dst)
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    try:
        os.link(src, dst)  # fails if dst exists: no overwrite, ever
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise _taken(src, dst) from None
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK,
                             errno.EOPNOTSUPP):
            raise RenameError(f"{src}: cannot rename to {dst}: {exc.strerror}") from None
        # No hard links here (FAT, some network shares): checked rename.
        if os.path.lexists(dst):
            raise _taken(src, dst) from None
        os.rename(src, dst)
        return "done"
    os.unlink(src)
    return "done"
