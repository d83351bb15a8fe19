"""A photo's companions in the library (table ``similar_companions``):
sidecars and the other half of a pair, which follow the photo everywhere.

A companion's name is the photo's name stem plus a suffix (``.JPG``,
``.xmp``, ``.CR2.xmp``); renaming the photo renames it with the same stem,
so no original name needs storing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..imaging.raw import is_raw_name
from .models import ensure_schema

if TYPE_CHECKING:
    from beets.library import Library

_CHUNK = 900


@dataclass(frozen=True)
class Companion:
    photo_id: int
    part: int  # 1, 2, ...
    path: str
    kind: str  # sidecar, pair


def suffix(companion_path: str, photo_path: str) -> str:
    """What a companion's name adds to the photo's stem: ``.JPG``,
    ``.CR2.xmp``."""
    stem = os.path.splitext(os.path.basename(photo_path))[0]
    return os.path.basename(companion_path)[len(stem):]


def of(lib: Library, photo_ids: Sequence[int]) -> dict[int, list[Companion]]:
    """{photo id: its companions, by part} for the photos that have any."""
    ensure_schema(lib)
    out: dict[int, list[Companion]] = {}
    ids = list(dict.fromkeys(photo_ids))
    with lib.transaction() as tx:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            rows = tx.query("SELECT photo_id, part, path, kind FROM similar_companions "
                            f"WHERE photo_id IN ({','.join('?' * len(chunk))}) "
                            "ORDER BY photo_id, part", chunk)
            for pid, part, path, kind in rows:
                out.setdefault(pid, []).append(Companion(pid, part, os.fsdecode(path), kind))
    return out


def formats(photo_path: str, companion_paths: Sequence[str]) -> tuple[str, int]:
    """(``"CR2 JPG XMP"``, has_raw) of a shot's files."""
    paths = [photo_path, *companion_paths]
    exts = [os.path.splitext(p)[1].lstrip(".").upper() or "?" for p in paths]
    return " ".join(exts), int(any(is_raw_name(p) for p in paths))


def store(tx, photo_id: int, companions: Sequence[tuple[str, str]]) -> None:
    """Set a photo's companions: ``(path, kind)``, numbered from 1."""
    tx.mutate("DELETE FROM similar_companions WHERE photo_id=?", (photo_id,))
    tx.mutate_many("INSERT INTO similar_companions (photo_id, part, path, kind) "
                   "VALUES (?, ?, ?, ?)",
                   [(photo_id, part, os.fsencode(path), kind)
                    for part, (path, kind) in enumerate(companions, start=1)])


def set_path(tx, photo_id: int, part: int, path: str) -> None:
    tx.mutate("UPDATE similar_companions SET path=? WHERE photo_id=? AND part=?",
              (os.fsencode(path), photo_id, part))


def owners(lib: Library) -> dict[str, int]:
    """{companion path: the id of the photo it belongs to}, for every
    companion in the library."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT path, photo_id FROM similar_companions")
    return {os.fsdecode(path): pid for path, pid in rows}
