"""Big libraries: vectors read once, reduced as they stream, one graph.

Memory grows with the reduced dimension (64), not the stored one: each
distinct picture's vector is read from the database a block at a time
and projected (``search/reduce.py``); one neighbour graph over the
reduced rows (``search/graph.py``) gives the near-duplicate candidates
and, mapped onto the chain's units, the chain's neighbour lists. Full
vectors are read again only for the candidates' exact distances.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
from beets.dbcore.db import DBAccessError
from beets.exceptions import UserError

from ..dupes.groups import Rule
from ..dupes.streamed import streamed_groups
from ..library import vector_log, vectors
from ..progress import Progress
from ..search import graph, kept
from ..search.reduce import Reduction
from ..search.slots import Slots
from .chain import ChainResult, chain_length, improve, prepare, reduced_chain
from .two_opt import row_distances

if TYPE_CHECKING:
    from beets.library import Library

    from ..dupes.job import NearCheck
    from ..library.selection import Selection

SAMPLE = 20_000  # vectors the reduction is fitted on
VECTORS_GONE = "similar: photos were removed from the library while this ran; run it again"
log = logging.getLogger("beets")


@contextmanager
def _stage(name: str):
    """Log how long a stage took (seen with ``beet -v``)."""
    t0 = time.perf_counter()
    yield
    log.debug("similar: {} in {:.1f}s", name, time.perf_counter() - t0)


@dataclass
class Space:
    """The distinct pictures (one head row per content hash) of the
    featurized rows of a selection, reduced, with their neighbour graph."""

    heads: np.ndarray  # selection row of each distinct picture
    copies: list[np.ndarray]  # selection rows of each head's hash (head first)
    reduction: Reduction
    reduced: np.ndarray  # (heads, dims) reduced unit rows
    norms: np.ndarray  # (heads,) lengths of the stored vectors
    neighbours: np.ndarray  # (heads, k) approximate nearest heads
    d2: np.ndarray  # (heads, k) their squared distances in the reduced space

    def rows_of(self, heads) -> np.ndarray:
        """The selection rows of ``heads``, each head's copies after it."""
        return np.concatenate([self.copies[h] for h in heads])


def build(lib: Library, key: str, sel: Selection, featurized: np.ndarray,
          k: int = 16, seed: int = 0, say: Callable[[str], None] | None = None) -> Space:
    """The reduced space of the selection rows ``featurized``; from a big
    library's kept graph, brought up to date, where there is one
    (``search/kept.py``). ``say``: told what is done to the kept graph."""
    heads, copies = _pictures(sel, featurized)
    keep = None
    if len(heads) >= kept.MIN_PICTURES:
        keep = kept.Kept.of(lib.path, key, k, seed, SAMPLE)
    if keep is None:
        with _stage("reading and reducing vectors"):
            reduction, reduced, norms = _reduce(lib, key, sel.ids[heads], seed)
        with _stage(f"neighbour graph of {len(heads)} pictures"):
            neighbours, d2 = graph.neighbours(reduced, k, leading=True)
        return Space(heads, copies, reduction, reduced, norms, neighbours, d2)
    slots = kept_slots(lib, key, keep, sel.ids[heads], k, seed, say or (lambda _: None))
    return Space(heads, copies, slots.reduction, *slots.of(sel.ids[heads]))


def kept_slots(lib: Library, key: str, keep: kept.Kept, head_ids: np.ndarray,
               k: int, seed: int, say: Callable[[str], None]) -> Slots:
    """The slots of the pictures ``head_ids``: the kept ones brought up to
    date, or built from scratch; kept again when they changed."""
    seq = vector_log.position(lib)  # before any vector is read
    slots = keep.load()
    if slots is not None and keep.made != vector_log.kept_graph(lib, key):
        slots = None  # saved for another state of the database (a backup copied over it)
    changed = None if slots is None else vector_log.changed_since(lib, key, slots.seq)
    done = None
    if changed is not None:
        with _stage("bringing the kept neighbour graph up to date"):
            done = _updated(lib, key, keep, slots, head_ids, changed, seq)
    if done is None:
        say(f"building the neighbour graph of {len(head_ids)} pictures, "
            "kept for the next commands")
        with _stage("reading and reducing vectors"):
            reduction, reduced, norms = _reduce(lib, key, head_ids, seed)
        with _stage(f"neighbour graph of {len(head_ids)} pictures"):
            slots = Slots.built(reduction, head_ids, reduced, norms, k, seq)
    if done:
        say(f"the kept neighbour graph of {len(head_ids)} pictures is up to date")
    if done is not False:
        with _stage("keeping the neighbour graph"):
            _keep(lib, key, keep, slots)
    return slots


def _keep(lib: Library, key: str, keep: kept.Kept, slots: Slots) -> None:
    """Save the slots; then the database records them, and forgets the
    log's entries they have seen (until it does, they are not trusted)."""
    if not keep.save(slots):
        return
    try:
        vector_log.seen(lib, key, slots.seq, keep.made)
    except (sqlite3.OperationalError, DBAccessError) as exc:  # busy, or read-only
        log.debug("similar: the kept neighbour graph was not recorded ({})", exc)


def _updated(lib, key, keep, slots, head_ids, changed, seq) -> bool | None:
    """:meth:`Slots.update`, reading what it needs; None where the kept
    graph cannot be brought up to date (it is then built again)."""
    def read(ids: np.ndarray) -> np.ndarray:
        found, rows = vectors.load(lib, key, ids.tolist())
        return rows if len(found) == len(ids) else rows[:0]

    try:
        done = slots.update(head_ids, changed, seq, read, keep.index)
    except Exception as exc:  # noqa: BLE001 (its file replaced or damaged: built again)
        log.debug("similar: the kept neighbour graph could not be updated ({})", exc)
        return None
    if done:
        log.debug("similar: the kept neighbour graph of {} pictures, brought up to date",
                  len(head_ids))
    elif done is False:
        log.debug("similar: the neighbour graph of {} pictures, kept from an earlier run",
                  len(head_ids))
    return done


def _pictures(sel: Selection, featurized: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """One head row per content hash, and each hash's rows (head first)."""
    by_hash: dict[str, list[int]] = {}
    for row in featurized.tolist():
        by_hash.setdefault(sel.hashes[row], []).append(row)
    copies = [np.array(rows, dtype=np.int64) for rows in by_hash.values()]
    return np.array([rows[0] for rows in copies], dtype=np.int64), copies


def _reduce(lib, key, head_ids, seed):
    """The reduction fitted on a sample of the photos ``head_ids``, and each
    one's reduced row and length."""
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(head_ids), min(SAMPLE, len(head_ids)), replace=False))
    reduction = Reduction(vectors.load(lib, key, head_ids[sample].tolist())[1], seed=seed)
    reduced = np.empty((len(head_ids), reduction.dims), dtype=np.float32)
    norms = np.empty(len(head_ids), dtype=np.float32)
    progress = Progress(len(head_ids), "reading vectors")
    read = 0
    for positions, block in vectors.stream(lib, key, head_ids):
        reduced[positions], norms[positions] = reduction.project(block)
        progress.update(len(positions))
        read += len(positions)
    progress.close()
    if read < len(head_ids):
        raise UserError(VECTORS_GONE)
    return reduction, reduced, norms


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
        with _stage(f"second check of {len(rows)} candidate pairs"):
            rows, cols = _checked_pairs(rows, cols, reduced_d, threshold, rule, load, batch)
    with _stage(f"near-duplicate groups from {len(rows)} candidate pairs"):
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
    order = np.lexsort((dst, row_distances(x, src, dst), src))
    src, dst = src[order], dst[order]
    first = np.searchsorted(src, np.arange(units))
    place = np.arange(len(src)) - first[src]
    out = np.repeat(np.arange(units)[:, None], k, axis=1)
    near = place < k
    out[src[near], place[near]] = dst[near]
    return out


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
    with _stage(f"chain of {len(units)} units"):
        result = reduced_chain(
            unit_x, _unit_neighbours(unit_of, space.neighbours, unit_x, k), start_at)
    greedy_length = result.length
    if improve_chain and len(unit_x) >= 4:
        with _stage("2-opt"):
            result.order = improve(unit_x, result.order, result.neighbours[:, :8],
                                   improve_seconds)
        result.length = chain_length(unit_x, result.order)
    return Chained(units, result, greedy_length, heads_x)
