"""Near-duplicate groups of a library too big to hold: a batch of linked
sets at a time, by the rule of ``complete.py``.

Pure: NumPy and SciPy.
"""

from __future__ import annotations

import numpy as np

from ..parallel import ordered_map
from .complete import pair_groups
from .linked import components, linked_sets
from .rule import Rule


def streamed_groups(n: int, rows: np.ndarray, cols: np.ndarray, threshold: float,
                    load, batch: int = 20_000, rule: Rule | None = None) -> list[list[int]]:
    """:func:`pair_groups` of ``n`` unit rows (cosine) that are not all in
    memory: ``load(points)`` gives the unit rows of some points. Candidate
    pairs link points into sets; a batch of whole sets is loaded at a
    time, so memory holds ``batch`` rows, not ``n``. A set bigger than a
    batch means a threshold far too high: ValueError, with what to do."""
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    labels = components(n, rows, cols)
    sets = linked_sets(labels)  # by label, as the pairs below
    by_set = np.argsort(labels[rows], kind="stable")
    rows, cols = rows[by_set], cols[by_set]
    pair_labels = labels[rows]
    local = np.empty(n, dtype=np.int64)
    out: list[list[int]] = []
    start = 0
    if sets and max(map(len, sets)) > batch:
        raise ValueError(f"{max(map(len, sets))} pictures are linked by near-duplicate "
                         f"pairs under the threshold {threshold:.4g}, too many to be "
                         "near-duplicates; lower the threshold (or run similar-calibrate)")
    batches = []
    while start < len(sets):
        stop, size = start, 0
        while stop < len(sets) and (size == 0 or size + len(sets[stop]) <= batch):
            size += len(sets[stop])
            stop += 1
        batches.append((start, stop, np.concatenate(sets[start:stop])))
        start = stop
    # The next batch is read while this one is grouped.
    loaded = ordered_map(lambda b: load(b[2]), batches, workers=1, prefetch=2)
    for (start, stop, points), x in zip(batches, loaded):
        local[points] = np.arange(len(points))
        ours = slice(np.searchsorted(pair_labels, labels[sets[start][0]]),
                     np.searchsorted(pair_labels, labels[sets[stop - 1][0]], side="right"))
        groups = pair_groups(x, local[rows[ours]], local[cols[ours]], threshold,
                             rule=rule.on(points) if rule is not None else None)
        out += [sorted(points[g].tolist()) for g in groups]
    return sorted(out, key=lambda g: g[0])
