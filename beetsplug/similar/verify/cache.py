"""The second check's features of a library's photos, kept beside it.

Not in ``library.db``: the beets library that people back up and sync
beside their music would grow by the features of every photo. They are
kept in ``similar-cache/check-<library>.sqlite`` beside the library database
(where the big-library neighbour graph is kept too), one row per photo:
the file's hash, size and modification time they were computed for, the
features' version, and the compact features (``check.Features.to_bytes``).
Deleting the folder is safe: features are computed again when asked.

A library that kept them inside ``library.db`` (``similar_keypoints``,
before) has them moved here once, and the space given back.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable

from ..numbers import count

log = logging.getLogger("beets")

FOLDER = "similar-cache"  # as ``search/kept.py``
OLD_TABLE = "similar_keypoints"  # where library.db kept them before
_CHUNK = 900  # SQLite host parameters per statement
_SCHEMA = ("CREATE TABLE IF NOT EXISTS features (photo_id INTEGER PRIMARY KEY, "
           "hash TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL, "
           "version TEXT NOT NULL, blob BLOB NOT NULL)")

_PUT = ("INSERT OR REPLACE INTO features (photo_id, hash, size, mtime, version, blob) "
        "VALUES (?, ?, ?, ?, ?, ?)")

Row = tuple  # (photo_id, hash, size, mtime, version, blob)


def path_of(db: str | bytes) -> str | None:
    """The cache file of the library database ``db``; None for a database
    held in memory."""
    db = os.fsdecode(db)
    if db == ":memory:":
        return None
    db = os.path.abspath(db)
    name = os.path.splitext(os.path.basename(db))[0]  # a library copied with its folder keeps it
    return os.path.join(os.path.dirname(db), FOLDER, f"check-{name}.sqlite")


class FeatureCache:
    """Rows of photo features, by photo id, in one SQLite file (in memory
    when ``path`` is None, or when the file cannot be written: then they
    are computed again by the next command, with a line saying why)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        try:
            try:
                self._db = self._open(path)
            except sqlite3.OperationalError:
                raise
            except sqlite3.DatabaseError:  # not a database (damaged): made again
                os.remove(path)
                self._db = self._open(path)
        except (OSError, sqlite3.Error) as exc:  # a folder that cannot be written
            self._kept_nowhere(exc)

    @staticmethod
    def _open(path: str | None) -> sqlite3.Connection:
        if path is not None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        db = sqlite3.connect(path or ":memory:", timeout=60, check_same_thread=False)
        db.execute(_SCHEMA)
        db.commit()
        return db

    def _kept_nowhere(self, exc: Exception) -> None:
        """Go on with the features in memory, and say so."""
        log.warning("similar: cannot keep the second check's features in {} ({}); the "
                    "next command computes them again", self.path, exc)
        self.path = None
        self._db = self._open(None)

    @classmethod
    def of(cls, lib, version: str) -> FeatureCache:
        """The cache of the library ``lib`` (a beets Library, duck-typed),
        one per library object; features of ``version`` kept in its
        database before are moved in first."""
        cache = getattr(lib, "_similar_feature_cache", None)
        if cache is None:
            cache = cls(path_of(lib.path))
            move_out(lib, cache, version)
            lib._similar_feature_cache = cache
        return cache

    def get(self, ids: list[int]) -> dict[int, Row]:
        """{photo id: row} of the ``ids`` kept."""
        out = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            for row in self._db.execute(
                    "SELECT photo_id, hash, size, mtime, version, blob FROM features "
                    f"WHERE photo_id IN ({','.join('?' * len(chunk))})", chunk):
                out[row[0]] = row
        return out

    def put(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        try:
            with self._db:
                self._db.executemany(_PUT, rows)
        except sqlite3.OperationalError as exc:  # a full disk, a folder made read-only
            self._kept_nowhere(exc)
            with self._db:
                self._db.executemany(_PUT, rows)


def move_out(lib, cache: FeatureCache, version: str) -> None:
    """Move the features of ``version`` that ``library.db`` kept
    (``similar_keypoints``; others would be computed again) into ``cache``,
    drop the table and give the space back, with a line."""
    with lib.transaction() as tx:
        if not tx.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (OLD_TABLE,)):
            return
        rows = tx.query(f"SELECT photo_id, hash, size, mtime, version, blob FROM {OLD_TABLE} "
                        "WHERE version = ?", (version,))
        moved = tx.query(f"SELECT count(*) FROM {OLD_TABLE}")[0][0]
    cache.put(tuple(row) for row in rows)
    before = _size(lib.path)
    try:
        with lib.transaction() as tx:
            tx.script(f"DROP TABLE IF EXISTS {OLD_TABLE}")
    except sqlite3.OperationalError:  # read-only or busy: moved out by a later command
        return
    try:
        with lib.transaction() as tx:
            tx.script("VACUUM")
    except sqlite3.OperationalError as exc:  # another program has the database open
        log.info("similar: moved the second check's features of {} out of library.db "
                 "into {}; the space they took is reused, not given back yet ({})",
                 count(moved, "photo"), os.path.dirname(cache.path or FOLDER), exc)
        return
    log.info("similar: moved the second check's features of {} out of library.db into {} "
             "(library.db is {:.1f} MB smaller)", count(moved, "photo"),
             os.path.dirname(cache.path or FOLDER), max(before - _size(lib.path), 0) / 1e6)


def _size(path) -> int:
    try:
        return os.path.getsize(os.fsdecode(path))
    except OSError:
        return 0
