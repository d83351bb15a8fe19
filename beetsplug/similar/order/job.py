"""``similar-order``: chain the matched photos, rank them, plan renames.

Glue between the library, the pure ordering and the rename planner.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from beets import util

from ..dupes import kinds
from ..dupes.groups import distances, near_groups
from ..library import vectors
from ..library.companions import Companion, suffix
from ..library.selection import Selection
from ..rename.planner import Step, plan_units
from . import reduced
from .chain import ChainResult, order_vectors, prepare

if TYPE_CHECKING:
    from beets.library import Library

    from ..library.models import Photo


@dataclass
class Ordered:
    selection: Selection
    rows: np.ndarray  # selection rows, in chain order
    result: ChainResult
    greedy_length: float
    missing: np.ndarray  # selection rows matched but not featurized with this model
    matrix: np.ndarray | None = None  # exact mode: the vectors, in chain order
    reduced: bool = False  # fast mode: lengths are in the reduced space

    def photos(self) -> list[Photo]:
        return self.selection.photos(self.rows)


def featurized_rows(lib: Library, sel: Selection, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows of ``sel`` with a vector under ``key``, rows without)."""
    have = np.isin(sel.ids, vectors.featurized(lib, key))
    return np.flatnonzero(have), np.flatnonzero(~have)


def order(lib: Library, sel: Selection, key: str, metric: str, fast: bool, improve: bool,
          start: str = "outlier", threshold: float | None = None,
          burst_gap: float = 2.0) -> Ordered:
    """Chain the photos of ``sel`` that have vectors under ``key``.

    Exact copies (same hash) and, given a ``threshold``, near-duplicate
    groups (as ``similar-dupes`` forms them) are chained as one unit each,
    so their photos always end up next to each other. ``fast`` works in
    the reduced space (``order/reduced.py``), whatever the library's size.
    """
    rows, missing = featurized_rows(lib, sel, key)
    if fast and len(rows) >= 64:
        return _order_reduced(lib, sel, key, rows, missing, metric, improve, start,
                              threshold, burst_gap)
    _, matrix = vectors.load(lib, key, sel.ids[rows].tolist())
    hashes = [sel.hashes[r] for r in rows]
    units = chain_units(hashes, matrix, threshold)
    start_at = None
    if start == "earliest" and units:
        start_at = _unit_of(units)[_earliest(sel, rows)]
    # Every photo alone: the units are the rows, in order; no copy needed.
    unit_matrix = matrix if len(units) == len(rows) else \
        np.stack([_unit_vector(matrix[u], metric) for u in units])
    result, greedy = order_vectors(unit_matrix, metric, fast, improve, start_at)
    chain = _expand(units, result.order, lambda p: prepare(matrix[p], metric),
                    lambda ps: [sel.shot(rows[p]) for p in ps], burst_gap)
    return Ordered(sel, rows[chain], result, greedy, missing, matrix[chain])


def _order_reduced(lib, sel, key, rows, missing, metric, improve, start, threshold,
                   burst_gap) -> Ordered:
    t0 = time.perf_counter()
    space = reduced.build(lib, key, sel, rows)
    near = reduced.near_groups(lib, key, sel, space, threshold) if threshold is not None else []
    chained = reduced.chain(space, near, metric, improve,
                            _earliest(sel, rows) if start == "earliest" else None)
    head_of = np.empty(len(sel), dtype=np.int64)
    head_of[np.concatenate(space.copies)] = np.repeat(
        np.arange(len(space.copies)), [len(c) for c in space.copies])
    chain = _expand(chained.units, chained.result.order,
                    lambda r: chained.heads_x[head_of[r]],
                    lambda rs: [sel.shot(r) for r in rs], burst_gap)
    chained.result.seconds = time.perf_counter() - t0
    return Ordered(sel, chain, chained.result, chained.greedy_length, missing, reduced=True)


def _earliest(sel: Selection, rows: np.ndarray) -> int:
    """The row among ``rows`` taken first (lowest id on ties; undated last)."""
    taken = np.where(sel.taken[rows] > 0, sel.taken[rows], np.inf)
    return int(rows[np.lexsort((sel.ids[rows], taken))[0]])


def _unit_of(units: Sequence[Sequence[int]]) -> dict[int, int]:
    return {row: u for u, unit in enumerate(units) for row in unit}


EXACT_CANDIDATES = 20_000  # more pictures than this: the reduced space (order/reduced.py)


def _by_hash(hashes: Sequence[str]) -> list[list[int]]:
    rows: dict[str, list[int]] = {}
    for row, digest in enumerate(hashes):
        rows.setdefault(digest, []).append(row)
    return list(rows.values())


def near_units(hashes: Sequence[str], matrix: np.ndarray, threshold: float) -> list[list[int]]:
    """Near-duplicate groups (rows of ``matrix``, whose photos have
    ``hashes``), the one rule shared by ``similar-dupes``, ``similar-report``
    and ``similar-order``: exact copies count once, and every two
    different pictures of a group are within ``threshold`` (cosine) of
    each other. Candidates are each picture's exact nearest neighbours."""
    units = _by_hash(hashes)
    if len(units) < 2:
        return []
    heads = matrix if len(units) == len(hashes) else matrix[[rows[0] for rows in units]]
    return [[row for u in group for row in units[u]]
            for group in near_groups(heads, threshold, "cosine")]


def chain_units(hashes: Sequence[str], matrix: np.ndarray,
                threshold: float | None) -> list[list[int]]:
    """Rows of ``matrix`` that move as one: near-duplicate groups under
    ``threshold``, exact copies, and every other photo alone."""
    if threshold is None:
        return _by_hash(hashes)
    near = near_units(hashes, matrix, threshold)
    grouped = {row for group in near for row in group}
    return near + [rows for rows in _by_hash(hashes) if rows[0] not in grouped]


def _unit_vector(rows: np.ndarray, metric: str) -> np.ndarray:
    """One vector for a unit: its photos' mean (of unit rows, for cosine)."""
    return prepare(rows, metric).mean(axis=0) if len(rows) > 1 else rows[0]


def _expand(units: Sequence[Sequence[int]], unit_order: np.ndarray, vectors_of,
            shots_of, burst_gap: float) -> np.ndarray:
    """Rows in chain order: a burst's frames in capture order, any other
    unit's photos as a small greedy chain that starts at the one nearest
    the photo before it. ``vectors_of(rows)`` and ``shots_of(rows)`` give
    rows' vectors and :class:`Shot` records."""
    out: list = []
    last = None
    for u in unit_order:
        rows = units[u]
        if len(rows) == 1:
            out.append(rows)
            last = rows[0]
            continue
        members = shots_of(rows)
        if kinds.is_burst(members, burst_gap):
            picked = [r for _, r in sorted(zip((m.taken for m in members), rows))]
        else:
            picked = _small_chain(list(rows), last, vectors_of)
        out.append(picked)
        last = picked[-1]
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def _small_chain(rows: list[int], last: int | None, vectors_of) -> list[int]:
    """``rows`` as a greedy chain from the one nearest ``last`` (from the
    first when None), on one small distance matrix."""
    points = rows + ([last] if last is not None else [])
    x = vectors_of(np.array(points))
    sq = np.einsum("ij,ij->i", x, x)
    d = (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).tolist()
    at = len(rows) if last is not None else None
    left, picked = list(range(len(rows))), []
    while left:
        pick = left[0] if at is None else min(left, key=lambda i: d[at][i])
        picked.append(rows[pick])
        left.remove(pick)
        at = pick
    return picked


def in_rank_order(lib: Library, sel: Selection, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``sel`` (fetched photos) that are ranked and have vectors
    under ``key``, by rank, and their vectors."""
    ranks = np.array([p.rank or 0 for p in sel.photos()])
    rows, _ = featurized_rows(lib, sel, key)
    rows = rows[ranks[rows] > 0]
    rows = rows[np.argsort(ranks[rows], kind="stable")]
    return rows, vectors.load(lib, key, sel.ids[rows].tolist())[1]


def target_name(photo: Photo, rank: int, width: int, fmt: str | None, replacements) -> str:
    """The file name a rank gives, from the rename template, sanitised as
    beets sanitises paths (``replace:`` config included). Without a
    template: the imported name, exactly."""
    if fmt is None:
        return photo.origname
    view = photo.copy()
    view.rank = rank
    view.rankpad = str(rank).zfill(width)
    name = view.evaluate_template(fmt, for_path=True)
    ext = os.path.splitext(photo.origname)[1] or os.fsdecode(os.path.splitext(photo.path)[1])
    stem = name[: -len(ext)] if ext and name.lower().endswith(ext.lower()) else name
    stem = os.path.basename(util.sanitize_path(stem, replacements))
    # The extension keeps its case: a sidecar named IMG.CR2.xmp must go on
    # matching its photo's name.
    return fit_name(stem, ext, util.get_max_filename_length())


def fit_name(stem: str, ext: str, limit: int) -> str:
    """``stem + ext`` cut to ``limit`` bytes on disk, whole characters only.
    Bytes that are not UTF-8 (surrogates) are kept, unlike beets'
    ``truncate_path``, so such a name survives exactly."""
    budget, kept = limit - len(os.fsencode(ext)), []
    for char in stem:
        budget -= len(os.fsencode(char))
        if budget < 0:
            break
        kept.append(char)
    return "".join(kept) + ext


def rename_steps(ranked: Sequence[tuple[Photo, int]], fmt: str | None, replacements,
                 companions_of: Mapping[int, Sequence[Companion]] | None = None,
                 width: int | None = None, on_taken=lambda key, name, instead: None
                 ) -> list[Step]:
    """Steps giving each photo its templated name (its imported name when
    ``fmt`` is None) in its own folder; its companions take the same stem."""
    width = width or max(4, len(str(len(ranked))))
    companions_of = companions_of or {}
    units = []
    for photo, rank in ranked:
        src = os.fsdecode(photo.path)
        name = target_name(photo, rank, width, fmt, replacements)
        stem = os.path.splitext(name)[0]
        units.append((photo.id, [(src, os.path.join(os.path.dirname(src), name))] + [
            (c.path, os.path.join(os.path.dirname(c.path), stem + suffix(c.path, src)))
            for c in companions_of.get(photo.id, ())]))
    return plan_units(units, on_taken=on_taken)


def export_features(lib: Library, key: str, path: str, ordered: Ordered) -> None:
    """Write features.csv as the original scripts did: ``images``, one
    column per feature, and the rank ``R``."""
    import pandas as pd

    matrix = ordered.matrix
    if matrix is None:
        matrix = vectors.load(lib, key, ordered.selection.ids[ordered.rows].tolist())[1]
    frame = pd.DataFrame(matrix, columns=[str(i) for i in range(matrix.shape[1])])
    frame.insert(0, "images", [os.fsdecode(p.path) for p in ordered.photos()])
    frame["R"] = np.arange(1, len(ordered.rows) + 1)
    frame.to_csv(path, index=False, errors="surrogateescape")  # names as on disk


@dataclass
class DuplicateGroup:
    kind: str  # exact, copy, burst or similar (see dupes/kinds.py)
    rows: list[int]  # rows of the selection


def _exact_groups(sel: Selection) -> list[list[int]]:
    return [rows for rows in _by_hash(sel.hashes) if len(rows) > 1]


def duplicate_groups(lib: Library, sel: Selection, key: str, threshold: float,
                     exact_only: bool = False, copy_distance: float | None = None,
                     burst_gap: float = 2.0) -> tuple[list[DuplicateGroup], np.ndarray]:
    """Exact-copy groups of ``sel``, then near-duplicate groups of its
    featurized photos (see :func:`near_units`), each with its kind; vectors
    from the library (none when ``exact_only``). Above
    ``EXACT_CANDIDATES`` pictures, candidates come from the reduced space.
    Returns (groups, rows without vectors)."""
    if exact_only:
        return [DuplicateGroup("exact", g) for g in _exact_groups(sel)], np.zeros(0, int)
    rows, missing = featurized_rows(lib, sel, key)
    if len(rows) <= EXACT_CANDIDATES:
        _, matrix = vectors.load(lib, key, sel.ids[rows].tolist())
        return group_duplicates(sel, rows, matrix, threshold, copy_distance,
                                burst_gap), missing
    space = reduced.build(lib, key, sel, rows)
    near = [np.concatenate([space.copies[h] for h in group]).tolist()
            for group in reduced.near_groups(lib, key, sel, space, threshold)]

    def loaded(group: list[int]):
        return lambda: distances(prepare(vectors.load(
            lib, key, sel.ids[group].tolist())[1], "cosine"), "cosine")

    return _with_kinds(sel, near, loaded, copy_distance, burst_gap), missing


def group_duplicates(sel: Selection, rows: np.ndarray, matrix: np.ndarray, threshold: float,
                     copy_distance: float | None = None,
                     burst_gap: float = 2.0) -> list[DuplicateGroup]:
    """Exact-copy groups of ``sel``, then near-duplicate groups of its
    ``rows`` (whose vectors ``matrix`` holds; see :func:`near_units`)."""
    rows = np.asarray(rows, dtype=np.int64)
    near = [rows[g].tolist() for g in near_units([sel.hashes[r] for r in rows], matrix,
                                                  threshold)] if len(rows) else []
    position = {int(r): p for p, r in enumerate(rows)}

    def loaded(group: list[int]):
        return lambda: distances(prepare(matrix[[position[r] for r in group]], "cosine"),
                                 "cosine")

    return _with_kinds(sel, near, loaded, copy_distance, burst_gap)


def _with_kinds(sel: Selection, near: list[list[int]], distances_of,
                copy_distance: float | None, burst_gap: float) -> list[DuplicateGroup]:
    """The exact groups and the ``near`` ones, with their kinds. An exact
    group inside a near group is shown there, not twice."""
    groups = [DuplicateGroup(kinds.kind([sel.shot(r) for r in g], distances_of(g),
                                        copy_distance, burst_gap), g) for g in near]
    in_near = {r for g in near for r in g}
    exact = [DuplicateGroup("exact", g) for g in _exact_groups(sel)
             if not all(r in in_near for r in g)]
    return exact + groups
