"""Review decisions kept in the library database: groups resolved, sets
of photos that are "not duplicates" (never grouped again), and where the
review stopped. Tables are created by :func:`ensure`, which every
function calls itself.

A group is named by :func:`group_key`: its photo ids, sorted, so the same
photos make the same key whatever order a grouping lists them in.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from itertools import combinations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beets.library import Library

STATES = ("resolved", "kept_all", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS similar_decisions (
    key TEXT PRIMARY KEY,   -- group_key of the group
    state TEXT NOT NULL,    -- resolved, kept_all, skipped
    run_id INTEGER,         -- the trash or move run that resolved it
    at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS similar_not_duplicates (
    set_key TEXT NOT NULL,  -- group_key of the set
    photo_id INTEGER NOT NULL,
    PRIMARY KEY (set_key, photo_id));
CREATE TABLE IF NOT EXISTS similar_review_state (
    name TEXT PRIMARY KEY,  -- position: the group the review stopped at
    value TEXT);
"""


def ensure(lib: Library) -> None:
    if getattr(lib, "_similar_decisions_ready", False):
        return
    with lib.transaction() as tx:
        tx.script(_SCHEMA)
    lib._similar_decisions_ready = True


def _ids(photo_ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in photo_ids})


def group_key(photo_ids: Iterable[int]) -> str:
    """``"3,5,9"``: the group's photo ids, sorted."""
    return ",".join(map(str, _ids(photo_ids)))


def mark(lib: Library, key: str, state: str, run_id: int | None = None) -> None:
    """Record the decision on a group (replacing an earlier one)."""
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    ensure(lib)
    with lib.transaction() as tx:
        tx.mutate("INSERT OR REPLACE INTO similar_decisions (key, state, run_id, at) "
                  "VALUES (?, ?, ?, ?)", (key, state, run_id, time.time()))


def unmark(lib: Library, key: str) -> None:
    ensure(lib)
    with lib.transaction() as tx:
        tx.mutate("DELETE FROM similar_decisions WHERE key=?", (key,))


def state_of(lib: Library, key: str) -> str | None:
    """The decision on one group, None when there is none."""
    ensure(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT state FROM similar_decisions WHERE key=?", (key,))
    return rows[0][0] if rows else None


def reopen(lib: Library, run_id: int) -> int:
    """Forget the decisions the run ``run_id`` carried out (it is being
    undone: its groups are open again); how many there were."""
    ensure(lib)
    with lib.transaction() as tx:
        (count,), = tx.query("SELECT COUNT(*) FROM similar_decisions WHERE run_id=?",
                             (run_id,))
        tx.mutate("DELETE FROM similar_decisions WHERE run_id=?", (run_id,))
    return count


def states(lib: Library) -> dict[str, tuple[str, int | None]]:
    """{group key: (state, run id)} of every group decided."""
    ensure(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT key, state, run_id FROM similar_decisions")
    return {key: (state, run_id) for key, state, run_id in rows}


def add_not_duplicates(lib: Library, ids: Iterable[int]) -> None:
    """Remember that these photos are not duplicates of one another."""
    ids = _ids(ids)
    if len(ids) < 2:
        return
    ensure(lib)
    key = group_key(ids)
    with lib.transaction() as tx:
        tx.mutate_many("INSERT OR IGNORE INTO similar_not_duplicates (set_key, photo_id) "
                       "VALUES (?, ?)", [(key, i) for i in ids])


def remove_not_duplicates(lib: Library, ids: Iterable[int]) -> None:
    """Forget every "not duplicates" set made only of these photos."""
    wanted = set(_ids(ids))
    ensure(lib)
    with lib.transaction() as tx:
        gone = [key for key, members in _sets(tx).items() if set(members) <= wanted]
        tx.mutate_many("DELETE FROM similar_not_duplicates WHERE set_key=?",
                       [(key,) for key in gone])


def _sets(tx) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for key, pid in tx.query("SELECT set_key, photo_id FROM similar_not_duplicates "
                             "ORDER BY set_key, photo_id"):
        out.setdefault(key, []).append(pid)
    return out


def not_duplicates(lib: Library) -> set[tuple[int, int]]:
    """Every pair of every "not duplicates" set, smaller id first."""
    ensure(lib)
    with lib.transaction() as tx:
        sets = _sets(tx)
    return {pair for members in sets.values() for pair in combinations(sorted(members), 2)}


def position(lib: Library) -> str | None:
    """The key of the group the review stopped at, if any."""
    ensure(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT value FROM similar_review_state WHERE name='position'")
    return rows[0][0] if rows else None


def set_position(lib: Library, key: str | None) -> None:
    ensure(lib)
    with lib.transaction() as tx:
        tx.mutate("INSERT OR REPLACE INTO similar_review_state (name, value) "
                  "VALUES ('position', ?)", (key,))
