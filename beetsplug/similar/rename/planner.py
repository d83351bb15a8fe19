"""Plan and carry out renames that never overwrite or lose a file.

Pure: the standard library only. :func:`plan` turns wanted renames into
steps: each file goes straight to its target once the file of the plan
there has left, and only in a cycle (a swap, a case-only rename) does one
file hop to a temporary name beside it first. A target held
by a file outside the plan is never taken: the name gets a ``.1``, ``.2``
suffix. :func:`perform` does one step without ever replacing a file, and
can be re-run on a step that was cut off half way (after a crash).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
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
    2, ...). Returned in the order to perform them (see :func:`_ordered`).

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

    return _ordered([move for move in final if move[2] != move[3]], token)


def _fold(path: str) -> str:
    """A name as a case-insensitive disk sees it: two names that fold alike
    may be one file there."""
    return _norm(path).casefold()


def _ordered(moves: Sequence[tuple[Hashable, int, str, str]], token: str) -> list[Step]:
    """Steps doing each move straight to its target, in an order where each
    target is free when its turn comes: a move waits for the files of the
    plan that sit at its target to leave first. Only a cycle (a swap, a
    case-only rename) needs a temporary name: one of its files hops to
    ``.similar-TOKEN-N`` beside it, which frees the rest of the cycle.
    Names are compared case-folded, so a case-insensitive disk never sees
    a move onto a file of the plan."""
    here: dict[str, set[int]] = {}  # folded name -> the moves whose file is there now
    waiting: dict[str, list[int]] = {}  # folded name -> the moves whose target it is
    for i, (_, _, src, dst) in enumerate(moves):
        here.setdefault(_fold(src), set()).add(i)
        waiting.setdefault(_fold(dst), []).append(i)
    at = [src for _, _, src, _ in moves]  # where each file is now
    done = [False] * len(moves)
    ready = [i for i in reversed(range(len(moves))) if _fold(moves[i][3]) not in here]
    steps: list[Step] = []
    hops, nxt = 0, 0

    def leave(i: int) -> None:
        """Move ``i``'s file left its place: the moves waiting for it may go."""
        name = _fold(at[i])
        if i not in here.get(name, ()):
            return  # from a temporary name, which nobody waits for
        here[name].discard(i)
        if not here[name]:
            del here[name]
            ready.extend(w for w in reversed(waiting.get(name, ())) if not done[w])

    while True:
        while ready:  # popped from the end: in plan order
            i = ready.pop()
            key, part, _, dst = moves[i]
            if done[i] or _fold(dst) in here:
                continue  # listed twice, or its target is taken again
            steps.append(Step(key, at[i], dst, part))
            done[i] = True
            leave(i)
        while nxt < len(moves) and done[nxt]:
            nxt += 1
        if nxt == len(moves):
            return steps
        # Every move left waits for another: follow the waits to a cycle,
        # and one file of it hops aside.
        i, seen = nxt, set()
        while i not in seen:
            seen.add(i)
            i = min(here[_fold(moves[i][3])])
        key, part, src, dst = moves[i]
        tmp = os.path.join(os.path.dirname(src),
                           f".similar-{token}-{hops}{os.path.splitext(src)[1]}")
        hops += 1
        steps.append(Step(key, src, tmp, part))
        leave(i)
        at[i] = tmp
        if _fold(dst) not in here:
            ready.append(i)


FileId = tuple[int, int]  # (st_dev, st_ino): which file, whatever its name


class CrossDevice(RenameError):
    """The step crosses disks: it needs the file's digest (see :func:`perform`)."""


def file_id(path: str) -> FileId:
    """The identity of the regular file at ``path``; raises OSError."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    return st.st_dev, st.st_ino


def digest_of(path: str) -> str:
    """SHA-256 of the regular file at ``path`` (never waits on a FIFO);
    raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        sha = hashlib.sha256()
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def holds(path: str, ident: FileId, digest: str | None = None) -> bool:
    """True when ``path`` is a name of the file ``ident`` (not a link to it);
    with ``digest``, a file copied across disks, also when it holds those
    bytes."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    if (st.st_dev, st.st_ino) == tuple(ident):
        return True
    try:
        return digest is not None and digest_of(path) == digest
    except OSError:
        return False


def _distinct_entries(a: str, b: str) -> bool:
    """Both names are listed in their folders: two links to one file, not one
    entry reached by two spellings (as on a case-insensitive disk)."""
    def listed(path: str) -> bool:
        return os.path.basename(path) in os.listdir(os.path.dirname(path) or ".")
    return listed(a) and listed(b)


def _taken(name: str, dst: str) -> RenameError:
    return RenameError(f"{dst}: already exists; not overwriting it with {name}")


_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP)


def _move(src: str, dst: str, name: str, digest: str | None) -> None:
    """Hard link then unlink: never replaces ``dst``. Where the disk has no
    hard links, a rename after a check; across disks, :func:`_copy_across`."""
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    try:
        os.link(src, dst)  # fails if dst exists: no overwrite, ever
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise _taken(name, dst) from None
        if exc.errno == errno.EXDEV:
            if digest is None:
                raise CrossDevice(f"{name}: {dst} is on another disk") from None
            _copy_across(src, dst, name, digest)
            return
        if exc.errno not in _NO_LINKS:
            raise RenameError(f"{name}: cannot move to {dst}: {exc.strerror}") from None
        if os.path.lexists(dst):
            raise _taken(name, dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def partial_copy(dst: str) -> str:
    """The hidden name beside ``dst`` that a copy across disks is written to."""
    return os.path.join(os.path.dirname(dst) or ".", f".similar-copy-{os.path.basename(dst)}")


def discard_partial_copies(paths: Sequence[str]) -> None:
    """Remove the copies across disks to any of ``paths`` that a crash cut
    off. Safe at any time a run is not moving files: the bytes are whole at
    the source or the target until the copy has its name (see
    :func:`_copy_across`)."""
    for path in paths:
        part = partial_copy(path)
        try:
            if stat.S_ISREG(os.lstat(part).st_mode):
                os.unlink(part)
        except OSError:
            pass


def _copy_across(src: str, dst: str, name: str, digest: str) -> None:
    """Copy to a hidden name beside ``dst``, fsync, check the bytes against
    ``digest``, give the copy its name (never replacing a file), and only
    then unlink ``src``. Cut anywhere, the bytes are whole at ``src`` or at
    ``dst`` (or both: :func:`perform` then finishes)."""
    folder = os.path.dirname(dst) or "."
    part = partial_copy(dst)
    try:
        if os.path.lexists(part):
            os.unlink(part)  # our own copy, cut off by a crash
        w = open(part, "xb")
        try:
            with open(src, "rb") as r, w:
                shutil.copyfileobj(r, w, 1 << 20)
                w.flush()
                os.fsync(w.fileno())
            shutil.copystat(src, part)
            if digest_of(part) != digest:
                raise RenameError(f"{name}: changed since the move began, or the copy on "
                                  f"{folder} differs; not moved")
            os.link(part, dst)
        except BaseException:
            _discard(part)  # a copy that failed (a full disk) takes no room
            raise
        os.unlink(part)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        if exc.errno == errno.EEXIST and exc.filename2 == dst:
            raise _taken(name, dst) from None
        raise RenameError(f"{name}: cannot copy to {folder}: {exc.strerror}; "
                          "not moved") from None
    os.unlink(src)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def perform(src: str, dst: str, ident: FileId | None = None,
            later: Sequence[str] = (), label: str | None = None,
            digest: str | None = None) -> str:
    """Move the file ``ident`` from ``src`` to ``dst``, never replacing a file.

    Safe to call again on a step that was interrupted: the file is
    recognised by its identity, not by its name, so another file sitting at
    ``src``, ``dst`` or a ``later`` place of the same photo is never taken
    for it. Returns ``"done"`` when the move happened now or before (the
    file is at ``dst`` or further on). Raises :class:`RenameError` when the
    move cannot be done safely, naming the file by ``label`` (its real name,
    not a temporary one). Across disks the file gets a new identity: its
    bytes (``digest``) identify it then; without one, :class:`CrossDevice`.
    Without ``ident`` (journals of older versions) the file found at
    ``src`` is taken to be the right one.
    """
    name = label or src
    if ident is None:
        if not os.path.lexists(src):
            if os.path.lexists(dst):
                return "done"
            raise RenameError(f"{name}: file vanished; it is not at its new name either")
        ident = file_id(src)
    if holds(src, ident, digest):
        if holds(dst, ident, digest):
            if _distinct_entries(src, dst):  # cut between link (or copy) and unlink
                os.unlink(src)
            else:  # one entry, two spellings: a case-only rename
                os.rename(src, dst)
            return "done"
        if os.path.lexists(dst):
            raise _taken(name, dst)
        _move(src, dst, name, digest)
        return "done"
    if holds(dst, ident, digest) or any(holds(p, ident, digest) for p in later):
        return "done"
    raise RenameError(f"{name}: file vanished or replaced by another file "
                      "(re-import its folder)")
