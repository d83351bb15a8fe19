"""Trash runs: the extras of duplicate groups, with their companions, go
to the system trash (``send2trash``), journaled like a rename run, so a
run cut off anywhere is finished by :func:`resume_run` or rolled back by
:func:`undo_run`. Non-printing: the commands and the review page report.

Each extra is checked on the disk right before its files go, exactly as
``--delete`` checks (:func:`dupes.delete.refusal`); one that fails stays,
with the reason. Its row (fields, flexible attributes, vectors,
companions) is saved at the start of the run and removed in the same
transaction that records where its files landed.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from send2trash import TrashPermissionError, send2trash

from .. import interrupts
from ..dupes.delete import content_hash, refusal
from ..library import companions
from ..library.models import Photo, ensure_schema
from ..rename import live
from ..rename.planner import RenameError, file_id, holds, perform
from ..rename.runs import forget_if_empty
from . import freedesktop, merge, rating, runs, store
from .undo import UndoOutcome, undo_run  # noqa: F401 - part of this API

if TYPE_CHECKING:
    from beets.library import Library

ADOPT, TRASH = "adopt", "trash"  # sidecars: the photo kept takes them over, or not
# Photos per database transaction. A crash before a commit loses nothing:
# the files already sent are found in the trash by their .trashinfo.
COMMIT_EVERY = 50


@dataclass
class TrashOutcome:
    run_id: int | None
    trashed: list[int] = field(default_factory=list)  # photos now in the trash
    refused: dict[int, str] = field(default_factory=dict)  # photo: why it stays
    names: dict[int, str] = field(default_factory=dict)  # photo refused: its file
    files: int = 0  # files sent to the trash (photos and companions)
    bytes: int = 0
    adopted: list[tuple[str, str]] = field(default_factory=list)  # sidecar: new name
    interrupted: bool = False


def photo_rating(photo: Photo, comps: Sequence[companions.Companion]) -> int | None:
    """The photo's ``rating`` field, else the rating in its XMP sidecar."""
    value = photo.get("rating")
    if value not in (None, ""):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            pass
    for c in comps:
        if c.kind == "sidecar" and c.path.lower().endswith(".xmp"):
            found = rating.read(c.path)
            if found is not None:
                return found
    return None


def _by_keeper(pairs) -> dict[int, list[tuple[Photo, Photo]]]:
    groups: dict[int, list[tuple[Photo, Photo]]] = {}
    for pair in pairs:
        groups.setdefault(pair[1].id, []).append(pair)
    return groups


def adoptions(pairs: Sequence[tuple[Photo, Photo]], comps: dict,
              ratings: dict[int, int | None] | None = None) -> dict[int, list[tuple[int, str]]]:
    """{extra id: [(part, new path)]}: the sidecars each photo kept that has
    none takes over from its extras (``pairs``: (extra, photo kept);
    ``comps``: the companions of both), as :func:`trash_extras` does."""
    if ratings is None:
        ratings = {p.id: photo_rating(p, comps.get(p.id, ())) for p, _ in pairs}
    adopt: dict[int, list[tuple[int, str]]] = {}
    for kid, group in _by_keeper(pairs).items():
        keep = group[0][1]
        adopt.update(merge.adoptions(
            os.fsdecode(keep.path), any(c.kind == "sidecar" for c in comps.get(kid, ())),
            [(p.id, os.fsdecode(p.path), [(c.part, c.path) for c in comps.get(p.id, ())
                                          if c.kind == "sidecar"], ratings[p.id])
             for p, _ in group]))
    return adopt


def trash_extras(lib: Library, pairs: Sequence[tuple[Photo, Photo]], sidecars: str = ADOPT,
                 on_photo: Callable[[], None] = lambda: None) -> TrashOutcome:
    """Send each extra of ``pairs`` (extra, photo kept) and its companions
    to the trash, as one journaled run. With ``sidecars="adopt"`` a photo
    kept that has no sidecar takes over those of an extra (renamed to its
    name, in the same run); with ``"trash"`` they go too. The photo kept
    takes the highest rating of its extras either way. A run that sends
    nothing is not kept (``run_id`` None): undo never takes it. Raises
    :class:`live.Busy` while another process walks a run."""
    if sidecars not in (ADOPT, TRASH):
        raise ValueError(f"sidecars must be {ADOPT!r} or {TRASH!r}, not {sidecars!r}")
    ensure_schema(lib)
    store.ensure(lib)
    pairs = list({extra.id: (extra, keep) for extra, keep in pairs
                  if extra.id != keep.id}.values())
    if not pairs:
        return TrashOutcome(None)
    comps = companions.of(lib, [p.id for pair in pairs for p in pair])
    ratings = {p.id: photo_rating(p, comps.get(p.id, ())) for pair in pairs for p in pair}
    groups = _by_keeper(pairs)
    adopt = adoptions(pairs, comps, ratings) if sidecars == ADOPT else {}
    rows = []
    for extra, _ in pairs:
        targets = dict(adopt.get(extra.id, ()))
        files = [(0, os.fsdecode(extra.path))] + [(c.part, c.path)
                                                   for c in comps.get(extra.id, ())]
        for part, path in sorted(files, key=lambda f: f[0] not in targets):
            rows.append((extra.id, part, path, targets.get(part, ""), _ident(path)))
    with live.holding(lib):
        return _walk(lib, _journal(lib, pairs, rows, ratings, adopt, groups), on_photo)


def _journal(lib: Library, pairs, rows, ratings, adopt, groups) -> int:
    """The run, its steps and the rows to restore, in one transaction."""
    with interrupts.deferred(), lib.transaction() as tx:
        run_id = runs.insert_run(tx, rows)
        for extra, keep in pairs:
            store.save(tx, run_id, extra.id, "extra", keep.id,
                       {"rows": store.snapshot(tx, extra.id), "rating": ratings[extra.id],
                        "adopt": [part for part, _ in adopt.get(extra.id, ())]})
        for kid, group in groups.items():
            best = merge.best_rating([ratings[kid], *(ratings[p.id] for p, _ in group)])
            before = runs.rating_of(tx, kid)
            if best is not None and (best != ratings[kid] or before is None):
                store.save(tx, run_id, kid, "keeper", None, {"before": before, "rating": best})
    live.name(lib, run_id)
    return run_id


def resume_run(lib: Library, run_id: int,
               on_photo: Callable[[], None] = lambda: None) -> TrashOutcome:
    """Finish a trash run that was cut off: files already in the trash are
    found there (by their ``.trashinfo``); the others are checked and sent."""
    store.ensure(lib)
    return _walk(lib, run_id, on_photo)


def _ident(path: str):
    try:
        return file_id(path)
    except OSError:
        return None


class _Walk:
    def __init__(self, lib: Library, run_id: int) -> None:
        self.lib, self.run_id = lib, run_id
        self.since = runs.started(lib, run_id)[1]
        self.saved = store.load(lib, run_id)
        self.outcome = TrashOutcome(run_id)
        self.hashes: dict[str, str] = {}

    def hash_of(self, path: str) -> str:
        if path not in self.hashes:
            self.hashes[path] = content_hash(path)
        return self.hashes[path]

    def check(self, extra: Photo | None, keep: Photo | None, steps: list[runs.Step]) -> str | None:
        """Why the extra must stay, checked on the disk now; None if it may go."""
        if extra is None:
            return "no longer in the library"
        if keep is None:
            return "the photo to keep is no longer in the library"
        main = next(s for s in steps if s.part == 0)
        if main.ident is None or not holds(main.src, main.ident):
            if main.ident and freedesktop.find_sent(main.src, self.since, main.ident, main.dst):
                return None  # sent before the run was cut off: its checks were passed
            return "the file is gone or was replaced"
        kept = os.fsdecode(keep.path)
        reason = refusal(main.src, extra.hash, kept, keep.hash, self.hash_of)
        if reason:
            return reason
        theirs = [kept] + [c.path for c in companions.of(self.lib, [keep.id]).get(keep.id, ())]
        for s in steps:
            if s is main or (s.adopt and s.ident and holds(s.dst, s.ident)):
                continue  # an adopted sidecar already beside the photo kept
            try:
                st = os.lstat(s.src)
            except OSError:
                if s.ident and freedesktop.find_sent(s.src, self.since, s.ident, s.dst):
                    continue
                return f"its companion {s.src} is gone; re-import its folder"
            if not stat.S_ISREG(st.st_mode):
                return f"its companion {s.src} is not a regular file"
            if any(_same(st, t) for t in theirs):
                return f"its companion {s.src} is a file of the photo to keep"
        return None

    def photo(self, pid: int, steps: list[runs.Step]) -> None:
        kid, data = self.saved[pid, "extra"]
        extra, keep = self.lib._get(Photo, pid), self.lib._get(Photo, kid)
        reason = self.check(extra, keep, steps)
        if reason is not None:
            return self.refuse(pid, steps, reason)
        moved: list[tuple[runs.Step, str, int]] = []  # (step, where it went, bytes)
        try:
            for s in steps:
                moved.append(self.adopt(s) if s.adopt else self.send(s))
        except (RenameError, freedesktop.RestoreError, OSError, TrashPermissionError) as exc:
            return self.refuse(pid, steps, runs.one_line(exc) + self.put_back(moved))
        with self.lib.transaction() as tx:  # Ctrl-C waits: see _walk
            runs.set_states(tx, self.run_id, [(s, "done", dst) for s, dst, _ in moved])
            store.forget(tx, pid)
            for s, dst, _ in moved:
                if s.adopt:
                    runs.add_companion(tx, kid, dst)
                    self.outcome.adopted.append((s.src, dst))
            if any(s.adopt for s, _, _ in moved):
                runs.refresh_shot(tx, kid)
            if (kid, "keeper") in self.saved:
                runs.set_rating(tx, kid, self.saved[kid, "keeper"][1]["rating"])
        self.outcome.trashed.append(pid)
        trashed = [size for s, _, size in moved if not s.adopt]
        self.outcome.files += len(trashed)
        self.outcome.bytes += sum(trashed)

    def adopt(self, s: runs.Step) -> tuple[runs.Step, str, int]:
        perform(s.src, s.dst, s.ident)
        return s, s.dst, 0

    def send(self, s: runs.Step) -> tuple[runs.Step, str, int]:
        if s.ident is not None and holds(s.src, s.ident):
            size = os.lstat(s.src).st_size
            sent = time.time()
            send2trash(s.src)
            # Moved into the trash, or copied there (a new inode, across
            # mounts of one disk too): then the newest record of its path.
            found = (freedesktop.find(s.src, self.since, s.ident)
                     or freedesktop.find(s.src, sent))
            if found is None and os.path.lexists(s.src):
                raise OSError(f"{s.src}: still there after sending it to the trash")
            return s, found.file if found else "", size  # "": a trash without records
        found = s.ident and freedesktop.find_sent(s.src, self.since, s.ident, s.dst)
        if not found:
            raise RenameError(f"{s.src}: file vanished or replaced by another file")
        return s, found.file, os.lstat(found.file).st_size

    def put_back(self, moved) -> str:
        """Return the files of a photo that could not all go; '' or why not."""
        problems = []
        for s, dst, _ in reversed(moved):
            try:
                if s.adopt:
                    perform(dst, s.src, s.ident)
                elif (found := freedesktop.find_sent(s.src, self.since, s.ident, dst)) is not None:
                    if freedesktop.restore(found, s.src) is not None:
                        freedesktop.discard([found])  # copied back: nothing to record
                else:
                    problems.append(f"{s.src} is in the system trash")
            except (RenameError, freedesktop.RestoreError, OSError) as exc:
                problems.append(runs.one_line(exc))
        return "".join(f"; {p}" for p in problems)

    def refuse(self, pid: int, steps: list[runs.Step], reason: str) -> None:
        with self.lib.transaction() as tx:
            runs.set_states(tx, self.run_id, [(s, "skipped", s.dst) for s in steps])
        self.outcome.refused[pid] = reason
        self.outcome.names[pid] = next((s.src for s in steps if s.part == 0), steps[0].src)


def _same(st: os.stat_result, path: str) -> bool:
    try:
        return os.path.samestat(st, os.lstat(path))
    except OSError:
        return False


def _walk(lib: Library, run_id: int, on_photo: Callable[[], None]) -> TrashOutcome:
    walk = _Walk(lib, run_id)
    adopted = {pid: set(data["adopt"]) for (pid, role), (_, data) in walk.saved.items()
               if role == "extra"}
    pending = list(runs.steps(lib, run_id, ("pending",), adopted).items())
    with interrupts.deferred() as interrupt:
        for start in range(0, len(pending), COMMIT_EVERY):
            with lib.transaction():  # one commit for many photos: see COMMIT_EVERY
                for pid, steps in pending[start:start + COMMIT_EVERY]:
                    walk.photo(pid, steps)
                    on_photo()
                    if interrupt.consume():
                        walk.outcome.interrupted = True
                        break
            if walk.outcome.interrupted:
                break
        if not walk.outcome.interrupted:
            runs.finish(lib, run_id, "done")
            if forget_if_empty(lib, run_id):
                store.drop_run(lib, run_id)
                walk.outcome.run_id = None
            interrupt.consume()  # pressed after the last photo: the run is whole
    return walk.outcome
