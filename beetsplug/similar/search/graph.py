"""Approximate nearest neighbours from a faiss HNSW graph.

faiss was chosen by measurement (``benchmarks/ann.py``, 100,000
library-like vectors, recall@10 against exact search): faiss HNSW 0.974,
hnswlib 0.877, faiss IVF 0.659, pynndescent 0.526, our old k-means
inverted file 0.466.
"""

from __future__ import annotations

import numpy as np

LARGE = 300_000  # above: a sparser graph, built in half the time


def neighbours(x: np.ndarray, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` approximate nearest rows of each row of ``x``, itself
    excluded: (indices, squared distances), (n, k) each, nearest first.
    A row with fewer answers lists itself in their place, at distance inf.
    """
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    k = max(0, min(k, n - 1))
    index = faiss.IndexHNSWFlat(x.shape[1], 16 if n > LARGE else 32)
    index.hnsw.efConstruction = 40 if n > LARGE else 80
    index.add(x)
    index.hnsw.efSearch = max(48, 2 * k)
    d2, found = index.search(x, k + 1)
    del index
    rows = np.arange(n)
    # Drop each row itself (the last answer where identical rows pushed it out).
    own = found == rows[:, None]
    drop = np.where(own.any(axis=1), own.argmax(axis=1), k)
    keep = np.ones(found.shape, dtype=bool)
    keep[rows, drop] = False
    found, d2 = found[keep].reshape(n, k), d2[keep].reshape(n, k)
    missing = found < 0
    found[missing] = np.broadcast_to(rows[:, None], found.shape)[missing]
    d2[missing] = np.inf
    return found, np.maximum(d2, 0.0)
