"""Exact distances and nearest neighbours of rows held in memory.

Pure: NumPy. What grouping and ordering both measure: rows prepared for
a metric, every distance among a few rows, the distance of given pairs,
and each row's exact nearest neighbours (blocked matrix products).
"""

from __future__ import annotations

import numpy as np

METRICS = ("euclidean", "cosine")


def prepare(vectors: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """float32 copy; for cosine, unit rows (so Euclidean order = cosine order)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    x = np.array(vectors, dtype=np.float32, copy=True)
    if x.ndim != 2:
        raise ValueError("vectors must be a 2-D array")
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x /= np.where(norms > 0, norms, 1)
    return x


def sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def knn(x: np.ndarray, k: int, block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row (itself excluded).

    Returns (indices, distances), each (n, k), nearest first; ties go to
    the lower index. Blocked so memory is ``block * n`` floats.
    """
    n = len(x)
    k = min(k, n - 1)
    idx = np.empty((n, max(k, 0)), dtype=np.int64)
    dist = np.empty((n, max(k, 0)), dtype=np.float32)
    if k <= 0:
        return idx, dist
    norms = sq_norms(x)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        d2 = norms[lo:hi, None] + norms[None, :] - 2.0 * (x[lo:hi] @ x.T)
        d2[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        pd = np.take_along_axis(d2, part, axis=1)
        # Sort by distance, then index, for deterministic ties.
        order = np.lexsort((part, pd), axis=1)
        idx[lo:hi] = np.take_along_axis(part, order, axis=1)
        dist[lo:hi] = np.sqrt(np.maximum(np.take_along_axis(pd, order, axis=1), 0))
    return idx, dist


def distances(x: np.ndarray, metric: str) -> np.ndarray:
    """All pairwise distances of prepared rows: cosine distance (1 - cos)
    for unit rows, else Euclidean."""
    sq = sq_norms(x)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    return d2 / 2.0 if metric == "cosine" else np.sqrt(d2)


def row_distances(x: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``|x[u] - x[v]|`` for index arrays, a block at a time (16 MB)."""
    out = np.empty(len(u), dtype=np.float32)
    block = max(1024, (1 << 22) // max(1, x.shape[1]))
    for lo in range(0, len(u), block):
        d = x[u[lo:lo + block]] - x[v[lo:lo + block]]
        out[lo:lo + block] = np.sqrt(np.einsum("ij,ij->i", d, d))
    return out


def metric_distances(x: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                     metric: str) -> np.ndarray:
    """Distance of each pair (rows[i], cols[i]) of prepared rows ``x``."""
    d = row_distances(x, rows, cols)
    return d * d / 2.0 if metric == "cosine" else d


def pair_distances(vectors: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Distance between each row and the next (chain neighbours)."""
    x = prepare(vectors, metric)
    if len(x) < 2:
        return np.zeros(0, dtype=np.float32)
    d = np.sqrt(((x[1:] - x[:-1]) ** 2).sum(axis=1))
    return d * d / 2.0 if metric == "cosine" else d
