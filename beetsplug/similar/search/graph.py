"""Approximate nearest neighbours from a faiss HNSW graph.

faiss was chosen by measurement (``benchmarks/ann.py``, 100,000
library-like vectors, recall@10 against exact search): faiss HNSW 0.974,
hnswlib 0.877, faiss IVF 0.659, pynndescent 0.526, our old k-means
inverted file 0.466.
"""

from __future__ import annotations

import numpy as np

LARGE = 300_000  # above: a sparser graph, built in half the time
LARGE_DIMS = 32  # above LARGE, the graph is built on this many leading columns


def neighbours(x: np.ndarray, k: int = 16, leading: bool = False,
               ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` approximate nearest rows of each row of ``x``, itself
    excluded: (indices, squared distances), (n, k) each, nearest first.
    A row with fewer answers lists itself in their place, at distance inf.

    ``leading``: the columns of ``x`` are PCA axes, most variance first.
    Above ``LARGE`` rows, the graph is then built and searched on the
    first ``LARGE_DIMS`` of them only (a million rows: about 13 s less,
    the same share of near-duplicate pairs found); the distances are
    measured on every column, and each row's answers sorted by them.
    """
    return search(index(x, leading), x, np.arange(len(x)), k)


def index(x: np.ndarray, leading: bool = False):
    """The faiss HNSW graph of the rows of ``x`` (see :func:`neighbours`);
    more rows can be added to it later, on the same columns."""
    import faiss

    n = len(x)
    on = x
    if leading and n > LARGE and x.shape[1] > LARGE_DIMS:
        on = x[:, :LARGE_DIMS]
    built = faiss.IndexHNSWFlat(on.shape[1], 16 if n > LARGE else 32)
    built.hnsw.efConstruction = 40 if n > LARGE else 80
    built.add(np.ascontiguousarray(on, dtype=np.float32))
    return built


def search(built, x: np.ndarray, queries: np.ndarray, k: int,
           alive: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` approximate nearest rows of the rows ``queries`` of ``x``
    in the graph ``built`` of ``x``, each itself excluded, and only rows
    marked in ``alive`` when it is given; as :func:`neighbours`."""
    import faiss

    queries = np.asarray(queries, dtype=np.int64)
    k = max(0, min(k, len(x) - 1))
    on = np.ascontiguousarray(x[queries, :built.d], dtype=np.float32)
    params = faiss.SearchParametersHNSW(efSearch=max(48, 2 * k))
    if alive is not None:
        bits = np.packbits(alive, bitorder="little")  # held until the search ends
        params.sel = faiss.IDSelectorBitmap(len(alive), faiss.swig_ptr(bits))
    d2, found = built.search(on, k + 1, params=params)
    rows = np.arange(len(queries))
    # Drop each row itself (the last answer where identical rows pushed it out).
    own = found == queries[:, None]
    drop = np.where(own.any(axis=1), own.argmax(axis=1), k)
    keep = np.ones(found.shape, dtype=bool)
    keep[rows, drop] = False
    found, d2 = found[keep].reshape(-1, k), d2[keep].reshape(-1, k)
    missing = found < 0
    found[missing] = np.broadcast_to(queries[:, None], found.shape)[missing]
    d2[missing] = np.inf
    if built.d < x.shape[1]:
        found, d2 = _measured(x, queries, found)
    return found, np.maximum(d2, 0.0)


def nearest_lists(rows: np.ndarray, src: np.ndarray, dst: np.ndarray, d: np.ndarray,
                  k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``rows`` (sorted, distinct) with the ``k`` nearest ``dst`` of
    its distinct pairs (``src``, ``dst``) at distances ``d``, nearest first:
    (lists, distances); a row with fewer lists itself in their place, at inf."""
    order = np.lexsort((dst, d, src))
    src, dst, d = src[order], dst[order], d[order]
    place = np.arange(len(src)) - np.searchsorted(src, src)
    top = place < k
    at = np.searchsorted(rows, src[top])
    lists = np.repeat(rows[:, None], k, axis=1)
    dists = np.full((len(rows), k), np.inf, dtype=np.float32)
    lists[at, place[top]] = dst[top]
    dists[at, place[top]] = d[top]
    return lists, dists


def _measured(x: np.ndarray, queries: np.ndarray, found: np.ndarray, block: int = 50_000,
              ) -> tuple[np.ndarray, np.ndarray]:
    """``found`` (the answers to the rows ``queries``) with their squared
    distances on every column of ``x``, each row's answers sorted by them
    (rows answered by themselves stay last)."""
    d2 = np.empty(found.shape, dtype=np.float32)
    for start in range(0, len(found), block):
        stop = min(len(found), start + block)
        diff = x[found[start:stop]] - x[queries[start:stop], None, :]
        d2[start:stop] = np.einsum("ijk,ijk->ij", diff, diff)
    d2[found == queries[:, None]] = np.inf
    order = np.argsort(d2, axis=1, kind="stable")
    return np.take_along_axis(found, order, axis=1), np.take_along_axis(d2, order, axis=1)
