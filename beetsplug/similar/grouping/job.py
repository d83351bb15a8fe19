"""The grouping rule for a selection of the library's photos.

Glue between the library (the photos' vectors, cameras and dates, and
the pairs the user keeps apart) and the pure grouping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..library import decisions, vectors
from .frames import Frames
from .rule import Judge, NearCheck, Rule

if TYPE_CHECKING:
    from beets.library import Library

    from ..library.selection import Selection


def near_rule(sel: Selection, rows: np.ndarray, threshold: float,
              check: NearCheck | None, burst_gap: float = 2.0) -> Rule | None:
    """How the selection ``rows`` are grouped: by the second check (of
    candidate pairs, and of frames of one burst, within ``burst_gap``
    seconds) or the network's strict ``threshold``, and never the pairs
    the user keeps apart; None when neither a check nor such a pair
    applies (the network alone). The rule's indices are positions in
    ``rows``."""
    ids = sel.ids[rows]
    apart = decisions.not_duplicates(sel.lib)
    if check is None and not apart:
        return None

    def kept_apart(a, b):
        return np.array([(min(x, y), max(x, y)) in apart
                         for x, y in zip(ids[a].tolist(), ids[b].tolist())], dtype=bool)

    if check is None:  # nothing to check: only the strict threshold, and apart
        return Rule(threshold, apart=kept_apart)
    frames = Frames.of(sel.taken[rows], [sel.camera[r] for r in rows.tolist()], burst_gap)
    return Rule(check.candidate, Judge(check.verifier, ids), kept_apart if apart else None,
                frames, check.nearest)


def featurized_rows(lib: Library, sel: Selection, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows of ``sel`` with a vector under ``key``, rows without)."""
    have = np.isin(sel.ids, vectors.featurized(lib, key))
    return np.flatnonzero(have), np.flatnonzero(~have)
