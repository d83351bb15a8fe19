"""Which photos' vectors changed since a moment, from the database's log.

SQLite triggers log every insert, update and delete in
``similar_features`` (``models._log_vector_changes``), with a sequence
number that is never reused. Something kept outside the database, made
from the vectors when the log stood at ``seq``, asks :func:`changed_since`
which photos to read again. The log is pruned once the kept copy has
seen it; ``similar_counters`` then says from where it is complete, and
which kept copy saw it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .models import LOG_FROM, ensure_schema

if TYPE_CHECKING:
    from beets.library import Library


def position(lib: Library) -> int:
    """The log's latest sequence number: read it *before* the vectors, so
    that any change made while they are read is after it."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT seq FROM sqlite_sequence WHERE name = 'similar_vector_log'")
    return int(rows[0][0]) if rows else 0


def changed_since(lib: Library, key: str, seq: int) -> np.ndarray | None:
    """The ids of the photos whose ``key`` vectors changed after ``seq``
    (inserted, replaced or deleted); None when the log cannot tell (it
    was pruned past ``seq``, or is complete only from later on)."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        complete = tx.query("SELECT coalesce(max(value), 0) FROM similar_counters "
                            "WHERE name IN (?, ?)", (LOG_FROM, f"{LOG_FROM}:{key}"))
        if not complete or complete[0][0] > seq:
            return None
        rows = tx.query("SELECT DISTINCT photo_id FROM similar_vector_log "
                        "WHERE seq > ? AND model = ?", (seq, key))
    return np.array(sorted(r[0] for r in rows), dtype=np.int64)


def kept_graph(lib: Library, key: str) -> int | None:
    """The token of the kept graph of ``key`` vectors last saved for this
    database (see :func:`seen`); None if none was."""
    with lib.transaction() as tx:
        rows = tx.query("SELECT value FROM similar_counters WHERE name = ?", (f"graph:{key}",))
    return int(rows[0][0]) if rows else None


def seen(lib: Library, key: str, seq: int, made: int) -> None:
    """The kept graph ``made`` (its token) has seen the changes to ``key``
    vectors up to ``seq``: they are forgotten, and the token recorded. A
    backup copied over the database in place then has another token, and
    its graph is not trusted."""
    with lib.transaction() as tx:
        tx.mutate("DELETE FROM similar_vector_log WHERE model = ? AND seq <= ?", (key, seq))
        tx.mutate("INSERT OR REPLACE INTO similar_counters (name, value) VALUES (?1, "
                  "max(?2, coalesce((SELECT value FROM similar_counters WHERE name = ?1), 0)))",
                  (f"{LOG_FROM}:{key}", seq))
        tx.mutate("INSERT OR REPLACE INTO similar_counters (name, value) VALUES (?, ?)",
                  (f"graph:{key}", made))
