"""What import does with rows whose files moved, vanished or joined a shot.

* A file not in the library whose bytes (hash and size) are those of a row
  whose file is gone is that row's file, moved or renamed (a folder renamed
  after import): the row follows it, keeping its id, vectors and rank.
* Rows under an imported folder whose file is gone are reported, and
  forgotten only when asked.
* A photo row whose file is now a companion of another photo (a JPEG
  imported alone, its RAW imported later) merges into that photo's row:
  its vectors (until the shot is featurized again, as its hash differs),
  rank and flexible fields go to the shot's row, and the old row is
  removed. Its id is gone: journal rows of old runs still name it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beets.library import Library

    from .models import Photo


def moved_from(record: dict, candidates: Iterable[Photo], claimed: set[int]) -> Photo | None:
    """The row, among those with the file's hash, whose file is gone and
    which the file at ``record["path"]`` therefore is; None when there is
    none. Same name first, for exact copies that moved together."""
    gone = [p for p in candidates
            if p.id not in claimed and p.id is not None and p.size == record["size"]
            and not os.path.lexists(os.fsdecode(p.path))]
    if not gone:
        return None
    name = os.path.basename(record["path"])
    gone.sort(key=lambda p: (os.path.basename(os.fsdecode(p.path)) != name
                             and p.origname != name, p.mtime != record["mtime"], p.id))
    claimed.add(gone[0].id)
    return gone[0]


def under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def missing(rows: Iterable[Photo], roots: list[str]) -> list[Photo]:
    """The rows under ``roots`` whose file is gone."""
    out = []
    for photo in rows:
        path = os.fsdecode(photo.path)
        if under(path, roots) and not os.path.lexists(path):
            out.append(photo)
    return sorted(out, key=lambda p: os.fsdecode(p.path))


def merge_into(lib: Library, old: Photo, owner: Photo) -> None:
    """Fold ``old`` (now a companion's row) into ``owner``, then remove it."""
    with lib.transaction() as tx:
        tx.mutate("UPDATE OR IGNORE similar_features SET photo_id=? WHERE photo_id=?",
                  (owner.id, old.id))
    if not owner.rank and old.rank:
        owner.rank = old.rank
    for key, value in old._values_flex.items():
        if key not in owner._values_flex:
            owner[key] = value
    owner.store()
    old.remove()
