"""What to do with the extra photos of duplicate groups: mark, move or
delete them. Shared by ``similar-order --copies`` and ``similar-dupes``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets import ui, util
from beets.exceptions import UserError

from ..dupes import copies
from ..rename import journal
from .renaming import run_journal

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def handle(plugin: SimilarPlugin, lib: Library, found, action: str,
           dry_run: bool, pairs=None) -> list:
    """Mark, move or delete the extra exact copies among ``found``; returns
    the photos left to order (moved and deleted extras are not)."""
    pairs = pairs if pairs is not None else copies.extras(copies.exact_groups(found))
    if not pairs:
        ui.print_("no exact copies")
        return list(found)
    for photo, keep in pairs:
        ui.print_(f"{action}: {util.displayable_path(photo.path)} "
                  f"(same as {util.displayable_path(keep.path)})")
    if dry_run:
        done = {"mark": "marked", "move": "moved", "delete": "deleted"}[action]
        ui.print_(f"dry run: {len(pairs)} copies would be {done}; nothing changed")
        return list(found)
    gone = {photo.id for photo, _ in pairs}
    if action == "mark":
        with lib.transaction():
            copies.tag(pairs)
        ui.print_(f"marked {len(pairs)} copies: duplicate_of=<id of the photo kept>")
        return list(found)
    if action == "move":
        folder = plugin.config["dupes_folder"].as_str()
        steps = copies.move_steps(pairs, folder)
        run_id = journal.start(lib, "move-copies", steps, lambda: copies.tag(pairs))
        outcome = run_journal(plugin, lib, run_id, len(steps))
        ui.print_(f"moved {len(pairs) - len(outcome.errors)} copies to {folder!r} "
                  f"(run {run_id}); `beet similar-undo` brings them back")
    else:  # delete: the only way a photo is ever deleted
        if not ui.input_yn(f"Delete {len(pairs)} exact copies for good? The photo "
                           "kept in each group stays. (yes/no)", require=True):
            raise UserError("nothing deleted")
        for photo, _ in pairs:
            with lib.transaction():
                photo.remove(delete=True)
        ui.print_(f"deleted {len(pairs)} exact copies")
    return [p for p in found if p.id not in gone]
