"""Groups of duplicates: which photo to keep, and what to do with the rest.

The extras can be tagged (flexible attribute ``duplicate_of``), moved to
a folder (journaled, so ``similar-undo`` brings them back) or, only on
explicit request, deleted.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..keep.rules import Decision, Keeper
from ..library.companions import Companion
from ..rename.planner import Step, plan_units
from .delete import on_disk

if TYPE_CHECKING:
    from ..library.models import Photo


def exact_groups(photos: Iterable[Photo]) -> list[list[Photo]]:
    """Photos sharing a content hash, two or more to a group."""
    by_hash: dict[str, list[Photo]] = {}
    for photo in photos:
        by_hash.setdefault(photo.hash, []).append(photo)
    return [g for g in by_hash.values() if len(g) > 1]


def gone(group: Iterable) -> set[int]:
    """Ids of the photos of ``group`` whose files are gone."""
    return {p.id for p in group if not on_disk(os.fsdecode(p.path))}


def choose(keeper: Keeper, group: Sequence, gone_ids: Collection[int] | None = None,
           ) -> Decision:
    """The keeper's decision among the photos of ``group`` whose files are
    there: a row whose file is gone (moved or renamed outside the library;
    ``gone_ids`` when the caller looked already) is never kept over a real
    file. ``protected`` covers the whole group."""
    gone_ids = gone(group) if gone_ids is None else gone_ids
    present = [p for p in group if p.id not in gone_ids]
    decision = keeper.choose(present or group)
    reason, detail = decision.reason, decision.detail
    if len(present) == 1 < len(group) and reason == "the only photo":
        reason = "the others' files are gone"
    protected = frozenset(p.id for p in group if keeper.protects(p))
    return Decision(decision.keep, reason, protected, detail)


def extras(groups: Iterable[Sequence[Photo]], keeper: Keeper) -> list[tuple[Photo, Photo]]:
    """(extra, the photo kept) for every photo of ``groups`` that is neither
    kept (see :func:`choose`) nor under a reference folder."""
    out = []
    for group in groups:
        decision = choose(keeper, group)
        out.extend((p, decision.keep) for p in group
                   if p.id != decision.keep.id and p.id not in decision.protected)
    return out


def dupes_dir(photo_path: str, folder: str, roots: Sequence[str]) -> str:
    """Where ``folder`` (``similar.dupes_folder``) puts the extra at
    ``photo_path``: an absolute folder as named (``~`` expanded), or one
    relative to the photo's own folder. A relative one must stay inside the
    photo's folder or a folder given to ``similar-import`` (``roots``);
    raises ValueError, with a one-line message, when it does not."""
    folder = os.path.expanduser(folder)
    if os.path.isabs(folder):
        return os.path.normpath(folder)
    home = os.path.dirname(photo_path)
    target = os.path.normpath(os.path.join(home, folder))
    if target == home:
        raise ValueError(f"similar.dupes_folder {folder!r} is the photo's own folder; "
                         "name another folder, such as 'duplicates'")
    if not any(target == top or target.startswith(os.path.join(top, ""))
               for top in (home, *roots)):
        raise ValueError(f"similar.dupes_folder {folder!r} would move "
                         f"{os.path.basename(photo_path)!r} to {target}, outside every "
                         "folder you imported; give an absolute folder if you mean it")
    return target


def move_steps(pairs: Sequence[tuple[Photo, Photo]], folder: str,
               roots: Sequence[str] = (),
               companions_of: Mapping[int, Sequence[Companion]] | None = None) -> list[Step]:
    """Steps moving each extra, with its companions, into ``folder`` (see
    :func:`dupes_dir`)."""
    companions_of = companions_of or {}
    units = []
    for photo, _ in pairs:
        src = os.path.normpath(os.fsdecode(photo.path))
        target_dir = dupes_dir(src, folder, roots)
        files = [src] + [c.path for c in companions_of.get(photo.id, ())]
        units.append((photo.id, [(f, os.path.join(target_dir, os.path.basename(f)))
                                 for f in files]))
    return plan_units(units)


def tag(pairs: Sequence[tuple[Photo, Photo]]) -> None:
    """Set ``duplicate_of`` (the keeper's id) on each extra."""
    for photo, keep in pairs:
        photo["duplicate_of"] = keep.id
        photo.store()
