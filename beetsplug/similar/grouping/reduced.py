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
from ..progress import Progress
from ..search.exact import metric_distances, prepare
from ..search.space import VECTORS_GONE, Space, stage
from .confirmed import links
from .job import near_rule
from .rule import NearCheck, Rule
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
        nearest = nearest[maybe]
        a, b = rule.frames.pairs()  # frames of one burst, whatever their distance
        rows, cols = np.concatenate([rows, a]), np.concatenate([cols, b])
        nearest = np.concatenate([nearest, np.ones(len(a), dtype=bool)])
        with stage(f"second check of {len(rows)} candidate pairs"):
            rows, cols = _checked_pairs(rows, cols, nearest, threshold, rule, load, batch)
    with stage(f"near-duplicate groups from {len(rows)} candidate pairs"):
        try:
            return streamed_groups(n, rows, cols, threshold, load, rule=rule)
        except ValueError as exc:  # a threshold far too high
            raise UserError(str(exc)) from None


def _checked_pairs(rows: np.ndarray, cols: np.ndarray, asked: np.ndarray, threshold: float,
                   rule: Rule, load, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs that link pictures (see :func:`.confirmed.links`):
    those ``asked`` (a picture's nearest, frames of one burst) and the
    others that are under the candidate distance in full."""
    progress = Progress(len(rows), "second check") if len(rows) > batch else None
    linked_rows, linked_cols = [rows[:0]], [cols[:0]]
    for lo in range(0, len(rows), batch):
        at = slice(lo, lo + batch)
        points, local = np.unique(np.concatenate([rows[at], cols[at]]), return_inverse=True)
        x = load(points)
        a, b = local[:len(local) // 2], local[len(local) // 2:]
        ask = asked[at] | (metric_distances(x, a, b, "cosine") < rule.candidate)
        first, second, _ = links(x, a[ask], b[ask], threshold, rule.on(points))
        linked_rows.append(points[first])
        linked_cols.append(points[second])
        if progress is not None:
            progress.update(len(a))
    if progress is not None:
        progress.close()
    return np.concatenate(linked_rows), np.concatenate(linked_cols)
