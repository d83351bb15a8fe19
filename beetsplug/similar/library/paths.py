"""Photos' paths in the database: absolute, wherever beets' ``directory:`` is.

beets stores the paths of its music files relative to ``directory:``, so
that moving the music folder and changing the setting keeps them. Photos
stay where they are: a photo's row keeps its absolute path, and changing
``directory:`` leaves it pointing at its file. :class:`PhotoPath` stores
and queries them so; :func:`make_absolute` turns the rows an older
version stored relative into absolute ones, once. Every path read with
plain SQL goes through :func:`from_db`.
"""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING

from beets import context, logging, util
from beets.dbcore import types
from beets.dbcore.db import DBAccessError
from beets.dbcore.pathutils import expand_path_from_db
from beets.dbcore.query import FieldQuery, PathQuery

if TYPE_CHECKING:
    from beets.library import Library

log = logging.getLogger("beets")


def from_db(lib: Library, raw: bytes | memoryview | str) -> str:
    """The absolute path of a ``path`` column's value ``raw``, in any
    thread; a row not made absolute yet (see :func:`make_absolute`) is
    relative to the library's directory, as beets stored it."""
    raw = _bytes(raw)
    if os.path.isabs(raw):  # every path once made absolute
        return os.fsdecode(raw)
    with context.music_dir(lib.directory):
        return os.fsdecode(expand_path_from_db(raw))


def _bytes(raw: bytes | memoryview | str) -> bytes:
    return os.fsencode(raw) if isinstance(raw, str) else bytes(raw)


def _absolute(directory: bytes, raw) -> bytes:
    """A path beets stored relative to ``directory`` (with ``/``), absolute:
    what :func:`from_db` reads, without its cost per row."""
    return os.path.normpath(os.path.join(directory, _bytes(raw).replace(b"/", _SEP)))


_SEP = os.fsencode(os.sep)


def to_db(path: bytes | str) -> bytes:
    """A path as a ``path`` column stores it: the absolute path's bytes."""
    return os.fsencode(os.path.abspath(path))


class PhotoPathQuery(PathQuery):
    """``path:`` and folder queries (``~/Pictures/2021``) on absolute
    paths: a relative one is from the current folder, as a shell reads it."""

    def __init__(self, field: str, pattern, fast: bool = True) -> None:
        path = util.normpath(pattern)
        self.case_sensitive = util.case_sensitive(path)
        FieldQuery.__init__(self, field, path if self.case_sensitive else path.lower(), fast)

    def match(self, obj) -> bool:
        path = obj.path if self.case_sensitive else obj.path.lower()
        return path == self.pattern or path.startswith(self.dir_path)


class PhotoPath(types.PathType):
    """A photo's path: stored absolute, never relative to ``directory:``."""

    query = PhotoPathQuery

    def to_sql(self, value: bytes) -> bytes:
        return to_db(value) if value else value


ABSOLUTE = "paths_absolute"  # similar_counters: 1 once every stored path is absolute
_TRASHED = "similar_trash_rows"  # the rows a trash run keeps to restore (trash/store.py)


def make_absolute(lib: Library, chunk: int = 20_000) -> None:
    """Make absolute the photo paths an older version stored relative to
    beets' directory, with that directory, once. A chunk of rows at a
    time, each in its own transaction: memory stays flat at a million
    rows, and an interrupted run goes on where it stopped (an absolute
    path stays as it is). A read-only database keeps them until it can
    be written; they are read relative to the directory meanwhile."""
    try:
        with lib.transaction() as tx:
            if tx.query("SELECT 1 FROM similar_counters WHERE name = ? AND value = 1",
                        (ABSOLUTE,)):
                return
        last, said = 0, False
        while True:
            with lib.transaction() as tx:
                rows = tx.query("SELECT id, path FROM similar_photos WHERE id > ? "
                                "ORDER BY id LIMIT ?", (last, chunk))
                if not rows:
                    break
                fixed = [(_absolute(lib.directory, path), pid) for pid, path in rows
                         if not os.path.isabs(_bytes(path))]
                if fixed and not said:
                    log.info("similar: storing the paths of photos under beets' directory "
                             "as absolute paths, once: they no longer change with it")
                    said = True
                tx.mutate_many("UPDATE similar_photos SET path = ? WHERE id = ?", fixed)
            last = rows[-1][0]
        with lib.transaction() as tx:
            _trashed_rows(lib, tx)
            tx.mutate("INSERT OR REPLACE INTO similar_counters (name, value) VALUES (?, 1)",
                      (ABSOLUTE,))
    except DBAccessError:
        return


def _trashed_rows(lib: Library, tx) -> None:
    """The photo rows kept by trash runs (JSON, bytes as ``{"$b": base64}``),
    which an undo puts back: their paths made absolute the same way."""
    if not tx.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                    (_TRASHED,)):
        return
    for rowid, data in tx.query(f"SELECT rowid, data FROM {_TRASHED}"):
        snap = json.loads(data)
        fixed = False
        for row in snap.get("similar_photos", []):
            value = row.get("path")
            raw = base64.b64decode(value["$b"]) if isinstance(value, dict) else value
            if raw and not os.path.isabs(_bytes(raw)):
                row["path"] = {"$b": base64.b64encode(_absolute(lib.directory, raw)).decode()}
                fixed = True
        if fixed:
            tx.mutate(f"UPDATE {_TRASHED} SET data = ? WHERE rowid = ?", (json.dumps(snap), rowid))
