"""Runs journaled in the library database: run, resume, undo.

Every step of a run is written to ``similar_journal`` before the first
file moves. Steps are then done in order and the photos' stored paths
follow them in the same transactions. Because each step can be redone
safely (see :func:`planner.perform`), a run cut off anywhere, even
between a rename and its database commit, is finished by :func:`resume`
or rolled back by :func:`undo`; an undo cut off is finished by
:func:`undo` again (the run reads ``undoing`` until then).

A step moves one file from ``src`` to ``dst``; a run's kind (order,
clear, move-copies, ...) only names it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from beets import util

from .. import interrupts
from ..library.models import Photo, ensure_schema
from . import changes, live
from .planner import (CrossDevice, FileId, RenameError, Step, digest_of,
                      discard_partial_copies, file_id, holds, perform, with_suffix)
from .runs import (RunInfo, forget_if_empty, interrupted, kind_of,  # noqa: F401
                   last_undoable, moved, runs, unfinished, unfinished_line)  # noqa: F401

if TYPE_CHECKING:
    from beets.library import Library

COMMIT_EVERY = 100  # steps per database transaction
HIDDEN = ".similar-"  # the prefix of temporary names


@dataclass
class Outcome:
    run_id: int
    done: int = 0  # steps done
    errors: list[str] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)  # photos not moved (or not all the way)
    moved: set[tuple[int, int]] = field(default_factory=set)  # files that moved
    skipped: list[str] = field(default_factory=list)  # photos left alone, one line each
    stranded: bool = False  # a file was left at a temporary name

    def photos(self) -> int:
        return len({pid for pid, _ in self.moved if pid not in self.failed})

    def counted(self) -> str:
        """``3 photos``, ``3 photos (2 companion files)``: what moved."""
        photos = self.photos()
        others = sum(1 for pid, part in self.moved if part and pid not in self.failed)
        return (f"{photos} photo{'s' * (photos != 1)}"
                + (f" ({others} companion file{'s' * (others != 1)})" if others else ""))


class Row(NamedTuple):
    seq: int
    key: tuple[int, int]  # (photo id, part)
    src: str
    dst: str
    ident: FileId | None
    state: str
    digest: str | None


def _path_sql(path: str):
    return Photo._type("path").to_sql(util.bytestring_path(path))


def start(lib: Library, kind: str, steps: Sequence[Step],
          before: Callable[[], None] = lambda: None) -> tuple[int, dict[int, str]]:
    """Journal ``steps`` as a new run; ``before`` runs in the same transaction
    (to store ranks with the plan). Each photo's file is recorded by its
    identity (device and inode), so that a walk never mistakes another file
    for it. A photo whose file is missing is left out of the run.
    Returns (run id, {photo left out: why, in one line})."""
    ensure_schema(lib)
    idents: dict[tuple[int, int], FileId] = {}
    problems: dict[int, str] = {}
    for s in steps:
        if (s.key, s.part) not in idents:  # its first step starts where the file is now
            try:
                idents[s.key, s.part] = file_id(s.src)
            except OSError as exc:
                problems.setdefault(s.key, f"{util.displayable_path(s.src)}: cannot move it "
                                           f"({exc.strerror}); re-import its folder")
    # A photo moves with all its files or not at all.
    rows = [(seq, s) for seq, s in enumerate(s for s in steps if s.key not in problems)]
    with live.holding(lib), interrupts.deferred(), lib.transaction() as tx:
        run_id = tx.mutate("INSERT INTO similar_runs (started, kind, state) "
                           "VALUES (?, ?, 'running')", (time.time(), kind))
        tx.mutate_many(
            "INSERT INTO similar_journal (run_id, seq, photo_id, part, src, dst, state, dev, "
            "ino) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            [(run_id, seq, s.key, s.part, util.bytestring_path(s.src),
              util.bytestring_path(s.dst), *idents[s.key, s.part]) for seq, s in rows],
        )
        before()
        live.name(lib, run_id)
    return run_id, problems


def _rows(lib: Library, run_id: int) -> list[Row]:
    """The run's steps, in order."""
    with lib.transaction() as tx:
        rows = tx.query("SELECT seq, photo_id, part, src, dst, dev, ino, state, digest "
                        "FROM similar_journal WHERE run_id=? ORDER BY seq", (run_id,))
    return [Row(seq, (pid, part), os.fsdecode(src), os.fsdecode(dst),
                (dev, ino) if ino is not None else None, state, digest)
            for seq, pid, part, src, dst, dev, ino, state, digest in rows]


def hidden(path: str) -> bool:
    return os.path.basename(path).startswith(HIDDEN)


class _Walk:
    """One pass over journal rows (``src -> dst``, or back when
    ``backwards``), committing step states and photo paths every
    COMMIT_EVERY steps and on the way out.

    Rows are keyed by file: (photo id, part), part 0 being the photo and
    1, 2, ... its companions. When a step of any of a photo's files fails,
    all its files are put back where this walk found them (or, when that is
    a temporary name, at their name on that side of the run) and their
    steps say where they are: nothing of that photo moves, no temporary
    name is left, and a later run can try again.
    """

    def __init__(self, lib: Library, run_id: int, rows: list[Row], backwards: bool,
                 new_state: str, every: list[Row]) -> None:
        self.lib, self.run_id, self.new_state = lib, run_id, new_state
        self.backwards = backwards
        self.rows = [(r.seq, r.key, r.dst, r.src) if backwards else (r.seq, r.key, r.src, r.dst)
                     for r in rows]
        self.had = {r.seq: r.state for r in rows}
        # Each file's places in walking order: the src of its first step,
        # then the dst of each step; and each photo's files.
        self.places: dict[tuple[int, int], list[str]] = {}
        self.seqs: dict[tuple[int, int], list[int]] = {}
        self.idents: dict[tuple[int, int], FileId | None] = {}
        self.digests: dict[tuple[int, int], str | None] = {}
        self.files: dict[int, list[tuple[int, int]]] = {}
        for seq, key, src, dst in self.rows:
            if key not in self.places:
                self.files.setdefault(key[0], []).append(key)
            self.places.setdefault(key, [src]).append(dst)
            self.seqs.setdefault(key, []).append(seq)
        for r in rows:
            self.idents[r.key], self.digests[r.key] = r.ident, r.digest
        self.every = every
        self._whole: dict[tuple[int, int], list[Row]] | None = None
        self.states: list[tuple[int, str]] = []  # (seq, state) not yet committed
        self.paths: list[tuple[tuple[int, int], str]] = []  # (file, path) not yet committed
        self.new_ids: dict[tuple[int, int], FileId] = {}  # files copied across disks
        self.outcome = Outcome(run_id)

    def whole(self, key: tuple[int, int]) -> list[Row]:
        """Every step of a file in the run, whatever its state (made when
        first needed: most walks never need it)."""
        if self._whole is None:
            self._whole = {}
            for r in self.every:
                self._whole.setdefault(r.key, []).append(r)
        return self._whole.get(key, [])

    def label(self, key: tuple[int, int]) -> str:
        """A file's real name for messages: never a temporary one."""
        name = next((p for p in self.places[key] if not hidden(p)), None)
        if name is None:
            name = next((p for r in self.whole(key) for p in (r.src, r.dst) if not hidden(p)),
                        self.places[key][0])
        return util.displayable_path(name)

    def commit(self) -> None:
        with self.lib.transaction() as tx:
            tx.mutate_many("UPDATE similar_journal SET state=? WHERE run_id=? AND seq=?",
                           [(state, self.run_id, seq) for seq, state in self.states])
            tx.mutate_many("UPDATE similar_journal SET dev=?, ino=? WHERE run_id=? AND "
                           "photo_id=? AND part=?",
                           [(*ident, self.run_id, *key) for key, ident in self.new_ids.items()])
            tx.mutate_many("UPDATE similar_photos SET path=? WHERE id=?",
                           [(_path_sql(path), pid) for (pid, part), path in self.paths
                            if part == 0])
            for key, path in self.paths:
                if key[1]:
                    # Its row is at a place of this walk, or at one put_back saw.
                    places = self.all_places(key) if self._whole else self.places[key]
                    changes.set_companion_path(tx, key[0], places, path)
        self.states.clear()
        self.paths.clear()
        self.new_ids.clear()

    def all_places(self, key: tuple[int, int]) -> list[str]:
        return list(dict.fromkeys([*self.places[key],
                                   *(p for r in self.whole(key) for p in (r.src, r.dst))]))

    def step(self, key, src: str, dst: str, later: Sequence[str]) -> None:
        """One move; across disks, the file's bytes are recorded first (they
        identify it there), and its new identity after. A file that moves
        now counts as moved; one a crash left at ``dst`` (or later) alone
        does not count again."""
        ident, digest = self.idents[key], self.digests[key]
        if ident is None or holds(src, ident, digest) or \
                not any(holds(p, ident) for p in (dst, *later)):
            self.outcome.moved.add(key)
        try:
            perform(src, dst, ident, later, self.label(key), digest)
        except CrossDevice:
            digest = self.digests[key] = digest_of(src)
            with self.lib.transaction() as tx:
                tx.mutate("UPDATE similar_journal SET digest=? WHERE run_id=? AND photo_id=? "
                          "AND part=?", (digest, self.run_id, *key))
            perform(src, dst, ident, later, self.label(key), digest)
        if digest is not None and ident is not None:
            now = next((p for p in (dst, *later) if holds(p, ident, digest)), None)
            if now is not None and file_id(now) != tuple(ident):
                self.idents[key] = self.new_ids[key] = file_id(now)

    def run(self, on_step: Callable[[], None]) -> Outcome:
        step_no: dict[tuple[int, int], int] = {}
        with interrupts.deferred() as interrupt:
            try:
                for seq, key, src, dst in self.rows:
                    k = step_no[key] = step_no.get(key, -1) + 1
                    if key[0] in self.outcome.failed:
                        continue
                    try:
                        self.step(key, src, dst, self.places[key][k + 2:])
                        self.states.append((seq, self.new_state))
                        self.paths.append((key, dst))
                        self.outcome.done += 1
                    except (RenameError, OSError) as exc:
                        self.outcome.failed.add(key[0])
                        self.outcome.errors.append(self._one_line(key, exc))
                        for file in self.files[key[0]]:
                            try:
                                self._put_back(file)
                            except (RenameError, OSError) as again:
                                self.outcome.errors.append(self._one_line(file, again))
                                self.outcome.stranded = True
                    on_step()
                    if len(self.states) >= COMMIT_EVERY:
                        self.commit()
                    if interrupt.requested:
                        break
            finally:
                self.commit()
        return self.outcome

    def _one_line(self, key, exc: Exception) -> str:
        if isinstance(exc, RenameError):
            return str(exc)
        return f"{self.label(key)}: {exc.strerror or exc}"

    def _put_back(self, key: tuple[int, int]) -> None:
        """Return a file of a photo whose step failed to where this walk
        found it; when that is a temporary name, to its name on that side
        of the run (before it, or after it when undoing)."""
        places, ident, digest = self.places[key], self.idents[key], self.digests[key]
        whole = self.whole(key)
        home, had = places[0], None
        if hidden(home):
            home = whole[-1].dst if self.backwards else whole[0].src
            had = "done" if self.backwards else "pending"
        where = next((p for p in self.all_places(key) if ident and holds(p, ident, digest)),
                     None)
        if where is None:
            return  # gone: the error says so; its row keeps its last place
        seqs = [r.seq for r in whole]
        if where != home:
            try:
                perform(where, home, ident, (), self.label(key), digest)
            except (RenameError, OSError) as exc:
                # Home was taken meanwhile: a free name beside the target.
                target = places[-1] if not hidden(places[-1]) else whole[0].src
                home = next(c for c in (with_suffix(target, n) for n in range(1, 10_000))
                            if not os.path.lexists(c))
                perform(where, home, ident, (), self.label(key), digest)
                self.outcome.errors.append(
                    f"{self._one_line(key, exc)}; kept as {util.displayable_path(home)}")
                self.states += [(seq, "skipped") for seq in seqs]
                self.paths.append((key, home))
                return
        self.states += [(seq, had or self.had.get(seq, r.state)) for seq, r in zip(seqs, whole)]
        self.paths.append((key, home))


def _finish(lib: Library, run_id: int, state: str) -> None:
    with lib.transaction() as tx:
        tx.mutate("UPDATE similar_runs SET state=? WHERE id=?", (state, run_id))


def resume(lib: Library, run_id: int, on_step: Callable[[], None] = lambda: None,
           fresh: bool = False) -> Outcome:
    """Do the run's pending steps, in order; unless the run was just
    journaled (``fresh``), the companions its photos have now come along
    and photos gone since are skipped (see :mod:`changes`). A run that
    moved no file is forgotten: undo never takes it. Raises
    :class:`live.Busy` while another process walks a run."""
    with live.holding(lib, run_id):
        skipped: list[str] = []
        with interrupts.deferred():
            if not fresh:
                skipped = changes.prepare(lib, run_id, _rows(lib, run_id), backwards=False)
        every = _rows(lib, run_id)
        rows = [r for r in every if r.state == "pending"]
        outcome = _Walk(lib, run_id, rows, False, "done", every).run(on_step)
        outcome.skipped = skipped
        _finish(lib, run_id, "running" if outcome.stranded else
                "failed" if outcome.errors else "done")
        if not outcome.stranded:
            forget_if_empty(lib, run_id)
    return outcome


def undo(lib: Library, run_id: int, on_step: Callable[[], None] = lambda: None) -> Outcome:
    """Move every file of the run back, last step first.

    Steps still marked pending are included when the run was cut off: a
    crash may have moved a file before its state was committed, and a step
    that did not happen is recognised and left alone (in a run walked to
    its end, a pending step is a photo put back whole). The run reads
    ``undoing`` until the walk ends; photos deleted since are left out
    (one line each), and companions that joined a photo since go back with
    it. A run that moved nothing puts back nothing. Raises
    :class:`live.Busy` while another process walks a run.
    """
    with live.holding(lib, run_id):
        with interrupts.deferred():
            with lib.transaction() as tx:
                was = tx.query("SELECT state FROM similar_runs WHERE id=?", (run_id,))
                if not was or was[0][0] == "empty":
                    return Outcome(run_id)  # it moved nothing
                tx.mutate("UPDATE similar_runs SET state='undoing' WHERE id=?", (run_id,))
            skipped = changes.prepare(lib, run_id, _rows(lib, run_id), backwards=True)
        cut_off = was[0][0] in ("running", "undoing")
        every = _rows(lib, run_id)
        rows = [r for r in reversed(every)
                if r.state == "done" or cut_off and r.state == "pending"]
        outcome = _Walk(lib, run_id, rows, True, "undone", every).run(on_step)
        outcome.skipped = skipped
        # A copy to another disk that a crash cut off is left neither way.
        discard_partial_copies([p for r in every for p in (r.src, r.dst)])
        _finish(lib, run_id, "undoing" if outcome.stranded else
                "failed" if outcome.errors else "undone")
    return outcome
