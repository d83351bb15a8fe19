"""Big libraries: vectors read once, reduced as they stream, one graph.

Memory grows with the reduced dimension (64), not the stored one: each
distinct picture's vector is read from the database a block at a time
and projected (``search/reduce.py``); one neighbour graph over the
reduced rows (``search/graph.py``) gives the near-duplicate candidates
and, mapped onto the chain's units, the chain's neighbour lists. Full
vectors are read again only for the candidates' exact distances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from beets.exceptions import UserError

from ..dupes.groups import Rule
from ..dupes.streamed import streamed_groups
from ..library import vectors
from ..progress import Progress
from ..search import graph
from .chain import ChainResult, chain_length, improve, prepare, reduced_chain
from .space import VECTORS_GONE, Space, build, stage
from .two_opt import row_distances

__all__ = ["Space", "build", "chain", "near_groups"]  # Space and build: from space.py

if TYPE_CHECKING:
    from beets.library import Library

    from ..dupes.job import NearCheck
    from ..library.selection import Selection


def near_groups(lib: Library, key: str, sel: Selection, space: Space,
                threshold: float, check: NearCheck | None = None,
                burst_gap: float = 2.0, batch: int = 5_000) -> list[list[int]]:
    """Near-duplicate groups as heads (indices into ``space.heads``), by the
    rule of :func:`..dupes.groups.near_groups`: pairs closer than
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

    from ..dupes.job import near_rule  # (dupes.job imports this module)

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


def _unit_neighbours(unit_of: np.ndarray, neighbours: np.ndarray, x: np.ndarray,
                     k: int) -> np.ndarray:
    """Each unit's ``k`` nearest other units among its heads' graph
    neighbours, by distance in ``x``; a unit with fewer lists itself in
    the place of the rest (it is used by then)."""
    units = len(x)
    src = np.repeat(unit_of, neighbours.shape[1]).astype(np.int64)
    dst = unit_of[neighbours.reshape(-1)].astype(np.int64)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    pair = np.unique(src * units + dst)  # one of each (unit, neighbour unit)
    src, dst = pair // units, pair % units
    return graph.nearest_lists(np.arange(units), src, dst, row_distances(x, src, dst), k)[0]


@dataclass
class Chained:
    units: list[np.ndarray]  # selection rows of each unit
    result: ChainResult  # over the units, lengths in the reduced space
    greedy_length: float
    heads_x: np.ndarray  # each head's reduced row in the chain's metric


def chain(space: Space, near: list[list[int]], metric: str, improve_chain: bool,
          start_row: int | None = None, k: int = 16, improve_seconds: float = 30.0) -> Chained:
    """Chain the units (near groups, exact copies, single photos) in the
    reduced space: a unit's point is its heads' mean, its neighbour list
    its heads' graph neighbours, as units. The chain starts at the unit of
    selection row ``start_row``, by default at an outlier."""
    h = len(space.heads)
    heads_x = space.reduction.metric_rows(space.reduced, space.norms, metric)
    unit_of = np.full(h, -1, dtype=np.int64)
    for u, group in enumerate(near):
        unit_of[group] = u
    alone = np.flatnonzero(unit_of < 0)
    unit_of[alone] = len(near) + np.arange(len(alone))
    by_unit = np.argsort(unit_of, kind="stable")
    bounds = np.searchsorted(unit_of[by_unit], np.arange(len(near) + len(alone) + 1))
    sums = np.add.reduceat(heads_x[by_unit], bounds[:-1], axis=0)
    unit_x = (sums / np.diff(bounds)[:, None]).astype(np.float32)
    unit_heads = np.split(by_unit, bounds[1:-1])
    units = [space.rows_of(members) for members in unit_heads]
    start_at = None
    if start_row is not None:
        start_at = next(u for u, rows in enumerate(units) if start_row in rows)
    with stage(f"chain of {len(units)} units"):
        result = reduced_chain(
            unit_x, _unit_neighbours(unit_of, space.neighbours, unit_x, k), start_at)
    greedy_length = result.length
    if improve_chain and len(unit_x) >= 4:
        with stage("2-opt"):
            result.order = improve(unit_x, result.order, result.neighbours[:, :8],
                                   improve_seconds)
        result.length = chain_length(unit_x, result.order)
    return Chained(units, result, greedy_length, heads_x)
