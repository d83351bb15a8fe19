"""Undoing a trash run: each file back from the trash to where it was
(never over another file), its ``.trashinfo`` removed, the photo's row
restored, sidecars taken over given back, the kept photo's rating as it
was. Steps still pending are included: a run cut off between sending a
file and committing is found by the file's ``.trashinfo``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import interrupts
from ..library.models import Photo, ensure_schema
from ..library.paths import from_db
from ..rename import live
from ..rename.planner import RenameError, discard_partial_copies, holds, perform
from . import freedesktop, runs, store

COMMIT_EVERY = 50  # photos per database transaction

if TYPE_CHECKING:
    from beets.library import Library


@dataclass
class UndoOutcome:
    run_id: int
    restored: list[int] = field(default_factory=list)  # photo ids back in the library
    files: int = 0  # files back from the trash
    errors: list[str] = field(default_factory=list)  # one line each
    elsewhere: list[str] = field(default_factory=list)  # where a file is, one line each
    interrupted: bool = False  # Ctrl-C: the rest is undone by undoing the run again
    copied: list[freedesktop.Trashed] = field(default_factory=list)  # see freedesktop.restore


def undo_run(lib: Library, run_id: int | None,
             on_photo: Callable[[], None] = lambda: None) -> UndoOutcome:
    """Put back every file of the trash run ``run_id``, last photo first (a
    run that sent nothing, whose id is None, puts back nothing). Raises
    :class:`live.Busy` while another process walks a run."""
    ensure_schema(lib)
    store.ensure(lib)
    found = runs.started(lib, run_id) if run_id is not None else None
    outcome = UndoOutcome(run_id)
    if found is None:
        return outcome
    kind, since = found
    if kind != runs.KIND:
        raise ValueError(f"run {run_id} is not a trash run")
    with live.holding(lib, run_id), interrupts.deferred() as interrupt:
        saved = store.load(lib, run_id)
        adopted = {pid: set(data["adopt"]) for (pid, role), (_, data) in saved.items()
                   if role == "extra"}
        runs.finish(lib, run_id, "undoing")  # until the last file is back: a kill shows
        by_photo = runs.steps(lib, run_id, ("done", "pending"), adopted)
        order = list(reversed(by_photo))
        for start in range(0, len(order), COMMIT_EVERY):
            with lib.transaction():  # one commit for many photos, as in job
                for pid in order[start:start + COMMIT_EVERY]:
                    _photo(lib, run_id, since, pid, by_photo[pid], saved, outcome)
                    on_photo()
                    if interrupt.consume():
                        outcome.interrupted = True
                        break
            freedesktop.discard(outcome.copied)  # copied back, and recorded so
            outcome.copied.clear()
            if outcome.interrupted:
                return outcome  # the run stays undoable: the rest next time
        # A copy back that a kill cut off is left neither way.
        discard_partial_copies([s.src for steps in by_photo.values() for s in steps])
        _ratings(lib, saved)
        runs.finish(lib, run_id, "failed" if outcome.errors else "undone")
        interrupt.consume()  # pressed after the last file: the undo is whole
    return outcome


def _photo(lib: Library, run_id: int, since: float, pid: int, steps: list[runs.Step],
           saved, outcome: UndoOutcome) -> None:
    kid, data = saved[pid, "extra"]
    undone: list[tuple[runs.Step, str, str]] = []
    back: set[int] = set()  # parts at their place again
    for s in reversed(steps):
        try:
            state = _undo_step(s, since, outcome)
        except (RenameError, freedesktop.RestoreError, OSError) as exc:
            outcome.errors.append(runs.one_line(exc))
            continue
        if state is not None:
            undone.append((s, state, s.dst))
            if state == "undone":
                back.add(s.part)
    snap = data["rows"]
    with lib.transaction() as tx:
        runs.set_states(tx, run_id, undone)
        returned = [s for s, state, _ in undone if s.adopt and state == "undone"]
        for s in returned:
            runs.drop_companion(tx, kid, s.dst)
        if returned:
            runs.refresh_shot(tx, kid)
        main = next((s for s in steps if s.part == 0), None)
        if main is not None and 0 in back and not _row_present(lib, tx, pid, main.src):
            outcome.restored.append(store.restore(
                tx, snap, lambda path: os.path.lexists(os.fsdecode(path))))


def _undo_step(s: runs.Step, since: float, outcome: UndoOutcome) -> str | None:
    """Undo one step; the step's new state, or None when it stays as it is."""
    if s.adopt:
        if s.ident and holds(s.dst, s.ident):
            perform(s.dst, s.src, s.ident)
            return "undone"
        if s.ident and holds(s.src, s.ident):
            return "undone"  # never moved
        raise RenameError(f"{s.dst}: the sidecar taken over is gone or was replaced; "
                          f"it was {s.src}")
    found = freedesktop.find_sent(s.src, since, s.ident, s.dst)
    if s.ident and holds(s.src, s.ident):  # never sent, or back already
        if found is not None and holds(found.file, s.ident):
            freedesktop.discard([found])  # linked back by a walk cut off before unlinking
        return "undone"
    if found is not None:
        copied = freedesktop.restore(found, s.src)
        if copied is not None:
            outcome.copied.append(copied)
        outcome.files += 1
        return "undone"
    if s.state == "done" and not s.dst:
        outcome.elsewhere.append(f"{s.src}: in the system trash, which does not record "
                                 "where files came from; restore it from there")
        return "skipped"
    raise RenameError(f"{s.src}: not found in the trash (emptied, or restored by hand?)")


def _row_present(lib: Library, tx, pid: int, path: str) -> bool:
    """Whether the photo's row is still there (a run cut off before it
    was removed)."""
    rows = tx.query(f"SELECT path FROM {Photo._table} WHERE id=?", (pid,))
    return bool(rows) and from_db(lib, rows[0][0]) == path


def _ratings(lib: Library, saved) -> None:
    """The kept photos' ratings as before, unless changed since."""
    with lib.transaction() as tx:
        for (kid, role), (_, data) in saved.items():
            if role == "keeper" and str(runs.rating_of(tx, kid)) == str(data["rating"]):
                runs.set_rating(tx, kid, data["before"])
