"""Near-duplicate groups of vectors held in memory: candidates from each
picture's exact nearest neighbours, grouped by ``complete.py`` (the
network alone) or ``confirmed.py`` (with the second check).

Pure: NumPy and SciPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..search.exact import knn, prepare
from .complete import pair_groups
from .rule import Rule


CANDIDATE_LISTS = 16  # with the check: candidates under its distance among so many nearest


def near_groups(vectors: np.ndarray, threshold: float, metric: str = "cosine",
                k: int = 16, neighbours: np.ndarray | None = None,
                rule: Rule | None = None) -> list[list[int]]:
    """Near-duplicate groups (two or more rows each), sorted by their first
    member; members in row order.

    By the network alone, every two rows of a group are within
    ``threshold`` of each other: for ``cosine`` a cosine distance (1 -
    cosine similarity), for ``euclidean`` a plain distance; ``neighbours``
    gives each row's candidate rows (default: its ``k`` exact nearest).
    With a ``rule`` that checks, the candidates are :func:`candidates`
    and the groups those of :func:`.confirmed.confirmed_groups`.
    """
    n = len(vectors)
    if n < 2:
        return []
    x = prepare(vectors, metric)
    if rule is not None and rule.judge is not None:
        rows, cols = candidates(x, rule, metric)
    else:
        if neighbours is None:
            neighbours, _ = knn(x, k)
        rows = np.repeat(np.arange(n), neighbours.shape[1])
        cols = neighbours.reshape(-1)
    return pair_groups(x, rows, cols, threshold, metric, rule)


def candidates(x: np.ndarray, rule: Rule, metric: str = "cosine",
               lists: int = CANDIDATE_LISTS) -> tuple[np.ndarray, np.ndarray]:
    """The pairs the check is asked about: each row with its
    ``rule.nearest`` nearest rows, however far, and with those of its
    ``lists`` nearest that are closer than ``rule.candidate``; and frames
    of one burst (``rule.frames``). (rows, cols) index arrays."""
    neighbours, d = knn(x, max(lists, rule.nearest))
    if metric == "cosine":
        d = d * d / 2.0
    take = (np.arange(neighbours.shape[1]) < rule.nearest)[None, :] | (d < rule.candidate)
    rows = np.repeat(np.arange(len(x)), neighbours.shape[1])[take.reshape(-1)]
    cols = neighbours.reshape(-1)[take.reshape(-1)]
    if rule.frames is not None:
        a, b = rule.frames.pairs()
        rows, cols = np.concatenate([rows, a]), np.concatenate([cols, b])
    return rows, cols


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
    and ``similar-order`` (see :func:`near_groups`; the ``rule`` gets rows
    of ``matrix``): exact copies count once. Candidates are each
    picture's exact nearest neighbours."""
    units = by_hash(hashes)
    if len(units) < 2:
        return []
    first = np.array([rows[0] for rows in units], dtype=np.int64)
    heads = matrix if len(units) == len(hashes) else matrix[first]
    return [[row for u in group for row in units[u]]
            for group in near_groups(heads, threshold, "cosine",
                                     rule=rule.on(first) if rule is not None else None)]
