"""Bulk: the suggested keepers of every open group, by kind, and what
applying them would send: photos, files (companions included), bytes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..dupes import copies
from ..dupes.kinds import KINDS
from ..library import companions
from ..library.selection import facts
from ..trash import job as trash_job
from . import groups as groups_

if TYPE_CHECKING:
    from beets.library import Library

    from ..keep.rules import Keeper
    from .groups import Group


@dataclass
class Plan:
    """The groups of one kind, the (extra, photo kept) pairs their keepers
    make, and the count of what would go."""

    groups: list[Group] = field(default_factory=list)
    pairs: list = field(default_factory=list)
    count: dict = field(default_factory=dict)


def plan(lib: Library, chosen: Sequence[Group], keeper: Keeper,
         reason: str | None) -> dict[str, Plan]:
    """{kind: Plan} of the groups ``chosen`` whose keeper's reason is
    ``reason`` (any when None), kinds in their usual order (exact first).
    The keeper weighs plain rows (``selection.facts``), as
    ``similar-dupes`` does."""
    weighed = facts(lib, [i for g in chosen for i in g.ids])
    plans: dict[str, Plan] = {}
    wanted: dict[str, list[tuple[int, int]]] = {}  # kind -> (extra id, keeper id)
    for g in chosen:
        members = [weighed[i] for i in g.ids if i in weighed]
        if len(members) < 2:
            continue
        decision = copies.choose(keeper, members)
        if reason not in (None, decision.reason):
            continue
        extra = [(p.id, decision.keep.id) for p in members
                 if p.id != decision.keep.id and p.id not in decision.protected]
        if extra:
            plans.setdefault(g.kind, Plan()).groups.append(g)
            wanted.setdefault(g.kind, []).extend(extra)
    both = list({i for pairs in wanted.values() for pair in pairs for i in pair})
    comps = companions.of(lib, both)  # of the extras and their keepers
    photos = groups_.fetch(lib, both)
    for kind, p in plans.items():
        p.pairs = [(photos[e], photos[k]) for e, k in wanted[kind]
                   if e in photos and k in photos]
        p.count = count(p.pairs, len(p.groups), comps)
    return {k: plans[k] for k in KINDS if k in plans}


def count(pairs, groups: int, comps) -> dict:
    """What a run of ``pairs`` (extra, photo kept) sends: photos, files
    (companions included) and bytes. Sent to the trash, a kept photo
    without a sidecar takes one over (as ``similar-dupes --trash`` does):
    those stay, and the trash counts leave them out."""
    files = len(pairs) + sum(len(comps.get(e.id, ())) for e, _ in pairs)
    size = sum(_size(e.path) + sum(_size(c.path) for c in comps.get(e.id, ()))
               for e, _ in pairs)
    taken = trash_job.adoptions(pairs, comps)
    stay = [c.path for e, parts in taken.items() for c in comps.get(e, ())
            if c.part in {part for part, _ in parts}]
    return {"groups": groups, "photos": len(pairs), "files": files, "bytes": size,
            "kept_sidecars": len(stay), "trash_files": files - len(stay),
            "trash_bytes": size - sum(_size(p) for p in stay)}


def _size(path) -> int:
    try:
        return os.path.getsize(os.fsdecode(path))
    except OSError:
        return 0
