"""Rename runs journaled in the library database: run, resume, undo.

Every step of a run is written to ``similar_journal`` before the first
file moves. Steps are then done in order and the photos' stored paths
follow them in the same transactions. Because each step can be redone
safely (see :func:`planner.perform`), a run cut off anywhere, even
between a rename and its database commit, is finished by :func:`resume`
or rolled back by :func:`undo`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beets import util

from .. import interrupts
from ..library import companions
from ..library.models import Photo, ensure_schema
from .planner import FileId, RenameError, Step, file_id, holds, perform, with_suffix

if TYPE_CHECKING:
    from beets.library import Library

COMMIT_EVERY = 100  # steps per database transaction


@dataclass
class Outcome:
    run_id: int
    done: int = 0
    errors: list[str] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)  # photos not moved (or not all the way)


def _path_sql(path: str):
    return Photo._type("path").to_sql(util.bytestring_path(path))


def unfinished(lib: Library) -> int | None:
    """The id of a run that was interrupted, if any."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT id FROM similar_runs WHERE state='running' "
                        "ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows else None


def last_undoable(lib: Library) -> tuple[int, str] | None:
    """(id, kind) of the latest run that moved files and is not undone."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT id, kind FROM similar_runs WHERE state IN "
                        "('running', 'done', 'failed') ORDER BY id DESC LIMIT 1")
    return (rows[0][0], rows[0][1]) if rows else None


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
    with interrupts.deferred(), lib.transaction() as tx:
        run_id = tx.mutate("INSERT INTO similar_runs (started, kind, state) "
                           "VALUES (?, ?, 'running')", (time.time(), kind))
        tx.mutate_many(
            "INSERT INTO similar_journal (run_id, seq, photo_id, part, src, dst, state, dev, "
            "ino) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            [(run_id, seq, s.key, s.part, util.bytestring_path(s.src),
              util.bytestring_path(s.dst), *idents[s.key, s.part]) for seq, s in rows],
        )
        before()
    return run_id, problems


def _rows(lib: Library, run_id: int, states: tuple[str, ...], reverse: bool):
    marks = ",".join("?" * len(states))
    with lib.transaction() as tx:
        rows = tx.query(
            f"SELECT seq, photo_id, part, src, dst, dev, ino, state FROM similar_journal "
            f"WHERE run_id=? AND state IN ({marks}) "
            f"ORDER BY seq {'DESC' if reverse else 'ASC'}",
            (run_id, *states))
    return [(seq, (pid, part), os.fsdecode(src), os.fsdecode(dst),
             (dev, ino) if ino is not None else None, state)
            for seq, pid, part, src, dst, dev, ino, state in rows]


class _Walk:
    """One pass over journal rows (``src -> dst``, or back when
    ``backwards``), committing step states and photo paths every
    COMMIT_EVERY steps and on the way out.

    Rows are keyed by file: (photo id, part), part 0 being the photo and
    1, 2, ... its companions. When a step of any of a photo's files fails,
    all its files are put back where this walk found them and their steps
    keep the states they had: nothing of that photo moves, no temporary
    name is left, and a later run can try again.
    """

    def __init__(self, lib: Library, run_id: int, rows, backwards: bool,
                 new_state: str) -> None:
        self.lib, self.run_id, self.new_state = lib, run_id, new_state
        self.rows = [(seq, key, dst, src, ident) if backwards else (seq, key, src, dst, ident)
                     for seq, key, src, dst, ident, _ in rows]
        self.had = {seq: state for seq, *_, state in rows}
        # Each file's places in walking order: the src of its first step,
        # then the dst of each step; and each photo's files.
        self.places: dict[tuple[int, int], list[str]] = {}
        self.seqs: dict[tuple[int, int], list[int]] = {}
        self.idents: dict[tuple[int, int], FileId | None] = {}
        self.files: dict[int, list[tuple[int, int]]] = {}
        for seq, key, src, dst, ident in self.rows:
            if key not in self.places:
                self.files.setdefault(key[0], []).append(key)
            self.places.setdefault(key, [src]).append(dst)
            self.seqs.setdefault(key, []).append(seq)
            self.idents[key] = ident
        self.states: list[tuple[int, str]] = []  # (seq, state) not yet committed
        self.paths: list[tuple[tuple[int, int], str]] = []  # (file, path) not yet committed
        self.outcome = Outcome(run_id)

    def commit(self) -> None:
        with self.lib.transaction() as tx:
            tx.mutate_many("UPDATE similar_journal SET state=? WHERE run_id=? AND seq=?",
                           [(state, self.run_id, seq) for seq, state in self.states])
            tx.mutate_many("UPDATE similar_photos SET path=? WHERE id=?",
                           [(_path_sql(path), pid) for (pid, part), path in self.paths
                            if part == 0])
            for (pid, part), path in self.paths:
                if part:
                    companions.set_path(tx, pid, part, path)
        self.states.clear()
        self.paths.clear()

    def run(self, on_step: Callable[[], None]) -> Outcome:
        step_no: dict[tuple[int, int], int] = {}
        with interrupts.deferred() as interrupt:
            try:
                for seq, key, src, dst, ident in self.rows:
                    k = step_no[key] = step_no.get(key, -1) + 1
                    if key[0] in self.outcome.failed:
                        continue
                    try:
                        perform(src, dst, ident, self.places[key][k + 2:])
                        self.states.append((seq, self.new_state))
                        self.paths.append((key, dst))
                        self.outcome.done += 1
                    except (RenameError, OSError) as exc:
                        self.outcome.failed.add(key[0])
                        self.outcome.errors.append(_one_line(exc))
                        for file in self.files[key[0]]:
                            try:
                                self._put_back(file)
                            except (RenameError, OSError) as again:
                                self.outcome.errors.append(_one_line(again))
                    on_step()
                    if len(self.states) >= COMMIT_EVERY:
                        self.commit()
                    if interrupt.requested:
                        break
            finally:
                self.commit()
        return self.outcome

    def _put_back(self, key: tuple[int, int]) -> None:
        """Return a file of a photo whose step failed to where this walk
        found it."""
        places, ident = self.places[key], self.idents[key]
        home = places[0]
        where = next((p for p in places if ident and holds(p, ident)), None)
        if where is None:
            return  # gone: the error says so; its row keeps its last place
        if where != home:
            try:
                perform(where, home, ident)
            except (RenameError, OSError) as exc:
                # Home was taken meanwhile: a free name beside the target.
                home = next(c for c in (with_suffix(places[-1], n) for n in range(1, 10_000))
                            if not os.path.lexists(c))
                perform(where, home, ident)
                self.outcome.errors.append(
                    f"{_one_line(exc)}; kept as {util.displayable_path(home)}")
                self.states += [(seq, "skipped") for seq in self.seqs[key]]
                self.paths.append((key, home))
                return
        self.states += [(seq, self.had[seq]) for seq in self.seqs[key]]
        self.paths.append((key, home))


def _one_line(exc: Exception) -> str:
    return str(exc) if isinstance(exc, RenameError) else \
        f"{util.displayable_path(getattr(exc, 'filename', '') or '')}: {exc.strerror or exc}"


def _finish(lib: Library, run_id: int, state: str) -> None:
    with lib.transaction() as tx:
        tx.mutate("UPDATE similar_runs SET state=? WHERE id=?", (state, run_id))


def resume(lib: Library, run_id: int, on_step: Callable[[], None] = lambda: None) -> Outcome:
    """Do the run's pending steps, in order."""
    rows = _rows(lib, run_id, ("pending",), False)
    outcome = _Walk(lib, run_id, rows, False, "done").run(on_step)
    _finish(lib, run_id, "failed" if outcome.errors else "done")
    return outcome


def undo(lib: Library, run_id: int, on_step: Callable[[], None] = lambda: None) -> Outcome:
    """Move every file of the run back, last step first.

    Steps still marked pending are included: a crash may have moved a
    file before its state was committed, and a step that did not happen
    is recognised and left alone.
    """
    rows = _rows(lib, run_id, ("done", "pending"), True)
    outcome = _Walk(lib, run_id, rows, True, "undone").run(on_step)
    _finish(lib, run_id, "failed" if outcome.errors else "undone")
    return outcome
