"""Feature vectors in the library database (table ``similar_features``).

Vectors are stored as raw float16/float32 bytes keyed by photo and model
key, with the photo's content hash at the time, so several models can
coexist and a changed file is redone. A float16 vector is divided by its
largest magnitude first (kept in ``scale``), so it keeps its relative
precision whatever its range: untrained networks give values near 1e-8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import interrupts
from .models import ensure_schema

if TYPE_CHECKING:
    from beets.library import Library

DTYPES = ("float16", "float32")
_CHUNK = 900  # SQLite host parameters per statement, with room to spare


def stored_hashes(lib: Library, model: str) -> dict[int, str]:
    """{photo id: hash when featurized} for one model key."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT photo_id, hash FROM similar_features WHERE model=?", (model,))
    return {row[0]: row[1] for row in rows}


def save(lib: Library, model: str, rows: Iterable[tuple[int, str, np.ndarray]],
         dtype: str = "float16", also: Callable[[], None] = lambda: None) -> int:
    """Store ``(photo id, photo hash, vector)`` rows in one transaction;
    ``also`` runs in it (to store what was measured with the vectors)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}")
    values = []
    for pid, digest, vec in rows:
        vec = np.asarray(vec, dtype=np.float32)
        peak = float(np.abs(vec).max()) if vec.size else 0.0
        scale = peak if dtype == "float16" and peak > 0 else 1.0
        blob = (vec / scale).astype(dtype).tobytes()
        values.append((pid, model, int(vec.shape[0]), dtype, scale, blob, digest))
    with interrupts.deferred(), lib.transaction() as tx:
        tx.mutate_many(
            "INSERT OR REPLACE INTO similar_features "
            "(photo_id, model, dim, dtype, scale, vector, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        also()
    return len(values)


def load(lib: Library, model: str, photo_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
    """The stored vectors for ``photo_ids`` that have one, as float32 rows.

    Returns (ids found, in the order given; matrix of shape (len, dim)).
    Rows are written into the matrix as they are read, so the stored
    bytes are never all held at once.
    """
    ensure_schema(lib)
    unique = list(dict.fromkeys(photo_ids))
    where = {pid: i for i, pid in enumerate(unique)}
    matrix: np.ndarray | None = None
    found = np.zeros(len(unique), dtype=bool)
    with lib.transaction() as tx:
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start:start + _CHUNK]
            rows = tx.query(
                "SELECT photo_id, dim, dtype, scale, vector FROM similar_features "
                f"WHERE model=? AND photo_id IN ({','.join('?' * len(chunk))})",
                (model, *chunk))
            for pid, dim, dtype, scale, blob in rows:
                if matrix is None:
                    matrix = np.empty((len(unique), dim), dtype=np.float32)
                elif dim != matrix.shape[1]:
                    raise ValueError(f"vectors of model {model} have mixed lengths "
                                     f"{sorted({dim, matrix.shape[1]})}")
                i = where[pid]
                matrix[i] = np.frombuffer(blob, dtype=dtype)
                matrix[i] *= np.float32(scale)
                found[i] = True
    if matrix is None:
        return [], np.zeros((0, 0), dtype=np.float32)
    have = [pid for pid in photo_ids if found[where[pid]]]
    if len(have) == len(unique) and len(photo_ids) == len(unique):
        return have, matrix
    return have, matrix[[where[pid] for pid in have]]


def models(lib: Library) -> dict[str, int]:
    """{model key: number of vectors} in the library."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT model, COUNT(*) FROM similar_features GROUP BY model")
    return dict(rows)
