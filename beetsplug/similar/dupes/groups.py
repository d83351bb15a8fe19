"""Near-duplicate groups: photos that are all within a threshold of each other.

Pure: NumPy and SciPy. Groups never chain: in every group, every two
photos are closer than the threshold (complete linkage). Candidate pairs
come from each photo's nearest neighbours; the groups are formed within
each connected set of candidates, and a photo that would fit two groups
goes to the one it is closer to (on average).
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from ..order.chain import knn, prepare


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def distances(x: np.ndarray, metric: str) -> np.ndarray:
    """All pairwise distances of prepared rows: cosine distance (1 - cos)
    for unit rows, else Euclidean."""
    sq = np.einsum("ij,ij->i", x, x)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    return d2 / 2.0 if metric == "cosine" else np.sqrt(d2)


def _complete_groups(x: np.ndarray, threshold: float, metric: str) -> list[list[int]]:
    """Complete-linkage groups of the rows of ``x`` (one candidate component)."""
    d = distances(x, metric).astype(np.float64)
    labels = fcluster(linkage(squareform(d, checks=False), "complete"), threshold,
                      criterion="distance")
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        groups.setdefault(int(label), []).append(row)
    groups = _to_closer(list(groups.values()), d, threshold)
    return [g for g in groups if len(g) > 1]


def _to_closer(groups: list[list[int]], d: np.ndarray, threshold: float) -> list[list[int]]:
    """Move a photo to another group it fits in (within the threshold of all
    its members) when it is closer to that group on average."""
    moved, passes = True, 0
    while moved and passes < 10:  # each pass only moves photos closer; a bound all the same
        moved, passes = False, passes + 1
        for g in groups:
            for i in list(g):
                if len(g) < 2:
                    continue
                mates = [j for j in g if j != i]
                here = d[i, mates].mean()
                for h in groups:
                    if h is g or not h or d[i, h].max() >= threshold:
                        continue
                    if d[i, h].mean() < here - 1e-12:
                        g.remove(i)
                        h.append(i)
                        moved = True
                        break
    return groups


def _pair_sq_distances(x: np.ndarray, neighbours: np.ndarray, block: int = 512) -> np.ndarray:
    """Squared distances from each row to its neighbours, (n, k), a block of
    rows at a time: never n x k full vectors at once."""
    sq = np.einsum("ij,ij->i", x, x)
    out = np.empty(neighbours.shape, dtype=np.float32)
    for lo in range(0, len(x), block):
        nb = neighbours[lo:lo + block]
        dots = np.einsum("ij,ikj->ik", x[lo:lo + block], x[nb])
        out[lo:lo + block] = np.maximum(sq[lo:lo + block, None] + sq[nb] - 2.0 * dots, 0.0)
    return out


def near_groups(vectors: np.ndarray, threshold: float, metric: str = "cosine",
                k: int = 16, neighbours: np.ndarray | None = None) -> list[list[int]]:
    """Groups (two or more rows each) in which every two rows are within
    ``threshold`` of each other.

    For ``cosine`` the threshold is a cosine distance (1 - cosine
    similarity), for ``euclidean`` a plain distance. ``neighbours`` gives
    each row's candidate rows (default: its ``k`` exact nearest). Groups
    are sorted by their first member; members in row order.
    """
    n = len(vectors)
    if n < 2:
        return []
    x = prepare(vectors, metric)
    if neighbours is None:
        neighbours, _ = knn(x, k)
    rows = np.repeat(np.arange(n), neighbours.shape[1])
    cols = neighbours.reshape(-1)
    d2 = _pair_sq_distances(x, neighbours).reshape(-1)
    close = (d2 / 2.0 if metric == "cosine" else np.sqrt(d2)) < threshold
    close &= rows != cols
    parent = np.arange(n)
    for i, j in zip(rows[close], cols[close]):
        a, b = _find(parent, int(i)), _find(parent, int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    components: dict[int, list[int]] = {}
    for i in range(n):
        components.setdefault(_find(parent, i), []).append(i)
    out = []
    for members in components.values():
        if len(members) > 1:
            idx = np.array(members)
            out += [sorted(idx[g].tolist()) for g in _complete_groups(x[idx], threshold, metric)]
    return sorted(out, key=lambda g: g[0])


def pair_distances(vectors: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Distance between each row and the next (chain neighbours)."""
    x = prepare(vectors, metric)
    if len(x) < 2:
        return np.zeros(0, dtype=np.float32)
    d = np.sqrt(((x[1:] - x[:-1]) ** 2).sum(axis=1))
    return d * d / 2.0 if metric == "cosine" else d
