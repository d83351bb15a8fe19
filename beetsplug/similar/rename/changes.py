"""What changed since a run began, for the walk that finishes or undoes it.

A photo deleted through the plugin, or one that has since become another
photo's companion, has no row of its own: that is a known fact, so its
steps are skipped with one line each and the run still finishes. A
companion a photo has now that the run did not move (a sidecar written
beside the renamed photo and imported since) is journaled into the run,
to go with its photo under the same stem; like any step it can then be
resumed or undone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from beets import util

from ..library import companions
from ..library.paths import from_db
from .planner import file_id

if TYPE_CHECKING:
    from beets.library import Library

_CHUNK = 900


def _norm(path: str) -> str:
    return os.path.normcase(os.path.normpath(path))


def _present(lib: Library, pids: Sequence[int]) -> dict[int, str]:
    """{photo id: path} of the photos that still have a row."""
    out: dict[int, str] = {}
    with lib.transaction() as tx:
        for start in range(0, len(pids), _CHUNK):
            chunk = pids[start:start + _CHUNK]
            out.update((pid, from_db(lib, path)) for pid, path in tx.query(
                f"SELECT id, path FROM similar_photos WHERE id IN ({','.join('?' * len(chunk))})",
                chunk))
    return out


def set_companion_path(tx, photo_id: int, places: Sequence[str], path: str) -> None:
    """Point the photo's companion row found at any of ``places`` at ``path``
    (by name, not by part: a re-import may have numbered its companions
    anew)."""
    tx.mutate(f"UPDATE similar_companions SET path=? WHERE photo_id=? AND path IN "
              f"({','.join('?' * len(places))})",
              (os.fsencode(path), photo_id, *(os.fsencode(p) for p in places)))


def prepare(lib: Library, run_id: int, rows, backwards: bool) -> list[str]:
    """Skip the steps of photos gone from the library and journal the
    companions that joined a photo since; returns one line per photo
    skipped. ``rows`` are all the run's steps, in order."""
    todo = {"done", "pending"} if backwards else {"pending"}
    pids = sorted({r.key[0] for r in rows if r.state in todo})
    if not pids:
        return []
    present = _present(lib, pids)
    gone = [p for p in pids if p not in present]
    have = companions.of(lib, list(present))
    needed = set(gone) | set(have)
    by_photo: dict[int, list] = {}  # the steps of the photos that need a look
    for r in rows:
        if r.key[0] in needed:
            by_photo.setdefault(r.key[0], []).append(r)
    lines = _skip(lib, run_id, by_photo, gone, todo)
    _adopt(lib, run_id, rows, by_photo, have, present, backwards)
    return lines


def _skip(lib: Library, run_id: int, by_photo, gone: Sequence[int], todo) -> list[str]:
    lines = []
    with lib.transaction() as tx:
        for pid in gone:
            mine = [r for r in by_photo[pid] if r.key[1] == 0] or by_photo[pid]
            done = [r for r in mine if r.state == "done"]
            now = done[-1].dst if done else mine[0].src
            names = [p for r in mine for p in (r.src, r.dst)]
            owner = tx.query(
                "SELECT p.path FROM similar_companions c JOIN similar_photos p "
                f"ON p.id = c.photo_id WHERE c.path IN ({','.join('?' * len(names))}) LIMIT 1",
                [os.fsencode(n) for n in names])
            shown = util.displayable_path(os.path.basename(now))
            if owner:
                lines.append(f"{shown}: now a companion of "
                             f"{util.displayable_path(os.path.basename(owner[0][0]))}, "
                             f"which run {run_id} did not move; left as it is")
            else:
                lines.append(f"{shown}: no longer in the library (deleted since run "
                             f"{run_id}); left as it is")
            marks = ",".join("?" * len(todo))
            tx.mutate(f"UPDATE similar_journal SET state='skipped' WHERE run_id=? AND "
                      f"photo_id=? AND state IN ({marks})", (run_id, pid, *sorted(todo)))
    return lines


def _adopt(lib: Library, run_id: int, rows, by_photo, have, present: dict[int, str],
           backwards: bool) -> None:
    """Journal each photo's companions (``have``) that the run does not
    move: to the photo's name before the run (``backwards``) or after it,
    same stem."""
    seq = max((r.seq for r in rows), default=-1)
    new = []
    for pid, comps in have.items():
        mine = by_photo[pid]
        photo = [r for r in mine if r.key[1] == 0]
        if not photo:
            continue  # the photo itself does not move in this run
        home = photo[0].src if backwards else photo[-1].dst
        known = {_norm(p) for r in mine for p in (r.src, r.dst)}
        stem_now = os.path.splitext(os.path.basename(present[pid]))[0]
        stem_home = os.path.splitext(os.path.basename(home))[0]
        part = max(r.key[1] for r in mine)
        for c in comps:
            name = os.path.basename(c.path)
            if _norm(c.path) in known or not name.startswith(stem_now):
                continue
            target = os.path.join(os.path.dirname(home),
                                  stem_home + companions.suffix(c.path, present[pid]))
            if _norm(target) == _norm(c.path):
                continue
            try:
                dev, ino = file_id(c.path)
            except OSError:
                continue  # not there: nothing to move
            seq, part = seq + 1, part + 1
            src, dst = (target, c.path) if backwards else (c.path, target)
            new.append((run_id, seq, pid, part, os.fsencode(src), os.fsencode(dst),
                        "done" if backwards else "pending", dev, ino))
    if new:
        with lib.transaction() as tx:
            tx.mutate_many(
                "INSERT INTO similar_journal (run_id, seq, photo_id, part, src, dst, state, "
                "dev, ino) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", new)
