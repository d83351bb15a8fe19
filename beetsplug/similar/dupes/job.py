"""``similar-dupes`` and ``similar-report``: groups of the matched photos.

Glue between the library and the pure grouping. Small libraries are
grouped with exact neighbours in memory; above ``EXACT_CANDIDATES``
pictures, in the reduced space (``order/reduced.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..library import vectors
from ..library.selection import Selection
from ..order import reduced
from ..order.chain import prepare
from . import kinds
from .groups import distances, near_groups

if TYPE_CHECKING:
    from beets.library import Library


def featurized_rows(lib: Library, sel: Selection, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows of ``sel`` with a vector under ``key``, rows without)."""
    have = np.isin(sel.ids, vectors.featurized(lib, key))
    return np.flatnonzero(have), np.flatnonzero(~have)


EXACT_CANDIDATES = 20_000  # more pictures than this: the reduced space (order/reduced.py)


def by_hash(hashes: Sequence[str]) -> list[list[int]]:
    rows: dict[str, list[int]] = {}
    for row, digest in enumerate(hashes):
        rows.setdefault(digest, []).append(row)
    return list(rows.values())


def near_units(hashes: Sequence[str], matrix: np.ndarray, threshold: float) -> list[list[int]]:
    """Near-duplicate groups (rows of ``matrix``, whose photos have
    ``hashes``), the one rule shared by ``similar-dupes``, ``similar-report``
    and ``similar-order``: exact copies count once, and every two
    different pictures of a group are within ``threshold`` (cosine) of
    each other. Candidates are each picture's exact nearest neighbours."""
    units = by_hash(hashes)
    if len(units) < 2:
        return []
    heads = matrix if len(units) == len(hashes) else matrix[[rows[0] for rows in units]]
    return [[row for u in group for row in units[u]]
            for group in near_groups(heads, threshold, "cosine")]


@dataclass
class DuplicateGroup:
    kind: str  # exact, copy, burst or similar (see dupes/kinds.py)
    rows: list[int]  # rows of the selection


def _exact_groups(sel: Selection) -> list[list[int]]:
    return [rows for rows in by_hash(sel.hashes) if len(rows) > 1]


def duplicate_groups(lib: Library, sel: Selection, key: str, threshold: float,
                     exact_only: bool = False, copy_distance: float | None = None,
                     burst_gap: float = 2.0) -> tuple[list[DuplicateGroup], np.ndarray]:
    """Exact-copy groups of ``sel``, then near-duplicate groups of its
    featurized photos (see :func:`near_units`), each with its kind; vectors
    from the library (none when ``exact_only``). Above
    ``EXACT_CANDIDATES`` pictures, candidates come from the reduced space.
    Returns (groups, rows without vectors)."""
    if exact_only:
        return [DuplicateGroup("exact", g) for g in _exact_groups(sel)], np.zeros(0, int)
    rows, missing = featurized_rows(lib, sel, key)
    if len(rows) <= EXACT_CANDIDATES:
        _, matrix = vectors.load(lib, key, sel.ids[rows].tolist())
        return _group_in_memory(sel, rows, matrix, threshold, copy_distance,
                                burst_gap), missing
    space = reduced.build(lib, key, sel, rows)
    near = [space.rows_of(group).tolist()
            for group in reduced.near_groups(lib, key, sel, space, threshold)]
    return with_kinds(lib, key, sel, near, copy_distance, burst_gap), missing


def with_kinds(lib: Library, key: str, sel: Selection, near: list[list[int]],
               copy_distance: float | None, burst_gap: float) -> list[DuplicateGroup]:
    """The exact groups of ``sel`` and its ``near`` groups (selection rows,
    as ``similar-order`` chained them), with their kinds; a group's vectors
    are read only when its kind depends on them."""

    def loaded(group: list[int]):
        return lambda: distances(prepare(vectors.load(
            lib, key, sel.ids[group].tolist())[1], "cosine"), "cosine")

    return _with_kinds(sel, near, loaded, copy_distance, burst_gap)


def _group_in_memory(sel: Selection, rows: np.ndarray, matrix: np.ndarray, threshold: float,
                     copy_distance: float | None,
                     burst_gap: float) -> list[DuplicateGroup]:
    """Exact-copy groups of ``sel``, then near-duplicate groups of its
    ``rows`` (whose vectors ``matrix`` holds; see :func:`near_units`)."""
    rows = np.asarray(rows, dtype=np.int64)
    near = [rows[g].tolist() for g in near_units([sel.hashes[r] for r in rows], matrix,
                                                  threshold)] if len(rows) else []
    position = {int(r): p for p, r in enumerate(rows)}

    def loaded(group: list[int]):
        return lambda: distances(prepare(matrix[[position[r] for r in group]], "cosine"),
                                 "cosine")

    return _with_kinds(sel, near, loaded, copy_distance, burst_gap)


def _with_kinds(sel: Selection, near: list[list[int]], distances_of,
                copy_distance: float | None, burst_gap: float) -> list[DuplicateGroup]:
    """The exact groups and the ``near`` ones, with their kinds. An exact
    group inside a near group is shown there, not twice."""
    groups = [DuplicateGroup(kinds.kind([sel.shot(r) for r in g], distances_of(g),
                                        copy_distance, burst_gap), g) for g in near]
    in_near = {r for g in near for r in g}
    exact = [DuplicateGroup("exact", g) for g in _exact_groups(sel)
             if not all(r in in_near for r in g)]
    return exact + groups
