"""Near-duplicate groups: photos linked by distances under a threshold.

Pure: NumPy only. Two photos are linked when one is among the other's
nearest neighbours and their distance is under the threshold; groups
are the connected components (single linkage).
"""

from __future__ import annotations

import numpy as np

from ..order.chain import knn, prepare

# Cosine distance under which two photos are near-duplicates, chosen with
# benchmarks/threshold.py on generated near-duplicates (see README.md).
DEFAULT_THRESHOLD = 0.005


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def near_groups(vectors: np.ndarray, threshold: float, metric: str = "cosine",
                k: int = 16) -> list[list[int]]:
    """Groups (two or more rows each) of vectors linked under ``threshold``.

    For ``cosine`` the threshold is a cosine distance (1 - cosine
    similarity), for ``euclidean`` a plain distance. Groups are sorted by
    their first member; members in row order.
    """
    n = len(vectors)
    if n < 2:
        return []
    x = prepare(vectors, metric)
    idx, dist = knn(x, k)
    if metric == "cosine":
        dist = dist * dist / 2.0  # unit vectors: |a-b|^2 = 2 (1 - cos)
    parent = np.arange(n)
    rows, cols = np.nonzero(dist < threshold)
    for i, j in zip(rows, idx[rows, cols]):
        a, b = _find(parent, int(i)), _find(parent, int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = np.array([_find(parent, i) for i in range(n)])
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(roots):
        groups.setdefault(int(r), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def pair_distances(vectors: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Distance between each row and the next (chain neighbours)."""
    x = prepare(vectors, metric)
    if len(x) < 2:
        return np.zeros(0, dtype=np.float32)
    d = np.sqrt(((x[1:] - x[:-1]) ** 2).sum(axis=1))
    return d * d / 2.0 if metric == "cosine" else d
