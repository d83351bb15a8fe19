"""Big libraries: the chain of units in the reduced space.

The reduced rows and the neighbour graph of the selection's pictures
(``search/space.py``), mapped onto the chain's units (near-duplicate
groups, exact copies, single photos), give the chain's points and
neighbour lists; the near-duplicate groups come from the same graph
(``grouping/reduced.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..search import graph
from ..search.exact import row_distances
from ..search.space import Space, stage
from .chain import ChainResult, chain_length, improve, reduced_chain


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
