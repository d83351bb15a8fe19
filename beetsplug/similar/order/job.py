"""``similar-order``: chain the matched photos, and export them.

Glue between the library and the pure ordering; big libraries (``--fast``)
are chained in the reduced space (``order/reduced.py``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..grouping import reduced as reduced_groups
from ..grouping.frames import is_burst
from ..grouping.job import featurized_rows, near_rule
from ..grouping.near import by_hash, near_units
from ..library import vectors
from ..library.selection import Selection
from ..search.exact import pair_distances, prepare
from ..search.space import build
from . import reduced
from .chain import ChainResult, order_vectors

if TYPE_CHECKING:
    from beets.library import Library

    from ..grouping.rule import NearCheck
    from ..library.models import Photo


@dataclass
class Ordered:
    selection: Selection
    rows: np.ndarray  # selection rows, in chain order
    result: ChainResult
    greedy_length: float
    missing: np.ndarray  # selection rows matched but not featurized with this model
    near: list[list[int]]  # selection rows of each near-duplicate group chained as a unit
    matrix: np.ndarray | None = None  # exact mode: the vectors, in chain order
    reduced: bool = False  # fast mode: lengths are in the reduced space

    def photos(self) -> list[Photo]:
        return self.selection.photos(self.rows)


def order(lib: Library, sel: Selection, key: str, metric: str, fast: bool, improve: bool,
          start: str = "outlier", threshold: float | None = None,
          burst_gap: float = 2.0, check: NearCheck | None = None) -> Ordered:
    """Chain the photos of ``sel`` that have vectors under ``key``.

    Exact copies (same hash) and, given a ``threshold``, near-duplicate
    groups (as ``similar-dupes`` forms them) are chained as one unit each,
    so their photos always end up next to each other. ``fast`` works in
    the reduced space (``order/reduced.py``), whatever the library's size.
    ``check``: the second check, as for ``similar-dupes``.
    """
    rows, missing = featurized_rows(lib, sel, key)
    if fast and len(rows) >= 64:
        return _order_reduced(lib, sel, key, rows, missing, metric, improve, start,
                              threshold, burst_gap, check)
    _, matrix = vectors.load(lib, key, sel.ids[rows].tolist())
    hashes = [sel.hashes[r] for r in rows]
    rule = near_rule(sel, rows, threshold, check, burst_gap) if threshold is not None else None
    near = near_units(hashes, matrix, threshold, rule) if threshold is not None else []
    if check is not None:
        check.verifier.summary()
    units = chain_units(hashes, near)
    start_at = None
    if start == "earliest" and units:
        start_at = _unit_of(units)[_earliest(sel, rows)]
    # Every photo alone: the units are the rows, in order; no copy needed.
    unit_matrix = matrix if len(units) == len(rows) else \
        np.stack([_unit_vector(matrix[u], metric) for u in units])
    result, greedy = order_vectors(unit_matrix, metric, fast, improve, start_at)
    chain = _expand(units, result.order, lambda p: prepare(matrix[p], metric),
                    lambda ps: [sel.shot(rows[p]) for p in ps], burst_gap)
    return Ordered(sel, rows[chain], result, greedy, missing,
                   [rows[g].tolist() for g in near], matrix[chain])


def _order_reduced(lib, sel, key, rows, missing, metric, improve, start, threshold,
                   burst_gap, check=None) -> Ordered:
    t0 = time.perf_counter()
    space = build(lib, key, sel, rows)
    near = reduced_groups.near_groups(lib, key, sel, space, threshold, check, burst_gap) \
        if threshold is not None else []
    if check is not None:
        check.verifier.summary()
    chained = reduced.chain(space, near, metric, improve,
                            _earliest(sel, rows) if start == "earliest" else None)
    head_of = np.empty(len(sel), dtype=np.int64)
    head_of[np.concatenate(space.copies)] = np.repeat(
        np.arange(len(space.copies)), [len(c) for c in space.copies])
    chain = _expand(chained.units, chained.result.order,
                    lambda r: chained.heads_x[head_of[r]],
                    lambda rs: [sel.shot(r) for r in rs], burst_gap)
    chained.result.seconds = time.perf_counter() - t0
    return Ordered(sel, chain, chained.result, chained.greedy_length, missing,
                   [u.tolist() for u in chained.units[:len(near)]], reduced=True)


def _earliest(sel: Selection, rows: np.ndarray) -> int:
    """The row among ``rows`` taken first (lowest id on ties; undated last)."""
    taken = np.where(sel.taken[rows] > 0, sel.taken[rows], np.inf)
    return int(rows[np.lexsort((sel.ids[rows], taken))[0]])


def _unit_of(units: Sequence[Sequence[int]]) -> dict[int, int]:
    return {row: u for u, unit in enumerate(units) for row in unit}


def chain_units(hashes: Sequence[str], near: list[list[int]]) -> list[list[int]]:
    """Rows that move as one: the ``near`` groups first, then exact copies
    (same hash), and every other photo alone."""
    grouped = {row for group in near for row in group}
    return near + [rows for rows in by_hash(hashes) if rows[0] not in grouped]


def _unit_vector(rows: np.ndarray, metric: str) -> np.ndarray:
    """One vector for a unit: its photos' mean (of unit rows, for cosine)."""
    return prepare(rows, metric).mean(axis=0) if len(rows) > 1 else rows[0]


def _expand(units: Sequence[Sequence[int]], unit_order: np.ndarray, vectors_of,
            shots_of, burst_gap: float) -> np.ndarray:
    """Rows in chain order: a burst's frames in capture order, any other
    unit's photos as a small greedy chain that starts at the one nearest
    the photo before it. ``vectors_of(rows)`` and ``shots_of(rows)`` give
    rows' vectors and :class:`Shot` records."""
    out: list = []
    last = None
    for u in unit_order:
        rows = units[u]
        if len(rows) == 1:
            out.append(rows)
            last = rows[0]
            continue
        members = shots_of(rows)
        if is_burst(members, burst_gap):
            picked = [r for _, r in sorted(zip((m.taken for m in members), rows))]
        else:
            picked = _small_chain(list(rows), last, vectors_of)
        out.append(picked)
        last = picked[-1]
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def _small_chain(rows: list[int], last: int | None, vectors_of) -> list[int]:
    """``rows`` as a greedy chain from the one nearest ``last`` (from the
    first when None), on one small distance matrix."""
    points = rows + ([last] if last is not None else [])
    x = vectors_of(np.array(points))
    sq = np.einsum("ij,ij->i", x, x)
    d = (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).tolist()
    at = len(rows) if last is not None else None
    left, picked = list(range(len(rows))), []
    while left:
        pick = left[0] if at is None else min(left, key=lambda i: d[at][i])
        picked.append(rows[pick])
        left.remove(pick)
        at = pick
    return picked


def in_rank_order(lib: Library, sel: Selection, key: str) -> np.ndarray:
    """The rows of ``sel`` (fetched photos) that are ranked and have vectors
    under ``key``, by rank."""
    ranks = np.array([p.rank or 0 for p in sel.photos()])
    rows, _ = featurized_rows(lib, sel, key)
    rows = rows[ranks[rows] > 0]
    return rows[np.argsort(ranks[rows], kind="stable")]


def chain_distances(lib: Library, key: str, ids: np.ndarray) -> np.ndarray:
    """The cosine distance between each photo of ``ids`` (in chain order)
    and the next; the vectors are read a block at a time."""
    out, last = [], None
    for _, block in vectors.stream(lib, key, ids):
        if last is not None:
            block = np.vstack([last, block])
        out.append(pair_distances(block, "cosine"))
        last = block[-1:]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def export_features(lib: Library, key: str, path: str, ordered: Ordered) -> None:
    """Write features.csv as the original scripts did: ``images``, one
    column per feature, and the rank ``R``."""
    import pandas as pd

    matrix = ordered.matrix
    if matrix is None:
        matrix = vectors.load(lib, key, ordered.selection.ids[ordered.rows].tolist())[1]
    frame = pd.DataFrame(matrix, columns=[str(i) for i in range(matrix.shape[1])])
    frame.insert(0, "images", [os.fsdecode(p.path) for p in ordered.photos()])
    frame["R"] = np.arange(1, len(ordered.rows) + 1)
    frame.to_csv(path, index=False, errors="surrogateescape")  # names as on disk


