"""``beet similar-undo``: put back the files of the last rename run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets import ui
from beets.exceptions import UserError

from ..rename import journal
from .renaming import run_journal

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    last = journal.last_undoable(lib)
    if last is None:
        raise UserError("nothing to undo")
    run_id, kind = last
    outcome = run_journal(plugin, lib, run_id, 0, undo=True)
    ui.print_(f"undid run {run_id} ({kind}): {outcome.done} steps reversed"
              + (f", {len(outcome.errors)} problems (see above)" if outcome.errors else ""))


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-undo", help="undo the last rename run")
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
