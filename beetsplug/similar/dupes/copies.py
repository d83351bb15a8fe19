"""Groups of duplicates: which photo to keep, and what to do with the rest.

The extras can be tagged (flexible attribute ``duplicate_of``), moved to
a folder (journaled, so ``similar-undo`` brings them back) or, only on
explicit request, deleted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..rename.planner import Step, plan

if TYPE_CHECKING:
    from ..library.models import Photo


def exact_groups(photos: Iterable[Photo]) -> list[list[Photo]]:
    """Photos sharing a content hash, two or more to a group."""
    by_hash: dict[str, list[Photo]] = {}
    for photo in photos:
        by_hash.setdefault(photo.hash, []).append(photo)
    return [g for g in by_hash.values() if len(g) > 1]


def keeper(group: Sequence[Photo]) -> Photo:
    """The photo to keep: largest resolution, then oldest (date taken,
    then file time), then first imported."""
    def key(p: Photo):
        return (-(p.width * p.height), p.taken or float("inf"), p.mtime, p.id)

    return min(group, key=key)


def extras(groups: Iterable[Sequence[Photo]]) -> list[tuple[Photo, Photo]]:
    """(extra, its keeper) for every photo that is not its group's keeper."""
    out = []
    for group in groups:
        keep = keeper(group)
        out.extend((p, keep) for p in group if p.id != keep.id)
    return out


def move_steps(pairs: Sequence[tuple[Photo, Photo]], folder: str) -> list[Step]:
    """Steps moving each extra into ``folder``: relative to the photo's own
    folder, or absolute."""
    wanted = []
    for photo, _ in pairs:
        src = os.fsdecode(photo.path)
        target_dir = folder if os.path.isabs(folder) else os.path.join(os.path.dirname(src), folder)
        wanted.append((photo.id, src, os.path.join(target_dir, os.path.basename(src))))
    return plan(wanted)


def tag(pairs: Sequence[tuple[Photo, Photo]]) -> None:
    """Set ``duplicate_of`` (the keeper's id) on each extra."""
    for photo, keep in pairs:
        photo["duplicate_of"] = keep.id
        photo.store()
