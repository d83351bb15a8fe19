"""How strongly each photo of a group matches the suggested keeper, in
plain words, with the figures behind them (shown on hover): the cosine
distance of their vectors and the second check's verdict on the pair,
the same evidence as ``similar-dupes``' ``$distance`` and ``$inliers``.
(A group is a connected set of confirmed pairs: a photo may be linked to
the keeper only through another photo of the group.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..dupes.job import DuplicateGroup, NearCheck
from ..library import vectors
from ..library.selection import Selection
from ..numbers import plain
from ..search.exact import distances, prepare
from ..verify.check import Verdict

if TYPE_CHECKING:
    from beets.library import Library

    from ..library.models import Photo


def measured(lib: Library, key: str, kind: str, members: Sequence[Photo], keep: Photo,
             check: NearCheck | None) -> dict[int, tuple[float | None, Verdict | None]]:
    """{photo id: (cosine distance to ``keep``, the second check's verdict
    on the pair)}, None where not measured, as ``similar-dupes`` computes
    them."""
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
    verdict = (lambda pid: None) if check is None else \
        (lambda pid: check.verifier.evidence(pid, keep.id))
    return {members[r].id: (dist, verdict(members[r].id))
            for r, (dist, _) in group.evidence(sel, keep_row).items()}


def words(photo: Photo, keep: Photo, distance: float | None, verdict: Verdict | None,
          threshold: float) -> tuple[str, str]:
    """(how strongly ``photo`` matches the keeper, in plain words; the
    figures behind it)."""
    if photo.hash == keep.hash:
        return "identical file", "the same bytes as the suggested keeper"
    figures = [] if distance is None else [
        f"distance {plain(distance)} to the suggested keeper (the network alone: "
        f"near-duplicates under {plain(threshold)})"]
    if verdict is not None:
        figures.append(f"second check: {verdict.inliers} matching points (inliers) of "
                       f"{verdict.matches}, likeness {verdict.likeness:.2f}")
    said = "; ".join(figures) or "no vector to measure how close it is"
    if verdict is not None and verdict.one_capture:
        return "the same picture: re-saved, resized or lightly edited", said
    if verdict is not None and verdict.geometric:
        return f"the same scene: {verdict.inliers} points match", said
    if verdict is not None and verdict.alike:
        return "alike as a whole (light, focus or size differ)", said
    if distance is not None and distance <= threshold:
        return "close match", said
    return "in the group through its other photos", said
