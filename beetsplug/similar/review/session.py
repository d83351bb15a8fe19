"""One review: its groups, what was done to them, and the actions, each
through the command line's own code and committed before it answers.

Trash through ``trash.job`` (as ``similar-dupes --trash``), moves through
the rename journal (as ``--move``), decisions in ``library.decisions``;
``undo`` reverses the last action with the code ``similar-undo`` runs.
All library work holds ``lock``: one action at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..dupes import copies
from ..dupes.kinds import KINDS
from ..library import companions, decisions
from ..library.models import Photo
from ..library.paths import from_db
from ..library.photos import import_roots
from ..rename import journal, live
from ..trash import job as trash_job
from . import bulk as bulk_
from . import groups as groups_
from .groups import Group, Settings

if TYPE_CHECKING:
    from beets.library import Library

ACTIONS = ("trash", "move")


class ReviewError(Exception):
    """A request that cannot be done; the message says why (shown on the page)."""


class NotFound(ReviewError):
    pass


@dataclass
class Done:
    """What one action did, kept for ``undo``."""

    what: str  # trash, move, keep_all, skip
    at: int  # the (first) group it was done on
    keys: list[tuple[int, str]]  # (group index, key) decided by it
    before: dict[str, str]  # key -> state before
    run_id: int | None = None
    ids: list[int] = field(default_factory=list)  # keep_all: the photos
    files: int = 0
    bytes: int = 0


class Review:
    def __init__(self, lib: Library, found: list[Group], settings: Settings) -> None:
        self.lib, self.groups, self.settings = lib, found, settings
        self.lock = threading.RLock()
        self.notes: dict[int, dict[int, str]] = {}  # group index -> {photo id: why it stayed}
        self.done: list[Done] = []
        by_key = {g.key: g.index for g in found}
        self.start = by_key.get(decisions.position(lib), 0) if found else 0

    # Reading.

    def group(self, index: int) -> Group:
        if not 0 <= index < len(self.groups):
            raise NotFound(f"no group {index}; the review has {len(self.groups)}")
        return self.groups[index]

    def _sync(self, groups: Sequence[Group] | None = None) -> None:
        """The groups' states (all when None) as the library has them:
        another review, or ``similar-undo`` of the run that resolved a
        group, changes them."""
        if groups is not None and len(groups) == 1:  # one group: one row read
            groups[0].state = decisions.state_of(self.lib, groups[0].key) or "open"
            return
        states = decisions.states(self.lib)
        for g in self.groups if groups is None else groups:
            g.state = states.get(g.key, ("open",))[0]

    def state(self) -> dict:
        with self.lock:
            self._sync()
            with self.lib.transaction() as tx:
                undone = {r for (r,) in tx.query("SELECT id FROM similar_runs "
                                                 "WHERE state='undone'")}
        # What this review's actions moved, less the runs undone since (by
        # `similar-undo`: the page's own undo drops its action).
        runs = [d for d in self.done if d.run_id is not None and d.run_id not in undone]
        counts: dict[str, int] = {}
        for g in self.groups:
            if g.state not in groups_.CLOSED:
                counts[g.kind] = counts.get(g.kind, 0) + 1
        return {"total": len(self.groups), "start": self.start,
                "resolved": sum(g.state in groups_.CLOSED for g in self.groups),
                "freed_files": sum(d.files for d in runs if d.what == "trash"),
                "freed_bytes": sum(d.bytes for d in runs if d.what == "trash"),
                "moved_files": sum(d.files for d in runs if d.what == "move"), "open": counts,
                "undo": self.done[-1].what if self.done else None}

    def listing(self, offset: int, limit: int) -> list[dict]:
        """Groups ``offset`` on (at most 500): kind, photos still in the
        library, the first of them (a thumbnail for the overview), state."""
        chunk = self.groups[max(0, offset):max(0, offset) + max(0, min(limit, 500))]
        with self.lock:
            self._sync(chunk)
            here = groups_.present(self.lib, [i for g in chunk for i in g.ids])
        out = []
        for g in chunk:
            ids = [i for i in g.ids if i in here]
            out.append({"index": g.index, "kind": g.kind, "count": len(ids),
                        "cover": ids[0] if ids else None, "state": g.state})
        return out

    def details(self, index: int) -> dict:
        group = self.group(index)
        with self.lock:
            self._sync([group])
            return groups_.details(self.lib, group, self.settings, self.notes.get(index, {}))

    def photo_file(self, photo_id: int) -> tuple[str, str]:
        """(path, hash) of a photo in the library; NotFound otherwise."""
        with self.lock, self.lib.transaction() as tx:
            rows = tx.query(f"SELECT path, hash FROM {Photo._table} WHERE id=?", (photo_id,))
        if not rows:
            raise NotFound(f"no photo {photo_id} in the library")
        return from_db(self.lib, rows[0][0]), rows[0][1]

    def remember(self, index: int) -> None:
        """Where the review is: the next ``similar-review`` starts there."""
        group = self.group(index)
        with self.lock:
            decisions.set_position(self.lib, group.key)
            self.start = index  # a reloaded page starts here too

    # Acting. ``seen`` is the group's version as the page showed it: a
    # group changed since (in another tab, by another command) is refused.

    def _unchanged(self, group: Group, present: Sequence[int], seen: str | None) -> None:
        now = groups_.version(group.state, present)
        if seen is not None and seen != now:
            raise ReviewError(f"group {group.index + 1} changed since this page showed it "
                              f"({groups_.change(seen, now)}); it is shown as it is now")

    def apply(self, index: int, keep_ids: Sequence[int], action: str,
              seen: str | None = None) -> dict:
        """Keep the photos ``keep_ids`` (the first is the one the others
        are duplicates of; reference folders are always kept) and trash or
        move the others. The group is resolved when none of them stayed."""
        if action not in ACTIONS:
            raise ReviewError(f"unknown action {action!r}; use trash or move")
        group = self.group(index)
        with self.lock:
            self._sync([group])
            found = groups_.fetch(self.lib, group.ids)
            members = [found[i] for i in group.ids if i in found]
            self._unchanged(group, [p.id for p in members], seen)
            keep = [int(i) for i in keep_ids if int(i) in found]
            if not keep:
                raise ReviewError("mark at least one photo to keep")
            protected = self.settings.keeper.choose(members).protected if members else ()
            pairs = [(p, found[keep[0]]) for p in members
                     if p.id not in keep and p.id not in protected]
            if not pairs:
                raise ReviewError("every photo is kept; press a to keep all (not duplicates)")
            done, refused = self._act(action, pairs, [group])
            return {"done": done, "refused": {str(k): v for k, v in refused.items()},
                    "stayed": _stayed(pairs, refused), "state": group.state}

    def bulk_count(self, reason: str | None) -> dict:
        """What the bulk dialog lists: per kind, the groups, photos, files
        and bytes that would go (see :meth:`_plan`)."""
        with self.lock:
            plans = bulk_.plan(self.lib, self._open(None), self.settings.keeper, reason)
        return {"kinds": {kind: plan.count for kind, plan in plans.items()}}

    def bulk(self, kind: str, reason: str | None, action: str, expect: dict) -> dict:
        """Apply the suggested keepers of the open groups of ``kind`` as one
        run, if they are still what the dialog counted (``expect``: its
        groups and photos)."""
        if action not in ACTIONS:
            raise ReviewError(f"unknown action {action!r}; use trash or move")
        if kind not in KINDS:
            raise ReviewError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        with self.lock:
            plan = bulk_.plan(self.lib, self._open(kind), self.settings.keeper,
                              reason).get(kind)
            count = plan.count if plan else {"groups": 0, "photos": 0}
            if (count["groups"], count["photos"]) != (expect.get("groups"), expect.get("photos")):
                raise ReviewError(
                    f"the {kind} groups changed since the count (now {_n(count['groups'], 'group')}"
                    f", {_n(count['photos'], 'photo')}); nothing was done: count again")
            if not plan:
                raise ReviewError(f"no open {kind} group to apply")
            done, refused = self._act(action, plan.pairs, plan.groups)
            return {**count, "done": done, "refused": len(refused),
                    "stayed": _stayed(plan.pairs, refused)}

    def _open(self, kind: str | None) -> list[Group]:
        """The groups of ``kind`` (all when None) not decided for good."""
        self._sync()
        return [g for g in self.groups if g.state not in groups_.CLOSED
                and kind in (None, g.kind)]

    def _act(self, action: str, pairs, chosen: list[Group]) -> tuple[int, dict[int, str]]:
        """Trash or move the extras of ``pairs``; resolve each group of
        ``chosen`` none of whose extras stayed. Returns (photos done,
        {photo id: why it stayed}). An action that did nothing (every
        photo stayed) is not one ``undo`` reverses."""
        # Checked again on the photos themselves, as the command line does.
        guarded = {e.id: "it is under a reference folder (similar.keep: path:...)"
                   for e, _ in pairs if self.settings.keeper.protects(e)}
        pairs = [pair for pair in pairs if pair[0].id not in guarded]
        # As the command line: nothing moves while a run is unfinished (the
        # library's paths may lag behind its files), and none starts meanwhile.
        with live.holding(self.lib):
            unfinished = journal.unfinished_line(self.lib, " first")
            if unfinished is not None:
                raise ReviewError(unfinished)
            if action == "trash":
                # As the command line: a keeper without a sidecar takes one over.
                outcome = trash_job.trash_extras(self.lib, pairs, sidecars=trash_job.ADOPT)
                run_id, refused = outcome.run_id, dict(outcome.refused)
                files, size = outcome.files, outcome.bytes
            else:
                run_id, refused, files = self._move(pairs)
                size = 0
        done = len(pairs) - len(refused)
        refused.update(guarded)
        before = {}
        for g in chosen:
            self.notes[g.index] = {i: refused[i] for i in g.ids if i in refused}
            if refused.keys().isdisjoint(g.ids):
                before[g.key] = g.state
                decisions.mark(self.lib, g.key, "resolved", run_id)
                g.state = "resolved"
        if done or before:
            self.done.append(Done(action, chosen[0].index,
                                  [(g.index, g.key) for g in chosen if g.key in before],
                                  before, run_id, files=files, bytes=size))
        return done, refused

    def _move(self, pairs) -> tuple[int | None, dict[int, str], int]:
        """Move the extras to ``similar.dupes_folder``, journaled, as
        ``similar-dupes --move``: (run id, {photo id: why not}, files moved)."""
        comps = companions.of(self.lib, [p.id for p, _ in pairs])
        try:
            steps = copies.move_steps(pairs, self.settings.dupes_folder,
                                      import_roots(self.lib), comps)
        except ValueError as exc:
            raise ReviewError(str(exc)) from None
        if not steps:
            return None, {}, 0
        run_id, refused = journal.start(self.lib, "move-copies", steps,
                                        lambda: copies.tag(pairs))
        outcome = journal.resume(self.lib, run_id, fresh=True)
        why = "; ".join(outcome.errors) or "it could not be moved"
        refused.update({pid: why for pid in outcome.failed})
        moved = {p.id for p, _ in pairs} - set(refused)
        return run_id, refused, sum(1 + len(comps.get(i, ())) for i in moved)

    def keep_all(self, index: int, seen: str | None = None) -> dict:
        """Not duplicates: remembered, the group never comes back."""
        group = self.group(index)
        with self.lock:
            ids = self._present(group, seen)
            if len(ids) < 2:
                raise ReviewError("only one photo of this group is left in the library: "
                                  "nothing to keep apart")
            decisions.add_not_duplicates(self.lib, ids)
            return self._decide(group, "kept_all", "keep_all", ids=ids)

    def skip(self, index: int, seen: str | None = None) -> dict:
        group = self.group(index)
        with self.lock:
            self._present(group, seen)
            return self._decide(group, "skipped", "skip")

    def _present(self, group: Group, seen: str | None) -> list[int]:
        """The group's photos still in the library, once it is known
        unchanged since the page showed it."""
        self._sync([group])
        here = groups_.present(self.lib, group.ids)
        ids = [i for i in group.ids if i in here]
        self._unchanged(group, ids, seen)
        return ids

    def _decide(self, group: Group, state: str, what: str, ids=()) -> dict:
        self.done.append(Done(what, group.index, [(group.index, group.key)],
                              {group.key: group.state}, ids=list(ids)))
        decisions.mark(self.lib, group.key, state)
        group.state = state
        return {"state": state}

    def undo(self) -> dict:
        """Reverse the last action: its files back (trash or journal, as
        ``similar-undo``), its decisions removed."""
        with self.lock:
            if not self.done:
                raise ReviewError("nothing to undo in this review")
            last = self.done[-1]
            errors: list[str] = []
            # `similar-undo` may have put the files back already.
            back = last.run_id is not None and _run_state(self.lib, last.run_id) == "undone"
            newest = journal.last_undoable(self.lib) if last.run_id is not None else None
            if not back and newest is not None and newest[0] > last.run_id:
                # A later run may have moved the same files: as similar-undo,
                # newest first.
                raise ReviewError(f"run {newest[0]} came after this action and is not "
                                  "undone: `beet similar-undo` undoes it first (runs go back "
                                  "newest first)")
            if last.what == "trash":
                if last.run_id is not None and not back:
                    errors = _errors(trash_job.undo_run(self.lib, last.run_id))
            elif last.what == "move":
                if last.run_id is not None and not back:
                    errors = journal.undo(self.lib, last.run_id).errors
            elif last.what == "keep_all":
                decisions.remove_not_duplicates(self.lib, last.ids)
            self.done.pop()
            for index, key in last.keys:
                decisions.unmark(self.lib, key)
                if last.before.get(key, "open") not in ("open", *groups_.CLOSED):
                    decisions.mark(self.lib, key, last.before[key])
                self.groups[index].state = last.before.get(key, "open")
            for index in {last.at, *(i for i, _ in last.keys)}:
                self.notes.pop(index, None)
            return {"undone": last.what, "index": last.at, "errors": errors, "already": back}


def _stayed(pairs, refused: dict[int, str]) -> list[dict]:
    """The photos that stayed, by file name, and why."""
    names = {e.id: os.path.basename(os.fsdecode(e.path)) for e, _ in pairs}
    return [{"id": pid, "name": names[pid], "why": why} for pid, why in refused.items()]


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _run_state(lib: Library, run_id: int) -> str | None:
    with lib.transaction() as tx:
        rows = tx.query("SELECT state FROM similar_runs WHERE id=?", (run_id,))
    return rows[0][0] if rows else None


def _errors(outcome) -> list[str]:
    """The problems a trash undo reported, and where files it could not put back are."""
    return [str(e) for e in (*outcome.errors, *outcome.elsewhere)]
