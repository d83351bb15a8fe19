"""A trash run's rows in the journal (``similar_runs``/``similar_journal``,
as for rename runs): a trash step goes ``src -> dst``, dst being where the
file landed in the trash (empty until known); an adopt step renames a
sidecar to the name of the photo kept."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets import util

from ..library import companions
from ..library.models import Photo
from ..rename.planner import FileId, RenameError

if TYPE_CHECKING:
    from beets.library import Library

KIND = "trash"


@dataclass
class Step:
    seq: int
    photo_id: int
    part: int  # 0: the photo; 1..: its companions
    src: str
    dst: str  # "" while not known (or never known: a trash without records)
    ident: FileId | None
    state: str  # pending, done, skipped, undone
    adopt: bool  # a sidecar that goes to the photo kept, not to the trash


def insert_run(tx, rows: list[tuple[int, int, str, str, FileId | None]]) -> int:
    """A new running trash run with ``rows`` (photo id, part, src, dst,
    identity) as pending steps, in this order."""
    run_id = tx.mutate("INSERT INTO similar_runs (started, kind, state) "
                       "VALUES (?, ?, 'running')", (time.time(), KIND))
    tx.mutate_many(
        "INSERT INTO similar_journal (run_id, seq, photo_id, part, src, dst, state, dev, ino) "
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        [(run_id, seq, pid, part, os.fsencode(src), os.fsencode(dst), *(ident or (None, None)))
         for seq, (pid, part, src, dst, ident) in enumerate(rows)])
    return run_id


def started(lib: Library, run_id: int) -> tuple[str, float] | None:
    """(kind, start time) of a run; None when there is none, or it moved
    nothing (see ``rename.runs.forget_if_empty``)."""
    with lib.transaction() as tx:
        rows = tx.query("SELECT kind, started FROM similar_runs WHERE id=? AND "
                        "state != 'empty'", (run_id,))
    return (rows[0][0], rows[0][1]) if rows else None


def steps(lib: Library, run_id: int, states: tuple[str, ...],
          adopted: dict[int, set[int]]) -> dict[int, list[Step]]:
    """{photo id: its steps in ``states``, in order}, photos in run order;
    ``adopted``: {photo id: parts that are adopt steps}."""
    marks = ",".join("?" * len(states))
    with lib.transaction() as tx:
        rows = tx.query(f"SELECT seq, photo_id, part, src, dst, dev, ino, state "
                        f"FROM similar_journal WHERE run_id=? AND state IN ({marks}) "
                        "ORDER BY seq", (run_id, *states))
    out: dict[int, list[Step]] = {}
    for seq, pid, part, src, dst, dev, ino, state in rows:
        out.setdefault(pid, []).append(Step(
            seq, pid, part, os.fsdecode(src), os.fsdecode(dst),
            (dev, ino) if ino is not None else None, state, part in adopted.get(pid, ())))
    return out


def set_states(tx, run_id: int, done: list[tuple[Step, str, str]]) -> None:
    """Record (step, new state, dst) of steps."""
    tx.mutate_many("UPDATE similar_journal SET state=?, dst=? WHERE run_id=? AND seq=?",
                   [(state, os.fsencode(dst), run_id, s.seq) for s, state, dst in done])


def finish(lib: Library, run_id: int, state: str) -> None:
    with lib.transaction() as tx:
        tx.mutate("UPDATE similar_runs SET state=? WHERE id=?", (state, run_id))


def refresh_shot(tx, photo_id: int) -> None:
    """A photo's ``formats``, ``has_raw`` and ``edited`` from its
    companions, after one was taken over or given back."""
    rows = tx.query(f"SELECT path FROM {Photo._table} WHERE id=?", (photo_id,))
    if not rows:
        return
    comps = tx.query("SELECT path, kind FROM similar_companions WHERE photo_id=? "
                     "ORDER BY part", (photo_id,))
    fmts, has_raw = companions.formats(os.fsdecode(rows[0][0]),
                                       [os.fsdecode(p) for p, _ in comps])
    tx.mutate(f"UPDATE {Photo._table} SET formats=?, has_raw=?, edited=? WHERE id=?",
              (fmts, has_raw, int(any(k == "sidecar" for _, k in comps)), photo_id))


def add_companion(tx, photo_id: int, path: str, kind: str = "sidecar") -> None:
    rows = tx.query("SELECT MAX(part) FROM similar_companions WHERE photo_id=?", (photo_id,))
    part = (rows[0][0] or 0) + 1
    tx.mutate("INSERT INTO similar_companions (photo_id, part, path, kind) "
              "VALUES (?, ?, ?, ?)", (photo_id, part, os.fsencode(path), kind))


def drop_companion(tx, photo_id: int, path: str) -> None:
    tx.mutate("DELETE FROM similar_companions WHERE photo_id=? AND path=?",
              (photo_id, os.fsencode(path)))


def set_rating(tx, photo_id: int, value) -> None:
    """Set (or with None, remove) a photo's flexible ``rating``."""
    tx.mutate(f"DELETE FROM {Photo._flex_table} WHERE entity_id=? AND key='rating'",
              (photo_id,))
    if value is not None:
        tx.mutate(f"INSERT INTO {Photo._flex_table} (entity_id, key, value) "
                  "VALUES (?, 'rating', ?)", (photo_id, str(value)))


def rating_of(tx, photo_id: int) -> str | None:
    rows = tx.query(f"SELECT value FROM {Photo._flex_table} WHERE entity_id=? "
                    "AND key='rating'", (photo_id,))
    return rows[0][0] if rows else None


def one_line(exc: Exception) -> str:
    if isinstance(exc, RenameError) or not isinstance(exc, OSError):
        return str(exc)
    name = getattr(exc, "filename", "") or ""
    return f"{util.displayable_path(name)}: {exc.strerror or exc}" if name else str(exc)
