"""Near-duplicate groups of candidate pairs: the network alone, by
complete linkage; with the second check, by ``confirmed.py``.

Pure: NumPy and SciPy. On the network's word alone, groups never chain:
in every group, every two photos are closer than the threshold (complete
linkage). The candidate pairs link photos into sets; the groups are
formed within each set, and a photo that would fit two groups goes to
the one it is closer to (on average). Pairs the user keeps apart are
never in one group.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform

from ..search.exact import distances, metric_distances
from .confirmed import confirmed_groups
from .linked import components, linked_sets
from .rule import FAR, Rule


def _complete_groups(d: np.ndarray, threshold: float) -> list[list[int]]:
    """Complete-linkage groups of one candidate set, by the distances ``d``
    among its rows."""
    # Complete linkage merges at rising heights: the groups at ``threshold``
    # are the merges up to it (as ``fcluster(..., criterion="distance")``,
    # without its checks, which cost more than the linkage here).
    n = len(d)
    members = {i: [i] for i in range(n)}
    for k, (a, b, height, _) in enumerate(linkage(squareform(d, checks=False), "complete")):
        if height > threshold:
            break
        members[n + k] = members.pop(int(a)) + members.pop(int(b))
    groups = sorted((sorted(g) for g in members.values()), key=lambda g: g[0])
    if len(groups) > 1:
        groups = _to_closer(groups, d, threshold)
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


def pair_groups(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, threshold: float,
                metric: str = "cosine", rule: Rule | None = None) -> list[list[int]]:
    """Groups of the prepared rows ``x``, from candidate pairs. By the
    network alone, the pairs within ``threshold`` link rows, and each
    linked set is split by complete linkage so that every two rows of a
    group are within it. With a ``rule`` that checks, see
    :func:`.confirmed.confirmed_groups`."""
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    if rule is not None and rule.judge is not None:
        return confirmed_groups(x, rows, cols, threshold, rule, metric)
    apart = rule is not None and rule.apart is not None
    close = metric_distances(x, rows, cols, metric) < threshold
    if apart:
        close &= ~rule.kept_apart(rows, cols)
    out = []
    by_size: dict[int, list[np.ndarray]] = {}
    for members in linked_sets(components(len(x), rows[close], cols[close])):
        by_size.setdefault(len(members), []).append(members)
    for size, same in sorted(by_size.items()):
        stacked = np.stack(same)
        whole = _within(x, stacked, threshold, metric) if size <= 8 else \
            np.zeros(len(same), dtype=bool)
        if apart and whole.any():  # measured all at once by size
            i, j = np.triu_indices(size, 1)
            sep = rule.kept_apart(stacked[:, i].reshape(-1), stacked[:, j].reshape(-1))
            whole &= ~sep.reshape(len(same), -1).any(axis=1)
        for members, one_group in zip(same, whole):
            if one_group:  # every two within the threshold: one group as it is
                out.append(sorted(members.tolist()))
                continue
            d = distances(x[members], metric).astype(np.float64)
            if apart:
                i, j = np.triu_indices(len(members), 1)
                sep = rule.kept_apart(members[i], members[j])
                d[i[sep], j[sep]] = d[j[sep], i[sep]] = FAR
            out += [sorted(members[g].tolist()) for g in _complete_groups(d, threshold)]
    return sorted(out, key=lambda g: g[0])


def _within(x: np.ndarray, sets: np.ndarray, threshold: float, metric: str) -> np.ndarray:
    """For each row of ``sets`` (point indices, all of one size), whether
    every two of its points are within ``threshold``: all sets at once."""
    out = np.empty(len(sets), dtype=bool)
    block = max(1, (1 << 22) // (sets.shape[1] * x.shape[1]))  # 16 MB of vectors
    for lo in range(0, len(sets), block):
        v = x[sets[lo:lo + block]]  # (sets, size, dim)
        sq = np.einsum("sij,sij->si", v, v)
        d2 = sq[:, :, None] + sq[:, None, :] - 2.0 * np.einsum("sid,sjd->sij", v, v)
        d = d2 / 2.0 if metric == "cosine" else np.sqrt(np.maximum(d2, 0.0))
        out[lo:lo + block] = d.max(axis=(1, 2)) < threshold
    return out
