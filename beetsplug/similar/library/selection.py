"""The photos a query matched, as columns: what ordering and grouping read.

A million ``Photo`` objects cost about 50 s and 2.5 GB. Ordering and
grouping need four columns, so a query that SQLite can answer alone is
read as plain rows; ``Photo`` objects are made only for the photos a
command prints, renames or moves. A query or sort that beets evaluates
in Python (flexible attributes, say) goes through ``Photo`` objects as
everywhere else, with the same result.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from beets import context, dbcore
from beets.dbcore.sort import NullSort
from beets.exceptions import UserError
from beets.library.queries import parse_query_parts

from .models import Photo, ensure_schema, parse_sort
from .paths import from_db
from .photos import photos as fetch_photos

if TYPE_CHECKING:
    from beets.library import Library

_CHUNK = 900  # SQLite host parameters per statement, with room to spare


class Shot(NamedTuple):
    """What grouping reads of one photo (see ``dupes/kinds.py``)."""

    id: int
    hash: str
    taken: float
    camera: str


class Facts(dict):
    """A photo's stored fields, read as attributes (``facts.width``): what
    the keeper weighs, without the cost of a ``Photo`` object's field access."""

    __getattr__ = dict.__getitem__


FACTS = ("id", "path", "hash", "width", "height", "taken", "mtime", "format", "camera",
         "gps", "edited", "sharpness", "exposure", "origname")


class Selection:
    """Matched photos, in the query's order: ``ids``, ``hashes``, ``taken``
    and ``camera`` as arrays, and :meth:`photos` for the full objects."""

    def __init__(self, lib: Library, rows: Sequence[Sequence],
                 photos: Sequence[Photo] | None = None) -> None:
        self.lib = lib
        self.ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.hashes = [r[1] for r in rows]
        self.taken = np.array([r[2] or 0.0 for r in rows], dtype=np.float64)
        self.camera = [r[3] or "" for r in rows]
        self._photos = list(photos) if photos is not None else None

    @classmethod
    def of(cls, lib: Library, photos: Sequence[Photo]) -> Selection:
        """The selection of photos already fetched."""
        return cls(lib, [(p.id, p.hash, p.taken, p.camera) for p in photos], photos)

    def __len__(self) -> int:
        return len(self.ids)

    def shot(self, row: int) -> Shot:
        return Shot(int(self.ids[row]), self.hashes[row], float(self.taken[row]),
                    self.camera[row])

    def photos(self, rows: Sequence[int] | np.ndarray | None = None) -> list[Photo]:
        """The ``Photo`` objects of ``rows`` (all when None), in that order."""
        rows = range(len(self)) if rows is None else rows
        if self._photos is not None:
            return [self._photos[r] for r in rows]
        return _fetch(self.lib, [int(self.ids[r]) for r in rows])[0]

    def photos_and_facts(self, rows: Sequence[int]) -> tuple[list[Photo], dict[int, Facts]]:
        """The ``Photo`` objects of ``rows`` and their :func:`facts`, read
        once for both."""
        ids = [int(self.ids[r]) for r in rows]
        if self._photos is not None:
            return [self._photos[r] for r in rows], facts(self.lib, ids)
        return _fetch(self.lib, ids, with_facts=True)


def _fetch(lib: Library, ids: Sequence[int], with_facts: bool = False,
           ) -> tuple[list[Photo], dict[int, Facts]]:
    """The ``Photo`` objects of ``ids``, in that order, made from their
    stored values as beets makes them (``Results._make_model``), without
    its per-row cost (a million photos to print took 50 s that way); and,
    ``with_facts``, their :func:`facts` from the same values."""
    columns = ["id", *(name for name in Photo._fields if name != "id")]
    fixed: dict[int, dict] = {}
    flex: dict[int, dict] = {}
    with lib.transaction() as tx:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start:start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for row in tx.query(f"SELECT {', '.join(columns)} FROM {Photo._table} "
                                f"WHERE id IN ({marks})", chunk):
                fixed[row[0]] = dict(zip(columns, row))
            for entity, key, value in tx.query(
                    f"SELECT entity_id, key, value FROM {Photo._flex_table} "
                    f"WHERE entity_id IN ({marks})", chunk):
                flex.setdefault(entity, {})[key] = value
    photos = [Photo(lib, fixed_values=fixed[i], flex_values=flex.get(i, {})) for i in ids]
    return photos, {i: _facts(lib, fixed[i]) for i in ids} if with_facts else {}


def _facts(lib: Library, stored) -> Facts:
    """The :class:`Facts` of a photo's stored values (a mapping or a row)."""
    fact = Facts((name, stored[name]) for name in FACTS)
    fact["path"] = os.fsencode(from_db(lib, fact["path"]))
    return fact


def facts(lib: Library, ids: Sequence[int]) -> dict[int, Facts]:
    """{id: :class:`Facts`} of the photos ``ids``, read with plain queries;
    ``path`` is absolute (bytes, as ``Photo.path``), wherever beets keeps it."""
    out: dict[int, Facts] = {}
    with lib.transaction() as tx:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start:start + _CHUNK])
            rows = tx.query(f"SELECT {', '.join(FACTS)} FROM {Photo._table} "
                            f"WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            for row in rows:
                out[row[0]] = _facts(lib, dict(zip(FACTS, row)))
    return out


def select(lib: Library, query: str | Sequence[str] = (), sort: str = "path+") -> Selection:
    """The photos matching a beets query, sorted by ``sort`` unless the
    query sorts (as :func:`..photos.photos`), read as columns when SQLite
    answers the query and the sort."""
    ensure_schema(lib)
    parts = [query] if isinstance(query, str) else list(query)
    try:
        with context.music_dir(lib.directory):
            parsed, parsed_sort = parse_query_parts(parts, Photo)
    except dbcore.query.ParsingError as exc:
        raise UserError(f"invalid query: {exc}") from None
    if parsed_sort is None or isinstance(parsed_sort, NullSort):
        parsed_sort = parse_sort(sort)
    where, subvals = parsed.clause()
    order_by = parsed_sort.order_clause() if parsed_sort is not None else "id"
    if where is None or order_by is None:  # beets filters or sorts in Python
        return Selection.of(lib, list(fetch_photos(lib, query, sort)))
    with lib.transaction() as tx:
        rows = tx.query(f"SELECT id, hash, taken, camera FROM {Photo._table} "
                        f"WHERE {where} ORDER BY {order_by}", subvals)
    return Selection(lib, rows)
