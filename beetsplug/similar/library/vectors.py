"""Feature vectors in the library database (table ``similar_features``).

Vectors are stored as raw float16/float32 bytes keyed by photo and model
key, with the photo's content hash at the time, so several models can
coexist and a changed file is redone. A float16 vector is divided by its
largest magnitude first (kept in ``scale``), so it keeps its relative
precision whatever its range: untrained networks give values near 1e-8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import interrupts
from ..parallel import ordered_map
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


def featurized(lib: Library, model: str) -> np.ndarray:
    """The ids of the photos with a vector under ``model``."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT photo_id FROM similar_features WHERE model=?", (model,))
    return np.array([row[0] for row in rows], dtype=np.int64)


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
    Rows are written into the matrix a chunk at a time as they are read,
    so the stored bytes are never all held at once.
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
            if not rows:
                continue
            dims = {row[1] for row in rows}
            if matrix is None:
                matrix = np.empty((len(unique), next(iter(dims))), dtype=np.float32)
            if dims != {matrix.shape[1]}:
                raise ValueError(f"vectors of model {model} have mixed lengths "
                                 f"{sorted(dims | {matrix.shape[1]})}")
            for dtype in {row[2] for row in rows}:  # one stored type, as a rule
                same = [row for row in rows if row[2] == dtype]
                at = np.array([where[row[0]] for row in same])
                block = np.frombuffer(b"".join(row[4] for row in same), dtype=dtype)
                scales = np.array([row[3] for row in same], dtype=np.float32)
                matrix[at] = _as_float32(block.reshape(len(same), -1), scales)
                found[at] = True
    if matrix is None:
        return [], np.zeros((0, 0), dtype=np.float32)
    have = [pid for pid in photo_ids if found[where[pid]]]
    if len(have) == len(unique) and len(photo_ids) == len(unique):
        return have, matrix
    return have, matrix[[where[pid] for pid in have]]


def stream(lib: Library, model: str, photo_ids: Sequence[int],
           rows: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The stored vectors of ``photo_ids`` (distinct), a block at a time: (positions in
    ``photo_ids`` of the photos that have one, their float32 rows). Two
    blocks at most are held at once, whatever the size of the library."""
    ensure_schema(lib)
    ids = np.asarray(photo_ids, dtype=np.int64)
    starts = range(0, len(ids), rows)
    # The next block is read (SQLite lets go of the GIL) while the caller
    # works on this one.
    blocks = ordered_map(lambda start: load(lib, model, ids[start:start + rows].tolist()),
                         starts, workers=1, prefetch=2)
    for start, (found, block) in zip(starts, blocks):
        if found:  # in the order asked, so their places are where they are found
            yield start + np.flatnonzero(np.isin(ids[start:start + rows], found)), block


def _as_float32(rows: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """``rows * scales[:, None]`` in float32. float16 rows are widened with
    integer operations, exactly, at twice NumPy's ``astype`` speed: the bits
    move into place and one multiply by 2**112 sets the exponent (finite
    values, subnormals included; vectors hold no inf or nan)."""
    if rows.dtype != np.float16:
        return rows.astype(np.float32) * scales[:, None]
    bits = rows.view(np.uint16).astype(np.uint32)
    sign = bits & 0x8000
    bits &= 0x7FFF
    bits <<= 13
    sign <<= 16
    bits |= sign
    out = bits.view(np.float32)
    out *= (np.float32(2.0 ** 112) * scales)[:, None]
    return out


def models(lib: Library) -> dict[str, int]:
    """{model key: number of vectors} in the library."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT model, COUNT(*) FROM similar_features GROUP BY model")
    return dict(rows)
