"""Rename runs journaled in the library database: run, resume, undo.

Every step of a run is written to ``similar_journal`` before the first
file moves. Steps are then done in order and the photos' stored paths
follow them in the same transactions. Because each step can be redone
safely (see :func:`renamer.perform`), a run cut off anywhere, even
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

from ..library.models import Photo, ensure_schema
from .planner import RenameError, Step, perform

if TYPE_CHECKING:
    from beets.library import Library

COMMIT_EVERY = 100  # steps per database transaction


@dataclass
class Outcome:
    run_id: int
    done: int = 0
    errors: list[str] = field(default_factory=list)


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
          before: Callable[[], None] = lambda: None) -> int:
    """Journal ``steps`` as a new run; ``before`` runs in the same transaction
    (to store ranks with the plan). Returns the run id."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        run_id = tx.mutate("INSERT INTO similar_runs (started, kind, state) "
                           "VALUES (?, ?, 'running')", (time.time(), kind))
        tx.mutate_many(
            "INSERT INTO similar_journal (run_id, seq, photo_id, src, dst, state) "
            "VALUES (?, ?, ?, ?, ?, 'pending')",
            [(run_id, seq, s.key, util.bytestring_path(s.src),
              util.bytestring_path(s.dst)) for seq, s in enumerate(steps)],
        )
        before()
    return run_id


def _rows(lib: Library, run_id: int, states: tuple[str, ...], reverse: bool):
    marks = ",".join("?" * len(states))
    with lib.transaction() as tx:
        return tx.query(
            f"SELECT seq, photo_id, src, dst FROM similar_journal "
            f"WHERE run_id=? AND state IN ({marks}) "
            f"ORDER BY seq {'DESC' if reverse else 'ASC'}",
            (run_id, *states))


def _walk(lib: Library, run_id: int, rows, backwards: bool, new_state: str,
          on_step: Callable[[], None]) -> Outcome:
    """Perform rows (``src -> dst``, or back when ``backwards``), committing
    states and photo paths every COMMIT_EVERY steps and on the way out."""
    outcome = Outcome(run_id)
    pending: list[tuple[int, int, str, str]] = []  # seq, photo, state, path
    failed_photos: set[int] = set()

    def commit() -> None:
        with lib.transaction() as tx:
            for seq, photo_id, state, path in pending:
                tx.mutate("UPDATE similar_journal SET state=? WHERE run_id=? AND seq=?",
                          (state, run_id, seq))
                if state == new_state:
                    tx.mutate("UPDATE similar_photos SET path=? WHERE id=?",
                              (_path_sql(path), photo_id))
        pending.clear()

    rows = [(seq, pid, os.fsdecode(a), os.fsdecode(b)) for seq, pid, a, b in rows]
    if backwards:
        rows = [(seq, pid, b, a) for seq, pid, a, b in rows]
    # Each photo's places in walking order: src of its first step, then
    # the dst of each. A step is already done when the file is found at
    # a place beyond its target (a crash can beat the state's commit).
    places: dict[int, list[str]] = {}
    for _, pid, src, dst in rows:
        places.setdefault(pid, [src]).append(dst)
    step_no: dict[int, int] = {}

    try:
        for seq, photo_id, src, dst in rows:
            k = step_no[photo_id] = step_no.get(photo_id, -1) + 1
            if photo_id in failed_photos:
                pending.append((seq, photo_id, "skipped", dst))
                continue
            try:
                if not any(os.path.lexists(p) for p in places[photo_id][k + 2:]):
                    perform(src, dst)
                pending.append((seq, photo_id, new_state, dst))
                outcome.done += 1
            except (RenameError, OSError) as exc:
                failed_photos.add(photo_id)
                outcome.errors.append(str(exc))
                pending.append((seq, photo_id, "failed", src))
            on_step()
            if len(pending) >= COMMIT_EVERY:
                commit()
    finally:
        commit()
    return outcome


def _finish(lib: Library, run_id: int, state: str) -> None:
    with lib.transaction() as tx:
        tx.mutate("UPDATE similar_runs SET state=? WHERE id=?", (state, run_id))


def resume(lib: Library, run_id: int, on_step: Callable[[], None] = lambda: None) -> Outcome:
    """Do the run's pending steps, in order."""
    outcome = _walk(lib, run_id, _rows(lib, run_id, ("pending",), False), False, "done", on_step)
    _finish(lib, run_id, "failed" if outcome.errors else "done")
    return outcome


def undo(lib: Library, run_id: int, on_step: Callable[[], None] = lambda: None) -> Outcome:
    """Move every file of the run back, last step first.

    Steps still marked pending are included: a crash may have moved a
    file before its state was committed, and a step that did not happen
    is recognised and left alone.
    """
    rows = _rows(lib, run_id, ("done", "pending"), True)
    outcome = _walk(lib, run_id, rows, True, "undone", on_step)
    _finish(lib, run_id, "failed" if outcome.errors else "undone")
    return outcome
