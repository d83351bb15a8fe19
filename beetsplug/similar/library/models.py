"""The ``Photo`` model and the plugin's tables in the beets library database.

Photos live in their own tables of the same SQLite file as the music
(``similar_photos`` and its flexible-attribute table), so the beets
query language, sorts and format templates work on them unchanged.
Tables are created, and new columns added, by :func:`ensure_schema`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

import beets
from beets import dbcore
from beets.dbcore import types
from beets.dbcore.db import FormattedMapping, Index
from beets.exceptions import UserError
from beets.library.models import LibModel

from ..features.extractor import OLD_DEPTH_LAYERS
from .paths import PhotoPath, make_absolute

if TYPE_CHECKING:
    from beets.library import Library


class FileName(types.Type[str, str]):
    """A file name, exactly as the disk has it.

    Stored as TEXT when it is valid UTF-8, so queries and templates work as
    for any string, and as the raw bytes otherwise (SQLite cannot hold such
    a name as TEXT). In Python it is always a ``str``; bytes that are not
    UTF-8 are kept as surrogates (``os.fsdecode``), so ``os.fsencode``
    gives the exact name back.
    """

    model_type = str

    def normalize(self, value) -> str:
        if isinstance(value, bytes | memoryview):
            return os.fsdecode(bytes(value))
        return "" if value is None else str(value)

    def from_sql(self, sql_value) -> str:
        return self.normalize(sql_value)

    def to_sql(self, model_value):
        try:
            model_value.encode("utf-8")
        except UnicodeEncodeError:
            return os.fsencode(model_value)
        return model_value


class Taken(types.DateType):
    """The date taken: empty in templates when unknown (stored as 0)."""

    def format(self, value) -> str:
        return super().format(value) if value else ""


def parse_sort(sort: str):
    """A beets sort from ``similar.sort`` (``path+``, ``taken- path+``);
    None when empty. Raises UserError, in one line, on a bad one."""
    parts = sort.split()
    bad = [p for p in parts if len(p) < 2 or p[-1] not in "+-"]
    if bad:
        raise UserError(f"similar.sort {sort!r}: {bad[0]!r} is not a sort; give fields "
                        "each followed by + or -, such as 'path+' or 'taken- path+'")
    return dbcore.sort_from_strings(Photo, parts) if parts else None


class Photo(LibModel):
    """A photo file in the library."""

    _table = "similar_photos"
    _flex_table = "similar_photo_attributes"
    _fields: ClassVar[dict[str, types.Type]] = {  # type: ignore[misc]
        "id": types.PRIMARY_ID,
        "path": PhotoPath(),  # absolute, whatever beets' directory (paths.py)
        "origname": FileName(),  # file name at import, before any rank prefix
        "size": types.INTEGER,  # bytes
        "mtime": types.DATE,
        "hash": types.STRING,  # SHA-256 of the bytes
        "format": types.STRING,
        "width": types.INTEGER,  # as displayed (after EXIF orientation)
        "height": types.INTEGER,
        "orientation": types.INTEGER,
        "taken": Taken(),  # EXIF date taken; 0 when unknown (empty in templates)
        "year": types.INTEGER,
        "month": types.PaddedInt(2),
        "day": types.PaddedInt(2),
        "make": types.STRING,
        "model": types.STRING,
        "camera": types.STRING,  # make and model, for `camera:Canon`
        "rank": types.INTEGER,  # position in the last similar-order run; 0: none
        "formats": types.STRING,  # the shot's files: "CR2 JPG XMP"
        "has_raw": types.INTEGER,  # 1 when one of them is a RAW file
        "edited": types.INTEGER,  # 1 when a sidecar (edit history) is beside it
        "gps": types.INTEGER,  # 1 when the EXIF has a position
        "sharpness": types.FLOAT,  # 0..1, measured when featurized
        "exposure": types.FLOAT,  # 0..1, measured when featurized
        "quality": types.FLOAT,  # 0..1, from the parts (keep/score.py)
        "added": types.DATE,
    }
    _search_fields = ("origname", "camera")  # unqualified terms; path is a BLOB
    _indices = (
        Index("similar_photos_by_hash", ("hash",)),
        Index("similar_photos_by_path", ("path",)),
    )
    _sorts: ClassVar[dict] = {}
    _formatter = FormattedMapping

    @classmethod
    def _getters(cls):
        return {
            "filename": lambda p: os.path.basename(p.filepath),
            "stem": lambda p: os.path.splitext(os.path.basename(p.filepath))[0],
            "ext": lambda p: os.path.splitext(p.filepath)[1].lstrip(".").lower(),
            "folder": lambda p: os.path.dirname(p.filepath),
            "origstem": lambda p: os.path.splitext(p.origname)[0],
            "megapixels": lambda p: round(p.width * p.height / 1e6, 1),
        }

    def __format__(self, spec: str) -> str:
        return self.evaluate_template(
            spec or beets.config["similar"]["format"].as_str()
        )

    def remove(self) -> None:
        """Forget the photo and its vectors. The file is never touched here:
        deleting one is for ``commands.extras`` alone, after its checks."""
        with self.db.transaction() as tx:
            tx.mutate("DELETE FROM similar_features WHERE photo_id=?", (self.id,))
            tx.mutate("DELETE FROM similar_companions WHERE photo_id=?", (self.id,))
            self._remove()


# The plugin's other tables: {table: {column: SQL type and constraints}}.
# A column added here later is added to existing databases too.
_EXTRA_TABLES: dict[str, dict[str, str]] = {
    "similar_features": {
        "photo_id": "INTEGER NOT NULL",
        "model": "TEXT NOT NULL",  # e.g. xception/block14_sepconv2_act/imagenet
        "dim": "INTEGER NOT NULL",
        "dtype": "TEXT NOT NULL",  # numpy dtype of the blob: float16, float32
        "scale": "REAL NOT NULL DEFAULT 1.0",  # the vector is blob * scale
        "vector": "BLOB NOT NULL",
        "hash": "TEXT NOT NULL",  # photo hash when computed: redo if changed
    },
    "similar_runs": {
        "id": "INTEGER PRIMARY KEY",
        "started": "REAL NOT NULL",
        "kind": "TEXT NOT NULL",  # order, clear, move-copies
        "state": "TEXT NOT NULL",  # running, done, failed, undoing, undone
    },
    "similar_journal": {
        "run_id": "INTEGER NOT NULL",
        "seq": "INTEGER NOT NULL",
        "photo_id": "INTEGER NOT NULL",
        "src": "BLOB NOT NULL",
        "dst": "BLOB NOT NULL",
        "state": "TEXT NOT NULL",  # pending, done, skipped, undone
        "dev": "INTEGER",  # the file (device, inode) when the run started:
        "ino": "INTEGER",  # it is recognised by this, not by its name
        "part": "INTEGER NOT NULL DEFAULT 0",  # 0: the photo; 1..: its companions
        "digest": "TEXT",  # SHA-256 of a file copied across disks: its identity then
    },
    "similar_calibrations": {
        "id": "INTEGER PRIMARY KEY",
        "family": "TEXT NOT NULL",  # backbone and weights: xception/imagenet
        "made": "REAL NOT NULL",
        "sample": "INTEGER NOT NULL",  # photos measured
        "fpr": "REAL NOT NULL",  # false-positive rate the thresholds are for
        "chosen": "INTEGER NOT NULL",  # the best depth
        "figures": "TEXT NOT NULL",  # JSON: one object per candidate layer
    },
    "similar_companions": {
        "photo_id": "INTEGER NOT NULL",
        "part": "INTEGER NOT NULL",  # 1, 2, ...: the photo itself is part 0
        "path": "BLOB NOT NULL",
        "kind": "TEXT NOT NULL",  # sidecar, or pair (RAW+JPEG, Live Photo)
    },
    "similar_roots": {
        "path": "BLOB NOT NULL PRIMARY KEY",  # a folder given to similar-import
    },
    "similar_vector_log": {  # which vectors changed (see _log_vector_changes)
        "seq": "INTEGER PRIMARY KEY AUTOINCREMENT",  # never reused, even once pruned
        "photo_id": "INTEGER NOT NULL",
        "model": "TEXT NOT NULL",
    },
    "similar_counters": {
        "name": "TEXT NOT NULL PRIMARY KEY",
        "value": "INTEGER NOT NULL DEFAULT 0",
    },
}
_TABLE_KEYS = {
    "similar_features": "PRIMARY KEY (photo_id, model)",
    "similar_journal": "PRIMARY KEY (run_id, seq)",
    "similar_companions": "PRIMARY KEY (photo_id, part)",
}


def _create_or_migrate(tx, table: str, columns: dict[str, str]) -> None:
    """Create ``table`` or add the columns it lacks, keeping its rows."""
    have = {row[1] for row in tx.query(f"PRAGMA table_info({table})")}
    if not have:
        defs = [f"{name} {sql}" for name, sql in columns.items()]
        defs += [_TABLE_KEYS[table]] if table in _TABLE_KEYS else []
        tx.script(f"CREATE TABLE {table} ({', '.join(defs)});")
    else:
        tx.script("".join(f"ALTER TABLE {table} ADD COLUMN {name} {sql};\n"
                          for name, sql in columns.items() if name not in have))


def _rename_depth_keys(tx) -> None:
    """Vectors stored under ``model/dN/weights`` (before layer names).
    One probe of the key index first: the renames scan the whole table,
    15 s at a million vectors, and are needed once at most."""
    if not tx.query("SELECT 1 FROM similar_features WHERE model GLOB '*/d[0-9]/*' LIMIT 1"):
        return
    for name, layers in OLD_DEPTH_LAYERS.items():
        for depth, layer in enumerate(layers, start=1):
            old = f"{name}/d{depth}/"
            tx.mutate("UPDATE OR IGNORE similar_features SET model = ? || substr(model, ?) "
                      "WHERE substr(model, 1, ?) = ?",
                      (f"{name}/{layer}/", len(old) + 1, len(old), old))


LOG_FROM = "vector_log_from"  # similar_counters: the log is complete after this seq


def _log_vector_changes(tx) -> None:
    """Triggers that log every change to ``similar_features``, whoever
    writes it: a copy of the vectors kept outside the database, such as
    the neighbour graph (``search/kept.py``), learns from the log which
    photos' vectors changed since it was made (``library/vector_log.py``).
    Created once: a start takes no write lock. Where they were missing
    (a database of an older version, or edited by hand), the log is only
    complete from now on, and ``LOG_FROM`` says so."""
    have = {row[0] for row in tx.query(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'similar_*'")}
    if all(f"similar_features_log_{event}" in have for event, _ in _LOGGED):
        return
    for event in ("insert", "update", "delete"):  # the count of an older version
        tx.mutate(f"DROP TRIGGER IF EXISTS similar_features_{event}")
    for event, rows in _LOGGED:
        tx.mutate(f"CREATE TRIGGER IF NOT EXISTS similar_features_log_{event} "
                  f"AFTER {event.upper()} ON similar_features BEGIN "
                  + "".join("INSERT INTO similar_vector_log (photo_id, model) "
                            f"VALUES ({row}.photo_id, {row}.model); " for row in rows)
                  + "END")
    # A mark in the log: what was made before it may have missed changes.
    mark = tx.mutate("INSERT INTO similar_vector_log (photo_id, model) VALUES (0, '')")
    tx.mutate("INSERT OR REPLACE INTO similar_counters (name, value) VALUES (?, ?)",
              (LOG_FROM, mark))


_LOGGED = (("insert", ("NEW",)), ("update", ("OLD", "NEW")), ("delete", ("OLD",)))


def ensure_schema(lib: Library) -> None:
    """Create or migrate the plugin's tables; cheap after the first call."""
    if getattr(lib, "_similar_schema_ready", False):
        return
    photo_columns = {name: typ.sql for name, typ in Photo._fields.items()}
    with lib.transaction() as tx:
        _create_or_migrate(tx, Photo._table, photo_columns)
        for table, columns in _EXTRA_TABLES.items():
            _create_or_migrate(tx, table, columns)
        _rename_depth_keys(tx)
        _log_vector_changes(tx)
    lib._make_attribute_table(Photo._flex_table)
    lib._create_indices(Photo._table, Photo._indices)
    make_absolute(lib)
    lib._similar_schema_ready = True
