"""Near-duplicate groups of a big library, from its reduced space.

The neighbour graph of the reduced rows (``search/space.py``) gives the
candidate pairs: no pair farther there is close in full. Their full
vectors are read again for the exact distances, the second check runs a
batch of pairs at a time, and the linked sets are grouped a batch at a
time (``streamed.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from beets.exceptions import UserError

from ..library import vectors
from ..progress import Progress
from ..search.exact import prepare, row_distances
from ..search.space import VECTORS_GONE, Space, stage
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
    rule of :func:`.near.near_groups`: pairs closer than
    ``threshold`` in the reduced space are candidates (no pair farther
    there is close in full), confirmed on the full vectors. With a
    ``check``, pairs up to its candidate distance are candidates too: their
    full distances are measured and the check run, ``batch`` pairs at a
    time, and only the pairs it accepts link pictures; frames of one burst
    (within ``burst_gap`` seconds) are checked at any distance."""
    n, k = space.neighbours.shape
    reach = threshold if check is None else max(threshold, check.candidate)
    maybe = (space.d2 / 2.0 < reach * (1 + 1e-4) + 1e-6).reshape(-1)
    rows = np.repeat(np.arange(n), k)[maybe]
    cols = space.neighbours.reshape(-1)[maybe]
    head_ids = sel.ids[space.heads]

    def load(points: np.ndarray) -> np.ndarray:
        found, rows = vectors.load(lib, key, head_ids[points].tolist())
        if len(found) < len(points):
            raise UserError(VECTORS_GONE)
        return prepare(rows, "cosine")

    rule = near_rule(sel, space.heads, threshold, check, burst_gap)
    if check is not None:
        reduced_d = space.d2.reshape(-1)[maybe] / 2.0
        a, b = rule.frames.pairs()  # frames of one burst, whatever their distance
        rows, cols = np.concatenate([rows, a]), np.concatenate([cols, b])
        reduced_d = np.concatenate([reduced_d, row_distances(space.reduced, a, b) ** 2 / 2.0])
        with stage(f"second check of {len(rows)} candidate pairs"):
            rows, cols = _checked_pairs(rows, cols, reduced_d, threshold, rule, load, batch)
    with stage(f"near-duplicate groups from {len(rows)} candidate pairs"):
        try:
            return streamed_groups(n, rows, cols, threshold, load, rule=rule)
        except ValueError as exc:  # a threshold far too high
            raise UserError(str(exc)) from None


def _checked_pairs(rows: np.ndarray, cols: np.ndarray, reduced_d: np.ndarray,
                   threshold: float, rule: Rule, load, batch: int):
    """The candidate pairs that may link pictures: those under the strict
    threshold in the reduced space, and those past it that are under the
    candidate distance in full and that the check accepts."""
    sure = threshold  # closer: near without the check
    apart = rule.kept_apart(rows, cols)  # never linked, never checked
    near = (reduced_d < sure * (1 + 1e-4) + 1e-6) & ~apart
    keep = near.copy()
    loose = np.flatnonzero(~near & ~apart)
    progress = Progress(len(loose), "second check") if len(loose) > batch else None
    for lo in range(0, len(loose), batch):
        at = loose[lo:lo + batch]
        points, local = np.unique(np.concatenate([rows[at], cols[at]]), return_inverse=True)
        x = load(points)
        d = row_distances(x, local[:len(at)], local[len(at):]) ** 2 / 2.0
        near_full = d < sure
        ask = np.flatnonzero(~near_full & rule.reaches(rows[at], cols[at], d))
        keep[at[near_full]] = True
        if len(ask):
            keep[at[ask[rule.check(rows[at[ask]], cols[at[ask]])]]] = True
        if progress is not None:
            progress.update(len(at))
    if progress is not None:
        progress.close()
    return rows[keep], cols[keep]
