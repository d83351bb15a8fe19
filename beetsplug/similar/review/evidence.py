"""How strongly each photo of a group matches the suggested keeper, in
plain words, with the figures behind them (shown on hover): the cosine
distance of their vectors and the inliers of the geometric check, the
same evidence as ``similar-dupes``' ``$distance`` and ``$inliers``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..dupes.groups import distances
from ..dupes.job import DuplicateGroup, NearCheck
from ..library import vectors
from ..library.selection import Selection
from ..numbers import plain
from ..order.chain import prepare

if TYPE_CHECKING:
    from beets.library import Library

    from ..library.models import Photo


def measured(lib: Library, key: str, kind: str, members: Sequence[Photo], keep: Photo,
             check: NearCheck | None) -> dict[int, tuple[float | None, int | None]]:
    """{photo id: (cosine distance to ``keep``, inliers of the check against
    it)}, None where not measured, as ``similar-dupes`` computes them."""
    sel = Selection.of(lib, members)
    rows = list(range(len(members)))
    keep_row = [p.id for p in members].index(keep.id)
    if kind == "exact":
        group = DuplicateGroup(kind, rows)
    else:
        found, matrix = vectors.load(lib, key, [p.id for p in members])
        at = {pid: n for n, pid in enumerate(found)}
        had = [r for r in rows if members[r].id in at]
        if not had:  # no vectors: nothing measured but the bytes
            return {p.id: (0.0 if p.hash == keep.hash else None, None) for p in members}

        def distances_of(chosen: list[int]):
            picked = matrix[[at[members[r].id] for r in chosen]]
            return lambda: distances(prepare(picked, "cosine"), "cosine")

        group = DuplicateGroup(kind, rows, distances_of, check, had)
    return {members[r].id: e for r, e in group.evidence(sel, keep_row).items()}


def words(photo: Photo, keep: Photo, distance: float | None, inliers: int | None,
          threshold: float, copy_distance: float | None) -> tuple[str, str]:
    """(how strongly ``photo`` matches the keeper, in plain words; the
    figures behind it)."""
    if photo.hash == keep.hash:
        return "identical file", "the same bytes as the suggested keeper"
    if distance is None:
        return "grouped with the keeper", "no vector to measure how close it is"
    figures = f"distance {plain(distance)} to the suggested keeper (near-duplicates: " \
              f"under {plain(threshold)}" \
              + (f"; the same picture: under {plain(copy_distance)}" if copy_distance else "") \
              + ")" \
              + (f"; {inliers} matching points (inliers) in the geometric check"
                 if inliers is not None else "")
    if copy_distance is not None and distance <= copy_distance:
        return "same picture, re-saved or resized", figures
    if distance <= threshold:
        return "close match", figures
    if inliers is not None:
        return "looser match, confirmed by its details", figures
    return "looser match", figures
