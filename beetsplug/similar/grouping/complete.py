"""Near-duplicate groups of candidate pairs, by complete linkage.

Pure: NumPy and SciPy. Groups never chain: in every group, every two
photos are closer than the threshold (complete linkage). The candidate
pairs link photos into sets; the groups are formed within each set, and
a photo that would fit two groups goes to the one it is closer to (on
average).

With a second check (``rule.Rule``), a pair is near-duplicate when it is
closer than the strict threshold, or closer than the looser candidate
threshold and the check accepts it; only such candidate pairs are
checked, and two frames of one burst (``frames.py``) at any distance.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform

from ..search.exact import distances, metric_distances
from .linked import components, linked_sets
from .rule import FAR, Rule


def _complete_groups(x: np.ndarray, threshold: float, metric: str,
                     d: np.ndarray | None = None) -> list[list[int]]:
    """Complete-linkage groups of the rows of ``x`` (one candidate
    component), by their distances ``d`` (default: computed)."""
    if d is None:
        d = distances(x, metric).astype(np.float64)
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
    """Groups of the prepared rows ``x``, from candidate pairs: the pairs
    within ``threshold`` link rows, and each linked set is split by
    complete linkage so that every two rows of a group are within it.
    With a ``rule``, pairs it accepts count as within the threshold."""
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    if rule is not None:
        return _checked_groups(x, rows, cols, threshold, metric, rule)
    close = metric_distances(x, rows, cols, metric) < threshold
    out = []
    by_size: dict[int, list[np.ndarray]] = {}
    for members in linked_sets(components(len(x), rows[close], cols[close])):
        by_size.setdefault(len(members), []).append(members)
    for size, same in sorted(by_size.items()):
        whole = _within(x, np.stack(same), threshold, metric) if size <= 8 else \
            np.zeros(len(same), dtype=bool)
        for members, one_group in zip(same, whole):
            if one_group:  # every two within the threshold: one group as it is
                out.append(sorted(members.tolist()))
            else:
                out += [sorted(members[g].tolist())
                        for g in _complete_groups(x[members], threshold, metric)]
    return sorted(out, key=lambda g: g[0])


def _checked_groups(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, threshold: float,
                    metric: str, rule: Rule) -> list[list[int]]:
    """:func:`pair_groups` by ``rule``: accepted candidate pairs link rows;
    in each linked set, the pairs not yet checked are checked, and an
    accepted pair counts as within the threshold (its distance scaled by
    threshold / candidate, so nearer pairs stay nearer), any other pair
    beyond the candidate threshold as far."""
    sure = threshold  # closer: near without the check
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    lo, hi = np.unique(np.stack([lo, hi]), axis=1) if len(lo) else (lo, hi)
    d = metric_distances(x, lo, hi, metric)
    d[rule.kept_apart(lo, hi)] = FAR
    verdict: dict[tuple[int, int], bool] = {}
    maybe = np.flatnonzero((d >= sure) & rule.reaches(lo, hi, d))
    ok = rule.check(lo[maybe], hi[maybe]) if len(maybe) else np.zeros(0, bool)
    verdict.update(zip(zip(lo[maybe].tolist(), hi[maybe].tolist()), ok.tolist()))
    linked = d < sure
    linked[maybe[ok]] = True
    sets = linked_sets(components(len(x), lo[linked], hi[linked]))
    out, sets = _whole_sets(x, sets, sure, metric, rule)
    # The other pairs inside the linked sets that need the check, all at once.
    matrices, ask = [], []
    for members in sets:
        m = distances(x[members], metric).astype(np.float64) if len(members) > 2 else None
        reached = None
        if m is not None and rule.apart is not None:
            i, j = np.triu_indices(len(members), 1)
            sep = rule.kept_apart(members[i], members[j])
            m[i[sep], j[sep]] = m[j[sep], i[sep]] = FAR
        if m is not None:
            reached = i, j = _reached(m, members, sure, rule)
            ask += [(a, b) for a, b in zip(members[i].tolist(), members[j].tolist())
                    if (min(a, b), max(a, b)) not in verdict]
        matrices.append((m, reached))
    if ask:
        a, b = np.array(ask).T
        verdict.update(zip(ask, rule.check(a, b).tolist()))
    for members, (m, reached) in zip(sets, matrices):
        if m is None:  # two rows linked by their pair: a group
            out.append(sorted(members.tolist()))
            continue
        eff = np.where(m < sure, m, FAR)
        i, j = reached
        for a, b in zip(i.tolist(), j.tolist()):
            pa, pb = int(members[a]), int(members[b])
            if verdict.get((pa, pb), verdict.get((pb, pa), False)):
                eff[a, b] = eff[b, a] = rule.linked_at(m[a, b], sure)
        np.fill_diagonal(eff, 0.0)
        out += [sorted(members[g].tolist()) for g in _complete_groups(None, sure, metric, eff)]
    return sorted(out, key=lambda g: g[0])


def _reached(m: np.ndarray, members: np.ndarray, sure: float, rule: Rule,
             ) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (i < j) of a linked set, with distances ``m`` (FAR when
    kept apart), that are past ``sure`` and may be checked."""
    i, j = np.nonzero(np.triu(m >= sure, 1))
    keep = rule.reaches(members[i], members[j], m[i, j])
    return i[keep], j[keep]


def _whole_sets(x: np.ndarray, sets: list[np.ndarray], threshold: float, metric: str,
                rule: Rule) -> tuple[list[list[int]], list[np.ndarray]]:
    """(the linked ``sets`` that are one group as they are: of at most 8
    rows, every two within ``threshold`` and none kept apart; the other
    sets), measured all at once by size rather than one set at a time."""
    whole: list[list[int]] = []
    rest: list[np.ndarray] = []
    by_size: dict[int, list[np.ndarray]] = {}
    for members in sets:
        if 2 < len(members) <= 8:
            by_size.setdefault(len(members), []).append(members)
        else:
            rest.append(members)
    for size, same in by_size.items():
        stacked = np.stack(same)
        ok = _within(x, stacked, threshold, metric)
        if rule.apart is not None and ok.any():
            i, j = np.triu_indices(size, 1)
            sep = rule.kept_apart(stacked[:, i].reshape(-1), stacked[:, j].reshape(-1))
            ok &= ~sep.reshape(len(same), -1).any(axis=1)
        whole += [sorted(m.tolist()) for m, one in zip(same, ok) if one]
        rest += [m for m, one in zip(same, ok) if not one]
    return whole, rest


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
