"""What to do with the extra photos of duplicate groups: mark, move or
delete them. Shared by ``similar-order --copies`` and ``similar-dupes``.

An extra is an *exact copy* when it has the same bytes as the photo kept,
and a *near-duplicate* otherwise; the two are counted apart in every
line and prompt.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import ui, util
from beets.exceptions import UserError

from .. import interrupts
from ..dupes import copies, delete
from ..library import companions
from ..library.photos import import_roots
from ..trash import cli as trash_cli
from . import settings
from .renaming import changing, run_journal, start_run

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def _is_exact(pair) -> bool:
    photo, keep = pair
    return photo.hash == keep.hash


def _counted(pairs) -> str:
    """``3 exact copies and 2 near-duplicates``: only the kinds present."""
    exact = sum(map(_is_exact, pairs))
    near = len(pairs) - exact
    parts = [f"{exact} exact {'copy' if exact == 1 else 'copies'} (same bytes as the "
             "photo kept)"] if exact else []
    if near:
        parts.append(f"{near} near-duplicate{'s' * (near != 1)} (different files that "
                     "only look alike)")
    return " and ".join(parts)


def handle(plugin: SimilarPlugin, lib: Library, found, action: str,
           dry_run: bool, pairs=None) -> list:
    """Mark, move or delete the extras: ``pairs`` of (extra, photo kept),
    by default the extra exact copies among ``found``. Returns the photos
    of ``found`` still in place (moved and deleted extras are not)."""
    keeper = settings.keeper(plugin)
    if pairs is None:
        pairs = copies.extras(copies.exact_groups(found), keeper)
    protected = [p for p, _ in pairs if keeper.protects(p)]
    if protected:  # the keeper never does this; a guard all the same
        raise UserError(f"{util.displayable_path(protected[0].path)} is under "
                        f"{keeper.protects(protected[0])} (similar.keep: path), so it is "
                        "never an extra; nothing done")
    if not pairs:
        ui.print_("no exact copies")
        return list(found)
    if action != "delete":  # a deletion checks each file right before it
        pairs = _checked(plugin, pairs)
    if not pairs:
        ui.print_("nothing to do: every photo kept or every extra failed its check (see above)")
        return list(found)
    pairs = sorted(pairs, key=lambda pair: not _is_exact(pair))  # exact copies first
    for pair in pairs:
        photo, keep = pair
        relation = "same bytes as" if _is_exact(pair) else "looks like"
        ui.print_(f"{action}: {util.displayable_path(photo.path)} "
                  f"({relation} {util.displayable_path(keep.path)})")
    if dry_run:
        done = {"mark": "marked", "move": "moved", "delete": "deleted",
                "trash": "sent to the trash"}[action]
        ui.print_(f"dry run: {_counted(pairs)} would be {done}; nothing changed")
        return list(found)
    if action == "mark":
        with changing(lib), interrupts.deferred() as interrupt:
            with lib.transaction():
                copies.tag(pairs)
            interrupted = interrupt.consume()
        ui.print_(f"marked {_counted(pairs)}: duplicate_of=<id of the photo kept>")
        if interrupted:
            raise UserError("interrupted after marking them; nothing else was done")
        return list(found)
    if action == "move":
        gone = _move(plugin, lib, pairs)
    elif action == "trash":
        with changing(lib):
            gone = trash_cli.trash(plugin, lib, pairs)
    else:
        gone = _delete(plugin, lib, pairs)
    return [p for p in found if p.id not in gone]


def _checked(plugin: SimilarPlugin, pairs) -> list:
    """The pairs whose files hold, now, what the library says: the photo kept
    and the extra are regular files with their recorded bytes (read again),
    and not one file (see :func:`delete.refusal`). A photo kept that fails
    leaves its whole group alone, in one line; an extra that fails, too."""
    hashes: dict[str, str] = {}

    def hash_of(path: str) -> str:
        if path not in hashes:
            hashes[path] = delete.content_hash(path)
        return hashes[path]

    kept_fails: dict[int, str | None] = {}
    by_keeper: dict[int, int] = {}
    for _, keep in pairs:
        by_keeper[keep.id] = by_keeper.get(keep.id, 0) + 1
        if keep.id not in kept_fails:
            kept_fails[keep.id] = delete.keeper_refusal(os.fsdecode(keep.path), keep.hash,
                                                        hash_of)
    out, told = [], set()
    for photo, keep in pairs:
        victim, kept = os.fsdecode(photo.path), os.fsdecode(keep.path)
        if kept_fails[keep.id] is not None:
            if keep.id not in told:
                told.add(keep.id)
                n = by_keeper[keep.id]
                plugin._log.warning("{}: {}; so its group is left alone ({} other photo{})",
                                    util.displayable_path(kept), kept_fails[keep.id], n,
                                    "s" * (n != 1))
            continue
        reason = delete.refusal(victim, photo.hash, kept, keep.hash, hash_of)
        if reason is not None:
            plugin._log.warning("{}: left alone: {}", util.displayable_path(victim), reason)
            continue
        out.append((photo, keep))
    return out


def _move(plugin: SimilarPlugin, lib: Library, pairs) -> set[int]:
    folder = plugin.config["dupes_folder"].as_str()
    try:
        steps = copies.move_steps(pairs, folder, import_roots(lib),
                                  companions.of(lib, [p.id for p, _ in pairs]))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    with changing(lib):
        run_id, left_out = start_run(plugin, lib, "move-copies", steps,
                                     lambda: copies.tag(pairs))
        outcome = run_journal(plugin, lib, run_id, len(steps))
    moved = {photo.id for photo, _ in pairs} - left_out - outcome.failed
    ui.print_(f"moved {_counted([p for p in pairs if p[0].id in moved]) or 'nothing'} "
              f"to {folder!r}"
              + (f" (run {run_id}); `beet similar-undo` brings them back" if moved else ""))
    return moved


def _delete_companions(plugin: SimilarPlugin, victim: str, mine, kept: str, theirs,
                       hash_of) -> None:
    """Delete a deleted photo's companions that the photo kept also has,
    byte for byte (same suffix: .JPG, .xmp, ...); keep the rest, which may
    hold work of their own (edits in a sidecar)."""
    twins = {companions.suffix(c.path, kept): c.path for c in theirs}
    for c in mine:
        twin = twins.get(companions.suffix(c.path, victim))
        try:
            # The same checks as for a photo: it must hold its twin's bytes.
            if twin is not None and delete.refusal(c.path, hash_of(twin), twin, hash_of(twin),
                                                   hash_of) is None:
                os.remove(c.path)
                continue
        except OSError:
            pass
        plugin._log.warning("{}: kept: the photo kept has no identical {}",
                            util.displayable_path(c.path), "file" if c.kind == "pair" else
                            "sidecar")


def _delete(plugin: SimilarPlugin, lib: Library, pairs) -> set[int]:
    """The only way a photo is ever deleted: after a yes, and after checking
    each file again on the disk (see :func:`delete.refusal`)."""
    comps = companions.of(lib, [p.id for pair in pairs for p in pair])
    with_files = sum(1 for photo, _ in pairs if comps.get(photo.id))
    files_note = (f" Companion files of {with_files} of them (sidecars, the other half of "
                  "a pair) go too where the photo kept has an identical one, and stay "
                  "otherwise." if with_files else "")
    if not ui.input_yn(f"Delete {_counted(pairs)} for good? The photo kept in each group "
                       "stays, and each file is checked again just before it goes."
                       f"{files_note} (yes/no)", require=True):
        raise UserError("nothing deleted")
    hashes: dict[str, str] = {}  # each file read once, however many pairs name it

    def hash_of(path: str) -> str:
        if path not in hashes:
            hashes[path] = delete.content_hash(path)
        return hashes[path]

    gone: set[int] = set()
    interrupted = False
    with changing(lib), interrupts.deferred() as interrupt:
        for photo, keep in pairs:
            victim, kept = os.fsdecode(photo.path), os.fsdecode(keep.path)
            reason = delete.refusal(victim, photo.hash, kept, keep.hash, hash_of)
            if reason is None:
                try:
                    os.remove(victim)
                except OSError as exc:
                    reason = f"cannot delete it ({exc.strerror})"
            if reason is not None:
                plugin._log.warning("{}: not deleted: {}", util.displayable_path(victim), reason)
            else:
                photo.remove()
                gone.add(photo.id)
                _delete_companions(plugin, victim, comps.get(photo.id, ()), kept,
                                   comps.get(keep.id, ()), hash_of)
            if interrupted := interrupt.consume():
                break
    refused = len(pairs) - len(gone) if not interrupted else 0
    ui.print_(f"deleted {_counted([p for p in pairs if p[0].id in gone]) or 'nothing'}"
              + (f"; {refused} not deleted (see above)" if refused else ""))
    if interrupted:
        raise UserError("interrupted; the other files were not deleted")
    return gone
