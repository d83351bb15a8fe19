"""Shorten a chain with 2-opt moves limited to each point's near neighbours.

Pure: NumPy. A pass measures every candidate move at once, then applies
the improving ones best first, each checked again on the chain as it is.
"""

from __future__ import annotations

import time

import numpy as np

from ..search.exact import row_distances


def chain_length(x: np.ndarray, order: np.ndarray) -> float:
    """Sum of the distances between consecutive points of the chain."""
    if len(order) < 2:
        return 0.0
    steps = x[order[1:]] - x[order[:-1]]
    return float(np.sqrt(np.einsum("ij,ij->i", steps, steps, dtype=np.float64)).sum())


def _move_gains(x: np.ndarray, order: np.ndarray, pos: np.ndarray, a: np.ndarray,
                c: np.ndarray, d_ac: np.ndarray) -> np.ndarray:
    """For each pair (a, c), at distance ``d_ac``, what the 2-opt move that
    makes them adjacent shortens the chain by (see :func:`improve`); -inf
    where none applies. One new distance per pair: the chain's edges are
    measured once, and the new edge (p, r) is (a, c) itself."""
    n = len(order)
    edges = np.append(row_distances(x, order[:-1], order[1:]), 0.0)  # 0 after the end
    gains = np.full(len(a), -np.inf, dtype=np.float32)
    i, j = pos[a], pos[c]
    i, j = np.minimum(i, j), np.maximum(i, j)
    ok = np.flatnonzero(j - i >= 2)
    i, j = i[ok], j[ok]
    has_s = j + 1 < n
    d_qs = np.zeros(len(ok), dtype=np.float32)
    d_qs[has_s] = row_distances(x, order[i[has_s] + 1], order[j[has_s] + 1])
    gains[ok] = edges[i] + edges[j] - d_ac[ok] - d_qs
    return gains


def improve(x: np.ndarray, order: np.ndarray, neighbours: np.ndarray,
            max_seconds: float = 30.0, max_passes: int = 30) -> np.ndarray:
    """Shorten an open chain with neighbour-limited 2-opt moves.

    For each point ``a`` and each of its near neighbours ``c``, the move
    that makes them adjacent reverses the stretch between them. A pass
    measures every such move at once (vectorised), then applies the
    promising ones, best first, each checked again on the chain as it is
    by then. Stops when a pass gains less than 0.001%, or at ``max_seconds``.
    """
    order = np.array(order, dtype=np.int64, copy=True)
    n = len(order)
    if n < 4:
        return order
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    a_all = np.repeat(np.arange(n), neighbours.shape[1])
    c_all = neighbours.reshape(-1).astype(np.int64)
    d_ac = row_distances(x, a_all, c_all)

    def dist(u: int, v: int) -> float:
        d = x[u] - x[v]
        return float(np.sqrt(d @ d))

    deadline = time.perf_counter() + max_seconds
    length = chain_length(x, order)
    for _ in range(max_passes):
        gains = _move_gains(x, order, pos, a_all, c_all, d_ac)
        promising = np.flatnonzero(gains > 1e-6)
        gained = 0.0
        for m in promising[np.argsort(-gains[promising], kind="stable")]:
            if time.perf_counter() > deadline:
                return order
            i, j = pos[a_all[m]], pos[c_all[m]]
            if i > j:
                i, j = j, i
            if j - i < 2:
                continue
            p, q, r = order[i], order[i + 1], order[j]
            s = order[j + 1] if j + 1 < n else -1
            # Replace edges (p,q) and (r,s) by (p,r) and (q,s).
            before = dist(p, q) + (dist(r, s) if s >= 0 else 0.0)
            after = dist(p, r) + (dist(q, s) if s >= 0 else 0.0)
            if after < before - 1e-6:
                order[i + 1:j + 1] = order[i + 1:j + 1][::-1].copy()
                pos[order[i + 1:j + 1]] = np.arange(i + 1, j + 1)
                gained += before - after
        # A pass that shortens the chain by less than 0.001% ends the work.
        if gained <= 1e-5 * length or time.perf_counter() > deadline:
            break
        length -= gained
    return order
