"""Order vectors into a nearest-neighbour chain so look-alikes are adjacent.

Pure: NumPy and scikit-learn, no beets. The chain starts at a stated
point and hops, each time, to the closest point not yet used.

* :func:`exact_chain` is plain greedy, computed without a Python loop over
  pairs: exact k-nearest-neighbour lists (blocked matrix products) answer
  almost every hop, and a vectorised scan of the unused points answers
  the rest. The result is the plain greedy chain.
* :func:`reduced_chain` does the same in a PCA-reduced space with
  approximate neighbour lists (a faiss HNSW graph, ``search/graph.py``),
  and falls back to the nearest k-means cells when a point's neighbours
  are used. :func:`fast_chain` reduces vectors held in memory first.
* :func:`.two_opt.improve` shortens a chain with 2-opt moves limited to
  each point's near neighbours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..search import graph
from ..search.exact import knn, prepare, sq_norms
from ..search.reduce import DIMS, Reduction
from .two_opt import chain_length, improve


def start_index(x: np.ndarray) -> int:
    """The default start: the point farthest from the mean (lowest index on
    ties), an outlier that makes a natural end of the chain."""
    centred = x - x.mean(axis=0, dtype=np.float64).astype(np.float32)
    return int(np.argmax(np.einsum("ij,ij->i", centred, centred)))


class _ExactFallback:
    """Nearest unused point by a vectorised scan of a compacted copy of the
    unused points (recompacted when half of it is used)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.used = np.zeros(len(x), dtype=bool)
        self._compact()

    def _compact(self) -> None:
        self.ids = np.flatnonzero(~self.used)
        self.sub = self.x[self.ids]
        self.sub_norms = sq_norms(self.sub)

    def mark(self, i: int) -> None:
        self.used[i] = True

    def nearest(self, current: int) -> int:
        """The nearest unused point (lowest index on ties)."""
        alive = ~self.used[self.ids]
        if alive.sum() * 2 < len(self.ids):
            self._compact()
            alive = np.ones(len(self.ids), dtype=bool)
        d2 = self.sub_norms - 2.0 * (self.sub @ self.x[current])
        d2[~alive] = np.inf
        return int(self.ids[np.argmin(d2)])


def _greedy(n: int, start: int, neighbours: np.ndarray, fallback) -> tuple[np.ndarray, int]:
    """Walk the chain; ``fallback(current, unused)`` when all neighbours are used."""
    order = np.empty(n, dtype=np.int64)
    unused_mask = np.ones(n, dtype=bool)
    current = start
    fallbacks = 0
    for step in range(n):
        order[step] = current
        unused_mask[current] = False
        fallback.mark(current)
        if step == n - 1:
            break
        row = neighbours[current]
        free = row[unused_mask[row]]
        if len(free):
            current = int(free[0])
        else:
            fallbacks += 1
            current = fallback.nearest(current)
    return order, fallbacks


@dataclass
class ChainResult:
    order: np.ndarray  # indices into the input, in chain order
    length: float  # chain length in the input space (after ``prepare``)
    fallbacks: int  # hops not answered by the neighbour lists
    seconds: float
    neighbours: np.ndarray  # (n, k) near neighbours used, for improve()


def exact_chain(x: np.ndarray, start: int | None = None, k: int = 16) -> ChainResult:
    """The plain greedy nearest-neighbour chain of prepared vectors ``x``."""
    t0 = time.perf_counter()
    n = len(x)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ChainResult(empty, 0.0, 0, 0.0, empty.reshape(0, 0))
    start = start_index(x) if start is None else start
    neighbours, _ = knn(x, k)
    order, fallbacks = _greedy(n, start, neighbours, _ExactFallback(x))
    return ChainResult(order, chain_length(x, order), fallbacks,
                       time.perf_counter() - t0, neighbours)


# Approximate mode.


class _ClusterIndex:
    """An inverted file: k-means cells, each listing its points."""

    def __init__(self, x: np.ndarray, seed: int = 0) -> None:
        from sklearn.cluster import MiniBatchKMeans

        n = len(x)
        cells = int(max(1, min(n // 8, round(np.sqrt(n)))))
        km = MiniBatchKMeans(n_clusters=cells, random_state=seed, n_init=1,
                             batch_size=min(n, 4096), max_iter=20)
        self.labels = km.fit_predict(x)
        self.centroids = km.cluster_centers_.astype(np.float32)
        order = np.argsort(self.labels, kind="stable")
        bounds = np.searchsorted(self.labels[order], np.arange(cells + 1))
        self.members = [order[bounds[c]:bounds[c + 1]] for c in range(cells)]
        self.x = x


class _ClusterFallback:
    """Nearest unused point among the closest cells that still have one."""

    def __init__(self, index: _ClusterIndex, cells_to_search: int = 3) -> None:
        self.index = index
        self.left = np.array([len(m) for m in index.members])
        self.used = np.zeros(len(index.x), dtype=bool)
        self.cells_to_search = cells_to_search

    def mark(self, i: int) -> None:
        self.used[i] = True
        self.left[self.index.labels[i]] -= 1

    def nearest(self, current: int) -> int:
        idx = self.index
        point = idx.x[current]
        d2c = sq_norms(idx.centroids) - 2.0 * idx.centroids @ point
        d2c[self.left == 0] = np.inf
        cells = np.argsort(d2c, kind="stable")[: self.cells_to_search]
        cells = cells[np.isfinite(d2c[cells])]
        cand = np.concatenate([idx.members[c] for c in cells])
        cand = cand[~self.used[cand]]
        diff = idx.x[cand] - point
        return int(cand[np.argmin(np.einsum("ij,ij->i", diff, diff))])


def fast_chain(x: np.ndarray, start: int | None = None, k: int = 16,
               dims: int = DIMS, seed: int = 0) -> ChainResult:
    """An approximate greedy chain of prepared vectors ``x`` (deterministic:
    seeded): :func:`reduced_chain` of their PCA-reduced rows."""
    t0 = time.perf_counter()
    if len(x) < 64:  # nothing to gain
        return exact_chain(x, start, k)
    rng = np.random.default_rng(seed)
    sample = x if len(x) <= 20_000 else x[rng.choice(len(x), 20_000, replace=False)]
    reduction = Reduction(sample, dims, seed)
    # x is prepared for its metric already: as it is, lengths included
    reduced = reduction.metric_rows(*reduction.project(x), "euclidean")
    result = reduced_chain(reduced, graph.neighbours(reduced, k)[0], start, seed)
    result.length = chain_length(x, result.order)
    result.seconds = time.perf_counter() - t0
    return result


def reduced_chain(x: np.ndarray, neighbours: np.ndarray, start: int | None = None,
                  seed: int = 0) -> ChainResult:
    """The greedy chain of ``x`` (reduced rows) along approximate
    ``neighbours``; the nearest unused point, when all of a point's
    neighbours are used, comes from k-means cells. Length in ``x``'s space."""
    t0 = time.perf_counter()
    n = len(x)
    if n < 64:
        return exact_chain(x, start, neighbours.shape[1] if n > 1 else 16)
    start = start_index(x) if start is None else start
    order, fallbacks = _greedy(n, start, neighbours, _ClusterFallback(_ClusterIndex(x, seed)))
    return ChainResult(order, chain_length(x, order), fallbacks,
                       time.perf_counter() - t0, neighbours)


def order_vectors(vectors: np.ndarray, metric: str = "euclidean", fast: bool = False,
                  improve_chain: bool = True, start: int | None = None,
                  k: int = 16, improve_seconds: float = 30.0) -> tuple[ChainResult, float]:
    """Chain ``vectors``; returns (result, greedy chain length before improving)."""
    x = prepare(vectors, metric)
    result = (fast_chain if fast else exact_chain)(x, start, k)
    greedy_length = result.length
    if improve_chain and len(x) >= 4:
        t0 = time.perf_counter()
        result.order = improve(x, result.order, result.neighbours[:, :8],
                               improve_seconds)
        result.length = chain_length(x, result.order)
        result.seconds += time.perf_counter() - t0
    return result, greedy_length
