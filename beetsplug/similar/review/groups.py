"""The review's groups: found as ``similar-dupes`` finds them, less those
already decided, and what the page shows of one group.

Each group is read from the library only when the page asks for it, so
opening thousands of groups costs one grouping pass and no more.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets import dbcore

from ..dupes import copies
from ..dupes import job as dupes_job
from ..keep import score
from ..library import companions, decisions
from ..library.models import Photo
from ..library.selection import select
from . import evidence, fields

if TYPE_CHECKING:
    from beets.library import Library

    from ..keep.rules import Keeper

CLOSED = ("resolved", "kept_all")  # decided groups: they never come back
STATES = {"open": "open", "resolved": "resolved", "kept_all": "kept all (not duplicates)",
          "skipped": "skipped"}
_CHUNK = 900


@dataclass
class Settings:
    keeper: Keeper
    formats: Sequence[str]
    dupes_folder: str
    # What the evidence is measured with: the vectors' settings key, the
    # network's threshold, the copy distance and the second check.
    key: str = ""
    threshold: float = 0.0
    copy_distance: float | None = None
    check: dupes_job.NearCheck | None = None


@dataclass
class Group:
    index: int
    kind: str  # exact, copy, burst, similar
    ids: tuple[int, ...]  # photo ids, in the query's order
    key: str  # decisions.group_key(ids)
    state: str = "open"  # open, resolved, kept_all, skipped


def find(lib: Library, query: Sequence[str], sort: str, kinds: Sequence[str], key: str,
         threshold: float, copy_distance: float | None, burst_gap: float,
         check: dupes_job.NearCheck | None = None) -> list[Group]:
    """The groups of ``kinds`` among the photos matching ``query`` (as
    ``similar-dupes`` finds them), less resolved and kept-all groups and
    groups whose photos were all marked "not duplicates" of each other."""
    sel = select(lib, query, sort)
    near = any(k != "exact" for k in kinds)
    found, _ = dupes_job.duplicate_groups(lib, sel, key, threshold, exact_only=not near,
                                          copy_distance=copy_distance, burst_gap=burst_gap,
                                          check=check)
    states = decisions.states(lib)
    apart = decisions.not_duplicates(lib)
    out: list[Group] = []
    for g in found:
        if g.kind not in kinds:
            continue
        ids = tuple(int(i) for i in sel.ids[g.rows])
        gkey = decisions.group_key(ids)
        state = states.get(gkey, ("open",))[0]
        if state in CLOSED or _all_apart(ids, apart):
            continue
        out.append(Group(len(out), g.kind, ids, gkey, state))
    return out


def _all_apart(ids: Sequence[int], apart) -> bool:
    """Every two photos of ``ids`` were said not to be duplicates."""
    return all((min(a, b), max(a, b)) in apart for n, a in enumerate(ids) for b in ids[n + 1:])


def version(state: str, present: Sequence[int]) -> str:
    """What a page saw of a group: its state and the photos still in the
    library. An action is refused when it is no longer so."""
    return f"{state}:{decisions.group_key(present)}"


def change(seen: str, now: str) -> str:
    """What changed between two versions, in words."""
    state, _, ids = seen.partition(":")
    state_now, _, ids_now = now.partition(":")
    if state != state_now:
        return f"it is {STATES.get(state_now, state_now)} now"
    before, after = set(filter(None, ids.split(","))), set(filter(None, ids_now.split(",")))
    left, back = len(before - after), len(after - before)
    return (f"{left} of its photos left the library" if left
            else f"{back} of its photos came back to the library")


def present(lib: Library, ids: Sequence[int]) -> set[int]:
    """The ``ids`` still in the library."""
    out: set[int] = set()
    ids = list(ids)
    with lib.transaction() as tx:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            out.update(i for (i,) in tx.query(
                f"SELECT id FROM {Photo._table} WHERE id IN ({','.join('?' * len(chunk))})",
                chunk))
    return out


def fetch(lib: Library, ids: Sequence[int]) -> dict[int, Photo]:
    """{id: Photo} of the ``ids`` still in the library."""
    out: dict[int, Photo] = {}
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        out.update((p.id, p) for p in lib._fetch(
            Photo, dbcore.query.InQuery("id", ids[start:start + _CHUNK])))
    return out


def _when(taken: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(taken)) if taken else "unknown"


def _cells(photo: Photo, comps, formats: Sequence[str]) -> dict[str, tuple]:
    """A photo's fields for :func:`fields.differences`."""
    parts = score.parts(photo, formats)
    sidecars = [companions.suffix(c.path, os.fsdecode(photo.path)) for c in comps
                if c.kind == "sidecar"]
    paired = [companions.suffix(c.path, os.fsdecode(photo.path)) for c in comps
              if c.kind == "pair"]
    pixels = (photo.width or 0) * (photo.height or 0)
    return {
        "size": (photo.size, fields.size_text(photo.size or 0)),
        "pixels": (pixels, f"{photo.width}x{photo.height}"),
        "date": (photo.taken or None, _when(photo.taken)),
        "camera": (None, photo.camera or "unknown"),
        "quality": (parts.quality, f"{parts.quality:.2f}"),
        "sharpness": (parts.sharpness, f"{parts.sharpness:.2f}"),
        "exposure": (parts.exposure, f"{parts.exposure:.2f}"),
        "metadata": (parts.metadata, f"{parts.metadata:.2f}"),
        "format": (score.format_rank(photo.format or "", formats),
                   " + ".join([photo.format or "?", *(s.lstrip(".") for s in paired)])),
        "sidecars": (len(sidecars), " ".join(sidecars) or "none"),
        "folder": (None, os.path.dirname(os.fsdecode(photo.path))),
    }


def details(lib: Library, group: Group, settings: Settings, notes: dict[int, str]) -> dict:
    """What the page shows of ``group``: its photos (those gone from the
    library listed apart), each with how strongly it matches the suggested
    keeper, its date, camera and folder; the suggested keeper and why,
    the fields that differ, ``notes`` (why a file stayed) and the group's
    version (see :func:`version`)."""
    found = fetch(lib, group.ids)
    members = [found[i] for i in group.ids if i in found]
    comps = companions.of(lib, [p.id for p in members])
    cells = [_cells(p, comps.get(p.id, ()), settings.formats) for p in members]
    decision = copies.choose(settings.keeper, members) if members else None
    measured = evidence.measured(lib, settings.key, group.kind, members, decision.keep,
                                 settings.check) if decision else {}
    photos = []
    for p, c in zip(members, cells):
        match = ("", "") if p.id == decision.keep.id else evidence.words(
            p, decision.keep, *measured.get(p.id, (None, None)), settings.threshold)
        photos.append({
            "id": p.id,
            "name": os.path.basename(os.fsdecode(p.path)),
            "folder": c["folder"][1],
            "taken": _when(p.taken) if p.taken else "date unknown",
            "camera": p.camera or "camera unknown",
            "size": p.size,
            "width": p.width,
            "height": p.height,
            "files": 1 + len(comps.get(p.id, ())),
            "reference": p.id in decision.protected,
            "match": match[0],
            "evidence": match[1],
            "note": notes.get(p.id, ""),
        })
    return {
        "index": group.index,
        "kind": group.kind,
        "key": group.key,
        "state": group.state,
        "version": version(group.state, [p.id for p in members]),
        "keep": decision.keep.id if decision else None,
        "reason": decision.reason if decision else "",  # short: the bulk dialog's filter
        "said": decision.said if decision else "",  # with its figures
        "photos": photos,
        "gone": [i for i in group.ids if i not in found],
        "differences": fields.differences(cells),
    }
