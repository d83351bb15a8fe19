"""Near-duplicate groups of a big library, from its reduced space.

The neighbour graph of the reduced rows (``search/space.py``) gives the
candidate pairs: each picture's nearest, and the pairs close enough
there (no pair farther there is close in full). Their full vectors are
read again for the exact distances, the second check runs a batch of
pairs at a time, and the linked sets are grouped a batch at a time
(``streamed.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from beets.exceptions import UserError

from ..library import vectors
from ..search.exact import metric_distances, prepare, row_distances
from ..search.space import VECTORS_GONE, Space, stage
from .job import near_rule
from .rule import NearCheck, Rule, accepted
from .streamed import streamed_groups

if TYPE_CHECKING:
    from beets.library import Library

    from ..library.selection import Selection


def near_groups(lib: Library, key: str, sel: Selection, space: Space,
                threshold: float, check: NearCheck | None = None,
                burst_gap: float = 2.0, batch: int = 5_000) -> list[list[int]]:
    """Near-duplicate groups as heads (indices into ``space.heads``), by the
    rule of :func:`.near.near_groups`. By the network alone, pairs closer
    than ``threshold`` in the reduced space are candidates (no pair
    farther there is close in full), confirmed on the full vectors. With
    a ``check``, each picture's nearest neighbours in the graph, the pairs
    under its candidate distance and frames of one burst (within
    ``burst_gap`` seconds) are candidates: their full distances are
    measured and the check run, ``batch`` pairs at a time, and only the
    pairs it confirms link pictures."""
    n, k = space.neighbours.shape
    reach = threshold if check is None else max(threshold, check.candidate)
    maybe = space.d2 / 2.0 < reach * (1 + 1e-4) + 1e-6
    if check is not None:
        maybe[:, :check.nearest] = True
    rows = np.repeat(np.arange(n), k)[maybe.reshape(-1)]
    cols = space.neighbours[maybe]
    head_ids = sel.ids[space.heads]

    def load(points: np.ndarray) -> np.ndarray:
        found, rows = vectors.load(lib, key, head_ids[points].tolist())
        if len(found) < len(points):
            raise UserError(VECTORS_GONE)
        return prepare(rows, "cosine")

    rule = near_rule(sel, space.heads, threshold, check, burst_gap)
    if check is not None:
        nearest = np.zeros((n, k), dtype=bool)
        nearest[:, :check.nearest] = True
        reduced_d = space.d2[maybe] / 2.0
        a, b = rule.frames.pairs()  # frames of one burst, whatever their distance
        rows, cols = np.concatenate([rows, a]), np.concatenate([cols, b])
        nearest = np.concatenate([nearest[maybe], np.ones(len(a), dtype=bool)])
        reduced_d = np.concatenate([reduced_d,
                                    row_distances(space.reduced, a, b) ** 2 / 2.0])
        with stage(f"second check of {len(rows)} candidate pairs"):
            rows, cols = _checked_pairs(rows, cols, reduced_d, nearest, threshold, rule, load,
                                        batch)
    with stage(f"near-duplicate groups from {len(rows)} candidate pairs"):
        try:
            return streamed_groups(n, rows, cols, threshold, load, rule=rule)
        except ValueError as exc:  # a threshold far too high
            raise UserError(str(exc)) from None


def _checked_pairs(rows: np.ndarray, cols: np.ndarray, reduced_d: np.ndarray,
                   asked: np.ndarray, threshold: float, rule: Rule, load, batch: int,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs that may link pictures: those the check confirms
    among the ``asked`` ones (a picture's nearest, frames of one burst) and
    the others under the candidate distance in full (only these have their
    vectors read: the reduced space only shortens distances); and, where
    the check cannot read a picture, the pairs under the strict threshold
    in the reduced space (measured in full when grouped, by
    :func:`.confirmed.links`, as are all)."""
    apart = rule.kept_apart(rows, cols)
    maybe = np.flatnonzero(~asked & ~apart & (reduced_d < rule.candidate * (1 + 1e-4) + 1e-6))
    ask = asked & ~apart
    for lo in range(0, len(maybe), batch):
        at = maybe[lo:lo + batch]
        points, local = np.unique(np.concatenate([rows[at], cols[at]]), return_inverse=True)
        x = load(points)
        ask[at] = metric_distances(x, local[:len(at)], local[len(at):], "cosine") < rule.candidate
    at = np.flatnonzero(ask)
    ok = np.zeros(len(rows), dtype=bool)
    ok[at] = accepted(rule.judge, rows[at], cols[at], batch)
    unread = ~ok & ~apart & (reduced_d < threshold * (1 + 1e-4) + 1e-6)
    unread[unread] = rule.judge.unchecked(rows[unread], cols[unread])
    keep = ok | unread
    return rows[keep], cols[keep]
