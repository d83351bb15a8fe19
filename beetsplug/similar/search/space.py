"""A big selection's pictures as reduced rows and their neighbour graph.

Each distinct picture's vector is read from the database a block at a
time and projected (``search/reduce.py``); one neighbour graph links the
reduced rows (``search/graph.py``). From 50,000 pictures, both come from
the library's kept graph, brought up to date, or are built and kept
(``search/kept.py``, ``search/slots.py``).
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

from ..library import vector_log, vectors
from ..progress import Progress
from . import graph, kept
from .reduce import Reduction
from .slots import Slots

if TYPE_CHECKING:
    from beets.library import Library

    from ..library.selection import Selection


SAMPLE = 20_000  # vectors the reduction is fitted on
VECTORS_GONE = "similar: photos were removed from the library while this ran; run it again"
log = logging.getLogger("beets")


@contextmanager
def stage(name: str):
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
        with stage("reading and reducing vectors"):
            reduction, reduced, norms = _reduce(lib, key, sel.ids[heads], seed)
        with stage(f"neighbour graph of {len(heads)} pictures"):
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
        with stage("bringing the kept neighbour graph up to date"):
            done = _updated(lib, key, keep, slots, head_ids, changed, seq)
    if done is None:
        say(f"building the neighbour graph of {len(head_ids)} pictures, "
            "kept for the next commands")
        with stage("reading and reducing vectors"):
            reduction, reduced, norms = _reduce(lib, key, head_ids, seed)
        with stage(f"neighbour graph of {len(head_ids)} pictures"):
            slots = Slots.built(reduction, head_ids, reduced, norms, k, seq)
    if done:
        say(f"the kept neighbour graph of {len(head_ids)} pictures is up to date")
    if done is not False:
        with stage("keeping the neighbour graph"):
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
