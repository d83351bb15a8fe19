"""Near-duplicate groups of confirmed pairs.

Pure: NumPy and SciPy. With the second check, the network only proposes
candidates: a candidate pair links two photos when the check confirms it
(where the check cannot read a photo, when it is closer than the strict
threshold). A group is a connected set of links: a series whose far
frames no longer match (a pan, a focus stack, a camera's frames through
a day) stays one group, each frame linked to the next. It is guarded
against a chain through one bad link, which would join two scenes:

* two photos the user keeps apart are never in one group;
* the group's two photos farthest apart for the network (its far ends)
  must share something (a link, or weaker evidence of the check,
  ``Judge.loosely``), or be held together strongly: where they share
  nothing, the group is split at its weakest cut between them (the links
  of least total strength whose removal parts them: a minimum cut, by
  maximum flow) when that cut is weaker than ``WEAK_CUT``.

What the guard saves, measured on real photos with a check loosened
until it confirms wrong pairs, is in docs/precision.md.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from ..search.exact import metric_distances
from .linked import components, linked_sets
from .rule import Rule, accepted

UNCHECKED = 1.0  # strength of a link on the network's word (a photo the check cannot read)
CAPACITY = 100  # strengths are integer capacities of the maximum flow: this per unit
# Far ends that share nothing are parted when less holds them together:
# one link of fewer than 30 inliers (at the check's 240 px), or of a
# likeness under 0.62.
WEAK_CUT = 1.2


def confirmed_groups(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, threshold: float,
                     rule: Rule, metric: str = "cosine") -> list[list[int]]:
    """Groups of the prepared rows ``x`` from the candidate pairs (rows[i],
    cols[i]): the pairs ``rule`` confirms link rows, and each linked set
    is a group once guarded (see the module). Groups are sorted by their
    first member; members in row order."""
    lo, hi, strength = links(x, rows, cols, threshold, rule, metric)
    labels = components(len(x), lo, hi)
    by_set = np.argsort(labels[lo], kind="stable")
    lo, hi, strength = lo[by_set], hi[by_set], strength[by_set]
    set_of_link = labels[lo]
    count = np.bincount(set_of_link, minlength=len(x))  # links of each set
    local = np.empty(len(x), dtype=np.int64)
    out = []
    for members in linked_sets(labels):
        label, m = labels[members[0]], len(members)
        if count[label] == m * (m - 1) // 2:  # every two linked: nothing to guard
            out.append(sorted(members.tolist()))
            continue
        ours = slice(np.searchsorted(set_of_link, label),
                     np.searchsorted(set_of_link, label, side="right"))
        local[members] = np.arange(m)
        out += [sorted(members[g].tolist()) for g in _guarded(
            x[members], local[lo[ours]], local[hi[ours]], strength[ours], threshold,
            rule.on(members), metric)]
    return sorted(out, key=lambda g: g[0])


def links(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, threshold: float, rule: Rule,
          metric: str = "cosine") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, strength) of the candidate pairs that link: each distinct
    pair once, lo < hi."""
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    keep = lo != hi
    pair = np.unique(lo[keep] * len(x) + hi[keep])
    lo, hi = pair // max(len(x), 1), pair % max(len(x), 1)
    asked = ~rule.kept_apart(lo, hi)
    ok = np.zeros(len(lo), dtype=bool)
    ok[asked] = accepted(rule.judge, lo[asked], hi[asked])
    strength = np.zeros(len(lo), dtype=np.float64)
    strength[ok] = rule.judge.strength(lo[ok], hi[ok])
    unread = asked & ~ok
    unread[unread] = metric_distances(x, lo[unread], hi[unread], metric) < threshold
    unread[unread] = rule.judge.unchecked(lo[unread], hi[unread])
    strength[unread] = UNCHECKED
    linked = ok | unread
    return lo[linked], hi[linked], strength[linked]


def _guarded(x: np.ndarray, a: np.ndarray, b: np.ndarray, strength: np.ndarray,
             threshold: float, rule: Rule, metric: str) -> list[np.ndarray]:
    """The groups of one linked set (rows ``x``, links (a[i], b[i])): its
    connected parts, cut until each passes the guards."""
    alive = np.ones(len(a), dtype=bool)
    settled: set[tuple[int, int]] = set()  # far ends found to share something
    for _ in range(len(a) + 1):  # each round cuts a link at least
        parts = linked_sets(components(len(x), a[alive], b[alive]))
        cuts = [pair for part in parts
                if (pair := _unguarded(x, part, a, b, alive, threshold, rule, metric,
                                       settled)) is not None]
        if not cuts:
            return parts
        for u, v, always in cuts:
            cut = _min_cut(len(x), a, b, strength, alive, u, v)
            if always or strength[cut].sum() < WEAK_CUT:
                alive[cut] = False
            else:
                settled.add((u, v))
    return linked_sets(components(len(x), a[alive], b[alive]))


def _unguarded(x, part, a, b, alive, threshold, rule, metric, settled):
    """Two photos of ``part`` that may not stay in one group, and whether
    they must be parted whatever holds them (kept apart) or only when
    weakly held (far ends that share nothing); None when there are none."""
    if rule.apart is not None:
        i, j = np.triu_indices(len(part), 1)
        apart = np.flatnonzero(rule.kept_apart(part[i], part[j]))
        if len(apart):
            return int(part[i[apart[0]]]), int(part[j[apart[0]]]), True
    if len(part) < 3:
        return None
    u, v = _far_ends(x[part])
    u, v = int(part[u]), int(part[v])
    if (u, v) in settled:
        return None
    linked = alive & (((a == u) & (b == v)) | ((a == v) & (b == u)))
    if linked.any() or _loosely(x, u, v, threshold, rule, metric):
        settled.add((u, v))
        return None
    return u, v, False


def _loosely(x, u, v, threshold, rule, metric) -> bool:
    """Whether the check finds weaker evidence for the pair (u, v); where
    it cannot read a photo, whether the network puts them under the
    strict threshold."""
    a, b = np.array([u]), np.array([v])
    if rule.judge.loosely(a, b)[0]:
        return True
    return bool(rule.judge.unchecked(a, b)[0]
                and metric_distances(x, a, b, metric)[0] < threshold)


def _far_ends(x: np.ndarray) -> tuple[int, int]:
    """Two rows far apart: the one farthest from the mean, and the one
    farthest from it (the usual estimate of a set's diameter, linear)."""
    def farthest(point: np.ndarray) -> int:
        d = x - point
        return int(np.argmax(np.einsum("ij,ij->i", d, d)))

    u = farthest(x.mean(axis=0))
    return u, farthest(x[u])


def _min_cut(n: int, a: np.ndarray, b: np.ndarray, strength: np.ndarray, alive: np.ndarray,
             u: int, v: int) -> np.ndarray:
    """The links (indices into ``a``, ``b``) of least total strength whose
    removal parts ``u`` from ``v``."""
    at = np.flatnonzero(alive)
    capacity = np.maximum(1, np.round(strength[at] * CAPACITY)).astype(np.int32)
    graph = csr_matrix((np.concatenate([capacity, capacity]),
                        (np.concatenate([a[at], b[at]]), np.concatenate([b[at], a[at]]))),
                       shape=(n, n))
    residual = (graph - maximum_flow(graph, u, v).flow).tocsr()
    residual.data = (residual.data > 0).astype(np.int8)
    residual.eliminate_zeros()
    side = np.zeros(n, dtype=bool)
    side[breadth_first_order(residual, u, directed=True, return_predecessors=False)] = True
    return at[side[a[at]] != side[b[at]]]
