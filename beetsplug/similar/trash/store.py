"""What a trash run keeps to restore a photo's row: its fields, flexible
attributes, vectors and companions (table ``similar_trash_rows``), and
the keeper's rating before the run changed it."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from ..library.models import Photo

if TYPE_CHECKING:
    from beets.library import Library

TABLE = "similar_trash_rows"
_TABLES = {  # photo data: table -> the column naming the photo
    Photo._table: "id",
    Photo._flex_table: "entity_id",
    "similar_features": "photo_id",
    "similar_companions": "photo_id",
}


def ensure(lib: Library) -> None:
    if getattr(lib, "_similar_trash_ready", False):
        return
    with lib.transaction() as tx:
        tx.script(f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                  "run_id INTEGER NOT NULL, photo_id INTEGER NOT NULL, "
                  "role TEXT NOT NULL, "  # extra: a trashed photo; keeper: the photo kept
                  "keeper_id INTEGER, data TEXT NOT NULL, "
                  "PRIMARY KEY (run_id, photo_id, role));")
    lib._similar_trash_ready = True


def _encode(value: Any) -> Any:
    return {"$b": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


def _decode(value: Any) -> Any:
    return base64.b64decode(value["$b"]) if isinstance(value, dict) else value


def snapshot(tx, photo_id: int) -> dict[str, list[dict]]:
    """Every row of the photo in the plugin's tables, as JSON-ready data."""
    out = {}
    for table, column in _TABLES.items():
        rows = tx.query(f"SELECT * FROM {table} WHERE {column}=?", (photo_id,))
        out[table] = [{k: _encode(row[k]) for k in row.keys()
                       if not (table == Photo._flex_table and k == "id")} for row in rows]
    return out


def forget(tx, photo_id: int) -> None:
    """Remove the photo's rows (the file is not touched here)."""
    for table, column in _TABLES.items():
        tx.mutate(f"DELETE FROM {table} WHERE {column}=?", (photo_id,))


def drop_run(lib: Library, run_id: int) -> None:
    """Forget what a run saved (a run that sent nothing)."""
    with lib.transaction() as tx:
        tx.mutate(f"DELETE FROM {TABLE} WHERE run_id=?", (run_id,))


def restore(tx, snap: dict[str, list[dict]], keep_companion=lambda path: True) -> int:
    """Insert a snapshot's rows again; under its old id when that is free,
    else a new one. ``keep_companion(path)`` leaves out companions not
    back in place. Returns the photo's id."""
    (photo,) = snap[Photo._table]
    photo = {k: _decode(v) for k, v in photo.items()}
    if tx.query(f"SELECT 1 FROM {Photo._table} WHERE id=?", (photo["id"],)):
        del photo["id"]  # taken by a photo imported since
    cols = list(photo)
    new_id = tx.mutate(f"INSERT INTO {Photo._table} ({','.join(cols)}) "
                       f"VALUES ({','.join('?' * len(cols))})", [photo[c] for c in cols])
    for table, column in _TABLES.items():
        if table == Photo._table:
            continue
        for row in snap[table]:
            row = {k: _decode(v) for k, v in row.items()}
            if table == "similar_companions" and not keep_companion(row["path"]):
                continue
            row[column] = new_id
            cols = list(row)
            tx.mutate(f"INSERT INTO {table} ({','.join(cols)}) "
                      f"VALUES ({','.join('?' * len(cols))})", [row[c] for c in cols])
    return new_id


def save(tx, run_id: int, photo_id: int, role: str, keeper_id: int | None, data) -> None:
    tx.mutate(f"INSERT OR REPLACE INTO {TABLE} (run_id, photo_id, role, keeper_id, data) "
              "VALUES (?, ?, ?, ?, ?)", (run_id, photo_id, role, keeper_id, json.dumps(data)))


def load(lib: Library, run_id: int) -> dict[tuple[int, str], tuple[int | None, Any]]:
    """{(photo id, role): (keeper id, data)} of a run."""
    ensure(lib)
    with lib.transaction() as tx:
        rows = tx.query(f"SELECT photo_id, role, keeper_id, data FROM {TABLE} "
                        "WHERE run_id=?", (run_id,))
    return {(pid, role): (kid, json.loads(data)) for pid, role, kid, data in rows}
