"""``similar-order``: chain the matched photos, rank them, plan renames.

Glue between the library, the pure ordering and the rename planner.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from beets import util

from ..dupes import kinds
from ..dupes.copies import exact_groups
from ..dupes.groups import distances, near_groups
from ..library import vectors
from ..library.companions import Companion, suffix
from ..rename.planner import Step, plan_units
from .chain import ChainResult, fast_neighbours, order_vectors, prepare

if TYPE_CHECKING:
    from beets.library import Library

    from ..library.models import Photo


@dataclass
class Ordered:
    photos: list[Photo]  # in chain order
    matrix: np.ndarray  # their vectors, same order
    result: ChainResult
    greedy_length: float
    missing: list[Photo]  # matched but not featurized with this model


def order(lib: Library, found: Sequence[Photo], key: str, metric: str, fast: bool,
          improve: bool, start: str = "outlier", threshold: float | None = None,
          burst_gap: float = 2.0) -> Ordered:
    """Chain the photos that have vectors under ``key``.

    Exact copies (same hash) and, given a ``threshold``, near-duplicate
    groups (as ``similar-dupes`` forms them) are chained as one unit each,
    so their photos always end up next to each other.
    """
    featurized, matrix, missing = with_vectors(lib, found, key)
    units = chain_units(featurized, matrix, threshold, fast)
    start_at = None
    if start == "earliest" and units:
        start_at = min(range(len(units)), key=lambda u: min(
            (featurized[r].taken or float("inf"), featurized[r].id) for r in units[u]))
    # Every photo alone: the units are the rows, in order; no copy needed.
    unit_matrix = matrix if len(units) == len(featurized) else \
        np.stack([_unit_vector(matrix[rows], metric) for rows in units])
    result, greedy = order_vectors(unit_matrix, metric, fast, improve, start_at)
    chain_rows = _expand(units, result.order, matrix, metric, featurized,
                         burst_gap) if units else []
    return Ordered([featurized[r] for r in chain_rows], matrix[chain_rows], result,
                   greedy, missing)


EXACT_CANDIDATES = 20_000  # more pictures than this: candidates from the ANN graph


def _by_hash(featurized: Sequence[Photo]) -> list[list[int]]:
    rows: dict[str, list[int]] = {}
    for row, photo in enumerate(featurized):
        rows.setdefault(photo.hash, []).append(row)
    return list(rows.values())


def near_units(featurized: Sequence[Photo], matrix: np.ndarray, threshold: float,
               fast: bool = False) -> list[list[int]]:
    """Near-duplicate groups (rows of ``matrix``), the one rule shared by
    ``similar-dupes``, ``similar-report`` and ``similar-order``: exact
    copies count once, and every two different pictures of a group are
    within ``threshold`` (cosine) of each other."""
    units = _by_hash(featurized)
    if len(units) < 2:
        return []
    heads = matrix if len(units) == len(featurized) else matrix[[rows[0] for rows in units]]
    # Candidates: exact neighbours, or from the ANN graph for big libraries
    # (exact search costs n^2 x dim); the candidates' distances are exact.
    approximate = (fast and len(units) >= 64) or len(units) > EXACT_CANDIDATES
    neighbours = fast_neighbours(heads) if approximate else None
    return [[row for u in group for row in units[u]]
            for group in near_groups(heads, threshold, "cosine", neighbours=neighbours)]


def chain_units(featurized: Sequence[Photo], matrix: np.ndarray, threshold: float | None,
                fast: bool = False) -> list[list[int]]:
    """Rows of ``matrix`` that move as one: near-duplicate groups under
    ``threshold``, exact copies, and every other photo alone."""
    if threshold is None:
        return _by_hash(featurized)
    near = near_units(featurized, matrix, threshold, fast)
    grouped = {row for group in near for row in group}
    return near + [rows for rows in _by_hash(featurized) if rows[0] not in grouped]


def _unit_vector(rows: np.ndarray, metric: str) -> np.ndarray:
    """One vector for a unit: its photos' mean (of unit rows, for cosine)."""
    return prepare(rows, metric).mean(axis=0) if len(rows) > 1 else rows[0]


def _expand(units: list[list[int]], unit_order: np.ndarray, matrix: np.ndarray,
            metric: str, featurized: Sequence[Photo], burst_gap: float) -> list[int]:
    """Rows in chain order: a burst's frames in capture order, any other
    unit's photos as a small greedy chain that starts at the one nearest
    the photo before it (distances of the unit's own rows only)."""
    out: list[int] = []
    for u in unit_order:
        rows = units[u]
        if len(rows) == 1:
            out += rows
            continue
        if kinds.is_burst([featurized[r] for r in rows], burst_gap):
            out += sorted(rows, key=lambda r: featurized[r].taken)
            continue
        left = list(rows)
        while left:
            if out:
                x = prepare(matrix[left + out[-1:]], metric)
                d = ((x[:-1] - x[-1]) ** 2).sum(axis=1)
                pick = left[int(np.argmin(d))]
            else:
                pick = left[0]
            out.append(pick)
            left.remove(pick)
    return out


def with_vectors(lib: Library, found: Sequence[Photo],
                 key: str) -> tuple[list[Photo], np.ndarray, list[Photo]]:
    """The photos of ``found`` with vectors under ``key`` (in the order
    given), their vectors as rows, and the photos without."""
    by_id = {p.id: p for p in found}
    ids, matrix = vectors.load(lib, key, list(by_id))
    have = set(ids)
    return [by_id[i] for i in ids], matrix, [p for p in found if p.id not in have]


def in_rank_order(lib: Library, found: Sequence[Photo], key: str) -> tuple[list[Photo], np.ndarray]:
    """The ranked photos with vectors under ``key``, by rank, and their vectors."""
    ranked, matrix, _ = with_vectors(
        lib, sorted((p for p in found if p.rank), key=lambda p: p.rank), key)
    return ranked, matrix


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


def export_features(path: str, ordered: Ordered) -> None:
    """Write features.csv as the original scripts did: ``images``, one
    column per feature, and the rank ``R``."""
    import pandas as pd

    frame = pd.DataFrame(ordered.matrix, columns=[str(i) for i in range(ordered.matrix.shape[1])])
    frame.insert(0, "images", [os.fsdecode(p.path) for p in ordered.photos])
    frame["R"] = np.arange(1, len(ordered.photos) + 1)
    frame.to_csv(path, index=False, errors="surrogateescape")  # names as on disk


@dataclass
class DuplicateGroup:
    kind: str  # exact, copy, burst or similar (see dupes/kinds.py)
    photos: list[Photo]


def duplicate_groups(lib: Library, found: Sequence[Photo], key: str, threshold: float,
                     exact_only: bool = False, copy_distance: float | None = None,
                     burst_gap: float = 2.0) -> tuple[list[DuplicateGroup], list[Photo]]:
    """:func:`group_duplicates` of ``found``, with vectors from the library
    (none when ``exact_only``). Returns (groups, photos without vectors)."""
    if exact_only:
        return group_duplicates(found, [], None, threshold), []
    featurized, matrix, missing = with_vectors(lib, found, key)
    return group_duplicates(found, featurized, matrix, threshold, copy_distance,
                            burst_gap), missing


def group_duplicates(photos: Sequence[Photo], featurized: Sequence[Photo],
                     matrix: np.ndarray | None, threshold: float,
                     copy_distance: float | None = None,
                     burst_gap: float = 2.0) -> list[DuplicateGroup]:
    """Exact-copy groups of ``photos``, then near-duplicate groups of
    ``featurized`` (rows of ``matrix``; see :func:`near_units`), each with
    its kind. An exact group inside a near group is shown there, not twice."""
    near = []
    for rows in near_units(featurized, matrix, threshold) if len(featurized) else []:
        members = [featurized[r] for r in rows]
        d = distances(prepare(matrix[rows], "cosine"), "cosine")
        near.append(DuplicateGroup(kinds.kind(members, d, copy_distance, burst_gap), members))
    in_near = {p.id for g in near for p in g.photos}
    exact = [DuplicateGroup("exact", g) for g in exact_groups(photos)
             if not all(p.id in in_near for p in g)]
    return exact + near
