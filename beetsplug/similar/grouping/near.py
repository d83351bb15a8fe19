"""Near-duplicate groups of vectors held in memory: candidates from each
picture's exact nearest neighbours, grouped by ``complete.py``.

Pure: NumPy and SciPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..search.exact import knn, prepare
from .complete import pair_groups
from .rule import Rule


def near_groups(vectors: np.ndarray, threshold: float, metric: str = "cosine",
                k: int = 16, neighbours: np.ndarray | None = None,
                rule: Rule | None = None) -> list[list[int]]:
    """Groups (two or more rows each) in which every two rows are within
    ``threshold`` of each other.

    For ``cosine`` the threshold is a cosine distance (1 - cosine
    similarity), for ``euclidean`` a plain distance. ``neighbours`` gives
    each row's candidate rows (default: its ``k`` exact nearest). Groups
    are sorted by their first member; members in row order. With a
    ``rule``, what it accepts is near too (see :class:`Rule`).
    """
    n = len(vectors)
    if n < 2:
        return []
    x = prepare(vectors, metric)
    if neighbours is None:
        neighbours, _ = knn(x, k)
    rows = np.repeat(np.arange(n), neighbours.shape[1])
    cols = neighbours.reshape(-1)
    if rule is not None and rule.frames is not None:  # frames of one burst
        a, b = rule.frames.pairs()
        rows, cols = np.concatenate([rows, a]), np.concatenate([cols, b])
    return pair_groups(x, rows, cols, threshold, metric, rule)


def by_hash(hashes: Sequence[str]) -> list[list[int]]:
    """The rows of each content hash, in first-seen order."""
    rows: dict[str, list[int]] = {}
    for row, digest in enumerate(hashes):
        rows.setdefault(digest, []).append(row)
    return list(rows.values())


def near_units(hashes: Sequence[str], matrix: np.ndarray, threshold: float,
               rule: Rule | None = None) -> list[list[int]]:
    """Near-duplicate groups (rows of ``matrix``, whose photos have
    ``hashes``), the one rule shared by ``similar-dupes``, ``similar-report``
    and ``similar-order``: exact copies count once, and every two
    different pictures of a group are within ``threshold`` (cosine) of
    each other, or pass the ``rule``'s check (see :class:`.rule.Rule`;
    it gets rows of ``matrix``). Candidates are each picture's exact
    nearest neighbours."""
    units = by_hash(hashes)
    if len(units) < 2:
        return []
    first = np.array([rows[0] for rows in units], dtype=np.int64)
    heads = matrix if len(units) == len(hashes) else matrix[first]
    # Candidates for the check reach farther: more neighbours.
    k = 16 if rule is None else 32
    return [[row for u in group for row in units[u]]
            for group in near_groups(heads, threshold, "cosine", k=k,
                                     rule=rule.on(first) if rule is not None else None)]
