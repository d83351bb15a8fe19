"""``similar-dupes`` and ``similar-report``: groups of the matched photos.

Glue between the library and the pure grouping. Small libraries are
grouped with exact neighbours in memory; above ``EXACT_CANDIDATES``
pictures, in the reduced space (``grouping/reduced.py``).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from beets.util.functemplate import get_template

from ..grouping import reduced
from ..grouping.job import featurized_rows, near_rule
from ..grouping.near import by_hash, near_units
from ..grouping.rule import NearCheck
from ..library import vectors
from ..library.selection import Selection
from ..numbers import plain
from ..search.exact import distances, prepare
from ..search.space import build
from . import evidence, kinds

if TYPE_CHECKING:
    from beets.library import Library


EXACT_CANDIDATES = 20_000  # more pictures than this: the reduced space (grouping/reduced.py)


@dataclass
class DuplicateGroup:
    kind: str  # exact, copy, burst or similar (see dupes/kinds.py)
    rows: list[int]  # rows of the selection
    # rows -> () -> the cosine distances between those rows' photos
    distances_of: Callable[[list[int]], Callable[[], np.ndarray]] | None = None
    check: NearCheck | None = None  # the second check, when it was on
    measured: list[int] = field(default_factory=list)  # the rows grouped by their vectors

    def evidence(self, sel: Selection, keep_row: int) -> dict[int, tuple[float | None,
                                                                          int | None]]:
        """{row: (cosine distance to the kept photo, inliers of the check
        against it)} for each row of the group; None where not measured
        (the inliers: the pair was not checked)."""
        out: dict[int, tuple[float | None, int | None]] = {}
        if self.distances_of is None:  # exact copies
            return {r: (0.0, None) for r in self.rows}
        # Rows added since (exact copies, maybe without vectors) stand for
        # a row of the same bytes that has a vector.
        had = self.measured or list(self.rows)
        by_hash = {sel.hashes[r]: r for r in had}
        keep = by_hash.get(sel.hashes[keep_row])
        d = self.distances_of(had)()[had.index(keep)] if keep is not None else None
        for row in self.rows:
            twin = by_hash.get(sel.hashes[row])
            dist = None if d is None or twin is None else max(float(d[had.index(twin)]), 0.0)
            verdict = None
            if self.check is not None and row != keep_row:
                verdict = self.check.verifier.evidence(sel.ids[row], sel.ids[keep_row])
            out[row] = (dist, None if verdict is None else verdict.inliers)
        return out

    def weakest(self, sel: Selection) -> evidence.Link | None:
        """The link that holds the group together most weakly (photo ids
        and the check's verdict; see :func:`.evidence.weakest`), None
        without the check or when some of it was not checked."""
        if self.check is None or self.distances_of is None:
            return None
        pictures = list({sel.hashes[r]: int(sel.ids[r])
                         for r in (self.measured or self.rows)}.values())
        return evidence.weakest(pictures, evidence.checked_links(
            pictures, self.check.verifier.evidence))


EVIDENCE = ("distance", "inliers")  # the template fields of :func:`formatted`


def formatted(photo, fmt: str, evidence: tuple[float | None, int | None] | None) -> str:
    """``photo``'s template ``fmt``, where ``$distance`` (to the group's
    kept photo) and ``$inliers`` (of the second check against it; empty
    when not checked) are the group's ``evidence``."""
    dist, inliers = evidence if evidence is not None else (None, None)
    values = {"distance": "" if dist is None else plain(dist),
              "inliers": "" if inliers is None else str(inliers)}
    # A template without a %function needs none: skip making them per photo.
    return get_template(fmt).substitute(ChainMap(values, photo.formatted()),
                                        photo._template_funcs() if "%" in fmt else {})


def _exact_groups(sel: Selection) -> list[list[int]]:
    return [rows for rows in by_hash(sel.hashes) if len(rows) > 1]


def duplicate_groups(lib: Library, sel: Selection, key: str, threshold: float,
                     exact_only: bool = False, copy_distance: float | None = None,
                     burst_gap: float = 2.0, check: NearCheck | None = None,
                     ) -> tuple[list[DuplicateGroup], np.ndarray]:
    """Exact-copy groups of ``sel``, then near-duplicate groups of its
    featurized photos (see :func:`near_units`), each with its kind; vectors
    from the library (none when ``exact_only``). Above
    ``EXACT_CANDIDATES`` pictures, candidates come from the reduced space.
    With a ``check``, candidate pairs past ``threshold`` are checked.
    Returns (groups, rows without vectors)."""
    if exact_only:
        return [DuplicateGroup("exact", g) for g in _exact_groups(sel)], np.zeros(0, int)
    rows, missing = featurized_rows(lib, sel, key)
    if len(rows) <= EXACT_CANDIDATES:
        _, matrix = vectors.load(lib, key, sel.ids[rows].tolist())
        groups = _group_in_memory(sel, rows, matrix, threshold, copy_distance, burst_gap,
                                  check)
    else:
        space = build(lib, key, sel, rows)
        near = [space.rows_of(group).tolist()
                for group in reduced.near_groups(lib, key, sel, space, threshold, check,
                                                 burst_gap)]
        groups = with_kinds(lib, key, sel, near, copy_distance, burst_gap, check)
    if check is not None:
        check.verifier.summary()
    return groups, missing


def with_kinds(lib: Library, key: str, sel: Selection, near: list[list[int]],
               copy_distance: float | None, burst_gap: float,
               check: NearCheck | None = None) -> list[DuplicateGroup]:
    """The exact groups of ``sel`` and its ``near`` groups (selection rows,
    as ``similar-order`` chained them), with their kinds; a group's vectors
    are read only when its kind depends on them."""

    def loaded(group: list[int]):
        return lambda: distances(prepare(vectors.load(
            lib, key, sel.ids[group].tolist())[1], "cosine"), "cosine")

    return _with_kinds(sel, near, loaded, copy_distance, burst_gap, check)


def _group_in_memory(sel: Selection, rows: np.ndarray, matrix: np.ndarray, threshold: float,
                     copy_distance: float | None, burst_gap: float,
                     check: NearCheck | None = None) -> list[DuplicateGroup]:
    """Exact-copy groups of ``sel``, then near-duplicate groups of its
    ``rows`` (whose vectors ``matrix`` holds; see :func:`near_units`)."""
    rows = np.asarray(rows, dtype=np.int64)
    rule = near_rule(sel, rows, threshold, check, burst_gap)
    near = [rows[g].tolist() for g in near_units([sel.hashes[r] for r in rows], matrix,
                                                  threshold, rule)] if len(rows) else []
    position = {int(r): p for p, r in enumerate(rows)}

    def loaded(group: list[int]):
        return lambda: distances(prepare(matrix[[position[r] for r in group]], "cosine"),
                                 "cosine")

    return _with_kinds(sel, near, loaded, copy_distance, burst_gap, check)


def _with_kinds(sel: Selection, near: list[list[int]], distances_of,
                copy_distance: float | None, burst_gap: float,
                check: NearCheck | None = None) -> list[DuplicateGroup]:
    """The exact groups and the ``near`` ones, with their kinds. An exact
    group inside a near group is shown there, not twice."""
    def same_pixels(pictures) -> bool | None:
        ids = [p.id for p in pictures]
        return evidence.one_capture(ids, evidence.checked_links(ids, check.verifier.evidence))

    groups = [DuplicateGroup(kinds.kind([sel.shot(r) for r in g], distances_of(g),
                                        copy_distance, burst_gap,
                                        same_pixels if check is not None else None),
                             g, distances_of, check, list(g))
              for g in near]
    in_near = {r for g in near for r in g}
    exact = [DuplicateGroup("exact", g) for g in _exact_groups(sel)
             if not all(r in in_near for r in g)]
    return exact + groups
