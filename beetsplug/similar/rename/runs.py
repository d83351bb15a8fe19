"""The runs in the journal (``similar_runs``): which one is unfinished or in
progress, which one undo takes next, and the list ``similar-undo --list``
shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..library.models import ensure_schema
from . import live

if TYPE_CHECKING:
    from beets.library import Library


def interrupted(lib: Library) -> tuple[int, str] | None:
    """(id, state) of a run cut off while running or undoing, if any."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT id, state FROM similar_runs WHERE state IN "
                        "('running', 'undoing') ORDER BY id DESC LIMIT 1")
    return (rows[0][0], rows[0][1]) if rows else None


def unfinished_line(lib: Library, then: str = "") -> str | None:
    """One line about a run in progress in another process (see
    :mod:`live`) or cut off, saying what to do (``then``: said after what
    finishes a run cut off, such as " first"); None when there is none."""
    holder = live.holder(lib)
    if holder is not None:
        return f"{holder}; wait for it to end"
    found = interrupted(lib)
    if found is None:
        return None
    run_id, state = found
    if state == "undoing":
        return (f"the undo of run {run_id} was interrupted; run `beet similar-undo` "
                f"to finish putting its files back{then}")
    kind = {"trash": "trash", "move-copies": "move"}.get(kind_of(lib, run_id), "rename")
    return (f"{kind} run {run_id} was interrupted; run `beet similar-order --resume` "
            f"to finish it or `beet similar-undo` to roll it back{then}")


def kind_of(lib: Library, run_id: int) -> str | None:
    with lib.transaction() as tx:
        rows = tx.query("SELECT kind FROM similar_runs WHERE id=?", (run_id,))
    return rows[0][0] if rows else None


def unfinished(lib: Library) -> int | None:
    """The id of a run that was interrupted (running or undoing), if any."""
    found = interrupted(lib)
    return found[0] if found else None


# What undo takes: a run that is unfinished, or that moved files and is not
# undone. A finished run none of whose steps is done moved nothing (a photo
# that failed is put back whole), and is passed over.
_UNDOABLE = ("r.state IN ('running', 'undoing') OR r.state IN ('done', 'failed') AND EXISTS "
             "(SELECT 1 FROM similar_journal j WHERE j.run_id = r.id AND j.state = 'done')")


def last_undoable(lib: Library) -> tuple[int, str] | None:
    """(id, kind) of the latest run undo takes (see ``_UNDOABLE``)."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query(f"SELECT r.id, r.kind FROM similar_runs r WHERE {_UNDOABLE} "
                        "ORDER BY r.id DESC LIMIT 1")
    return (rows[0][0], rows[0][1]) if rows else None


def moved(lib: Library, run_id: int | None) -> int:
    """How many photos the run moved (renamed, moved or sent to the trash)
    and has not put back: 0 for a run that moved nothing."""
    if run_id is None:
        return 0
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT COUNT(DISTINCT photo_id) FROM similar_journal "
                        "WHERE run_id=? AND state='done'", (run_id,))
    return rows[0][0]


def forget_if_empty(lib: Library, run_id: int) -> bool:
    """Forget a run that moved nothing, once walked to its end: it is not a
    run, and undo must never take it for the one before it. Its id stays
    taken (state ``empty``, listed nowhere), so that no later run gets it:
    the review page may still hold it. True when forgotten."""
    with lib.transaction() as tx:
        if tx.query("SELECT 1 FROM similar_journal WHERE run_id=? AND state='done' LIMIT 1",
                    (run_id,)):
            return False
        tx.mutate("DELETE FROM similar_journal WHERE run_id=?", (run_id,))
        tx.mutate("UPDATE similar_runs SET state='empty' WHERE id=?", (run_id,))
    return True


@dataclass
class RunInfo:
    id: int
    started: float
    kind: str
    state: str
    photos: int  # photos it moved (or, cut off, may have moved)
    undoable: bool  # undo takes it, in its turn (see _UNDOABLE)


def runs(lib: Library) -> list[RunInfo]:
    """Every run, newest first, with the number of photos it moved."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query(
            "SELECT r.id, r.started, r.kind, r.state, "
            "(SELECT COUNT(DISTINCT photo_id) FROM similar_journal j WHERE j.run_id = r.id "
            " AND (j.state IN ('done', 'undone') OR j.state = 'pending' AND r.state IN "
            f" ('running', 'undoing'))), {_UNDOABLE} FROM similar_runs r "
            "WHERE r.state != 'empty' ORDER BY r.id DESC")
    return [RunInfo(*row[:5], bool(row[5])) for row in rows]
