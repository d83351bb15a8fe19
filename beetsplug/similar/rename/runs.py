"""The runs in the journal (``similar_runs``): which one is unfinished, which
one undo takes next, and the list ``similar-undo --list`` shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..library.models import ensure_schema

if TYPE_CHECKING:
    from beets.library import Library


def interrupted(lib: Library) -> tuple[int, str] | None:
    """(id, state) of a run cut off while running or undoing, if any."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT id, state FROM similar_runs WHERE state IN "
                        "('running', 'undoing') ORDER BY id DESC LIMIT 1")
    return (rows[0][0], rows[0][1]) if rows else None


def kind_of(lib: Library, run_id: int) -> str | None:
    with lib.transaction() as tx:
        rows = tx.query("SELECT kind FROM similar_runs WHERE id=?", (run_id,))
    return rows[0][0] if rows else None


def unfinished(lib: Library) -> int | None:
    """The id of a run that was interrupted (running or undoing), if any."""
    found = interrupted(lib)
    return found[0] if found else None


def last_undoable(lib: Library) -> tuple[int, str] | None:
    """(id, kind) of the latest run that moved files and is not undone."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT id, kind FROM similar_runs WHERE state IN "
                        "('running', 'undoing', 'done', 'failed') ORDER BY id DESC LIMIT 1")
    return (rows[0][0], rows[0][1]) if rows else None


@dataclass
class RunInfo:
    id: int
    started: float
    kind: str
    state: str
    photos: int


def runs(lib: Library) -> list[RunInfo]:
    """Every run, newest first, with the number of photos it moved."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT r.id, r.started, r.kind, r.state, "
                        "(SELECT COUNT(DISTINCT photo_id) FROM similar_journal j "
                        " WHERE j.run_id = r.id) FROM similar_runs r ORDER BY r.id DESC")
    return [RunInfo(*row) for row in rows]
