"""A kept neighbour graph, brought up to date as photos come and go.

Each picture has a slot: its photo id, reduced row, length, and its
``k`` nearest slots. A picture whose vector changed, or that left the
library, leaves a dead slot behind (its row stays in the faiss graph,
which cannot remove one, and is filtered out of every search). A new
picture gets a new slot: its row is added to the faiss graph, it is
searched, and it enters the neighbour lists of the slots it is near.
Lists that named a dead slot are searched again. When the slots added
and dead since the graph was built pass ``REBUILD_SHARE`` of the
pictures, it is built again from scratch: the reduction was fitted on
the pictures of then, and dead rows slow the search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import graph
from .reduce import Reduction

REBUILD_SHARE = 0.2  # of the pictures: more new or dead slots, and it is built again


@dataclass
class Slots:
    reduction: Reduction
    ids: np.ndarray  # (slots,) photo id of each slot; -1: dead
    reduced: np.ndarray  # (slots, dims) reduced unit rows
    norms: np.ndarray  # (slots,) lengths of the stored vectors
    neighbours: np.ndarray  # (slots, k) nearest live slots, nearest first
    d2: np.ndarray  # (slots, k) their squared distances
    seq: int  # the vector log's position when the vectors were read
    built: int  # slots when the graph was built from scratch
    index: object = None  # the faiss graph of ``reduced``, loaded when needed

    @classmethod
    def built(cls, reduction: Reduction, ids: np.ndarray, reduced: np.ndarray,
              norms: np.ndarray, k: int, seq: int) -> Slots:
        """The graph of these pictures, built from scratch."""
        index = graph.index(reduced, leading=True)
        neighbours, d2 = graph.search(index, reduced, np.arange(len(reduced)), k)
        return cls(reduction, np.asarray(ids, dtype=np.int64), reduced, norms,
                   neighbours, d2, seq, len(ids), index)

    def update(self, head_ids: np.ndarray, changed: np.ndarray, seq: int,
               read: Callable[[np.ndarray], np.ndarray],
               load_index: Callable[[], object]) -> bool | None:
        """Bring the slots to exactly the pictures ``head_ids``, the vectors
        of the photos ``changed`` read again (``read(ids)``: their stored
        vectors). True if anything changed, False if nothing did, None
        when too much did, or a vector was gone by the time it was read:
        the graph is then to be built from scratch."""
        live = self.ids >= 0
        dying = live & (np.isin(self.ids, changed) | ~np.isin(self.ids, head_ids))
        new_ids = np.setdiff1d(head_ids, self.ids[live & ~dying])
        if not dying.any() and not len(new_ids):
            self.seq = seq
            return False
        dead = np.count_nonzero(~live) + np.count_nonzero(dying)
        added = len(self.ids) - self.built + len(new_ids)
        if dead + added > REBUILD_SHARE * len(head_ids):
            return None
        rows = read(new_ids) if len(new_ids) else None
        if rows is not None and len(rows) != len(new_ids):
            return None
        if self.index is None:
            self.index = load_index()
        k = self.neighbours.shape[1]
        first_new = len(self.ids)
        self.ids = self.ids.copy()
        self.ids[dying] = -1
        if rows is not None:
            reduced, norms = self.reduction.project(rows)
            self.index.add(np.ascontiguousarray(reduced[:, :self.index.d]))
            self.ids = np.concatenate([self.ids, new_ids])
            self.reduced = np.concatenate([self.reduced, reduced])
            self.norms = np.concatenate([self.norms, norms])
            self.neighbours = np.concatenate(
                [self.neighbours, np.zeros((len(new_ids), k), self.neighbours.dtype)])
            self.d2 = np.concatenate([self.d2, np.zeros((len(new_ids), k), self.d2.dtype)])
        alive = self.ids >= 0
        named_dead = alive & ~alive[self.neighbours].all(axis=1)
        named_dead[first_new:] = False
        new = np.arange(first_new, len(self.ids))
        asked = np.concatenate([np.flatnonzero(named_dead), new])
        found, d2 = graph.search(self.index, self.reduced, asked, k, alive)
        self.neighbours[asked], self.d2[asked] = found, d2
        # The new slots enter the lists of the slots they are near.
        of_new = slice(len(asked) - len(new), len(asked))
        near = (found[of_new] != new[:, None]) & np.isfinite(d2[of_new])
        self._insert(found[of_new][near], np.repeat(new, k).reshape(-1, k)[near],
                     d2[of_new][near])
        self.seq = seq
        return True

    def _insert(self, rows: np.ndarray, cols: np.ndarray, d2: np.ndarray) -> None:
        """Put the slots ``cols`` at ``d2`` into the lists of ``rows`` where
        they are among the ``k`` nearest."""
        if not len(rows):
            return
        k = self.neighbours.shape[1]
        touched = np.unique(rows)
        r = np.concatenate([np.repeat(touched, k), rows])
        c = np.concatenate([self.neighbours[touched].reshape(-1), cols])
        d = np.concatenate([self.d2[touched].reshape(-1), d2])
        pair = r * len(self.ids) + c
        order = np.lexsort((d, pair))
        nearest = order[np.unique(pair[order], return_index=True)[1]]  # one of each pair
        self.neighbours[touched], self.d2[touched] = graph.nearest_lists(
            touched, r[nearest], c[nearest], d[nearest], k)

    def of(self, head_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(reduced rows, lengths, neighbours, squared distances) of the
        pictures ``head_ids``, in their order, the neighbours as positions
        in it; every live slot is one of them (see :meth:`update`)."""
        live = np.flatnonzero(self.ids >= 0)
        by_id = live[np.argsort(self.ids[live], kind="stable")]
        slot = by_id[np.minimum(np.searchsorted(self.ids[by_id], head_ids), len(by_id) - 1)]
        if len(slot) != len(live) or not np.array_equal(self.ids[slot], head_ids):
            raise ValueError("the kept graph's slots are not these pictures")
        position = np.full(len(self.ids), -1, dtype=np.int64)
        position[slot] = np.arange(len(slot))
        neighbours = position[self.neighbours[slot]]
        d2 = self.d2[slot].copy()
        lost = neighbours < 0  # (never, after update: a self-filler then)
        neighbours[lost] = np.broadcast_to(np.arange(len(slot))[:, None], neighbours.shape)[lost]
        d2[lost] = np.inf
        return self.reduced[slot], self.norms[slot], neighbours, d2
