"""Sets of points linked by pairs.

Pure: NumPy and SciPy.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The connected component of each of ``n`` points linked by the pairs."""
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def linked_sets(labels: np.ndarray) -> list[np.ndarray]:
    """The points of each component of two or more, by label."""
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [m for m in np.split(order, bounds) if len(m) > 1]
