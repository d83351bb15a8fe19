"""``beet similar-undo``: put back the files of the last run that moved
them; ``--list`` shows the runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from beets import ui
from beets.exceptions import UserError

from .. import interrupts
from ..library import decisions
from ..numbers import count
from ..rename import journal, live
from ..trash import cli as trash_cli
from .renaming import run_journal

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin

HELP = "put back the files of the last run that moved them (--list: the runs)"
DESCRIPTION = (
    "Puts back the files of the latest run that moved them and is not undone yet: "
    "similar-order renames and --clear, similar-order --copies move, similar-dupes "
    "--move, and photos sent to the trash. Run it again to go back one more run, "
    "and again, as far as the first; --list shows the runs. A photo deleted since "
    "is left out with one line; sidecars it has gained since go back with it. If "
    "an undo is interrupted, run similar-undo again to finish it.")

KINDS = {"order": "order", "clear": "order --clear", "move-copies": "moved to dupes_folder",
         "trash": "sent to the trash"}
STATES = {"running": "interrupted", "undoing": "undo interrupted", "done": "done",
          "failed": "done, with problems", "undone": "undone"}


def list_runs(lib: Library) -> None:
    runs = journal.runs(lib)
    if not runs:
        ui.print_("no runs yet: nothing to undo")
        return
    holder = live.holder(lib)
    nxt = next((r.id for r in runs if r.undoable), None)
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))
        undoable = ("no (undone)" if r.state == "undone" else
                    "no (it moved nothing)" if not r.undoable else
                    "next" if r.id == nxt else "yes, after the runs above")
        state = STATES.get(r.state, r.state)
        if holder is not None and holder.run_id == r.id:
            state = f"in progress (pid {holder.pid})"
        ui.print_(f"run {r.id}: {when}, {KINDS.get(r.kind, r.kind)}, {r.photos} photo"
                  f"{'s' * (r.photos != 1)}, {state}; undo: {undoable}")


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if args:
        raise UserError("similar-undo takes no query: it undoes whole runs, the latest "
                        "first (see --list)")
    if opts.list:
        list_runs(lib)
        return
    # Ctrl-C before the walk changes nothing; during it, the walk says what
    # to do; after it, the undo is whole.
    with live.holding(lib), interrupts.deferred() as interrupt:
        last = journal.last_undoable(lib)
        if last is None:
            raise UserError("nothing to undo")
        run_id, kind = last
        found = journal.interrupted(lib)
        if interrupt.consume():
            raise UserError("similar-undo interrupted; nothing was changed")
        if found == (run_id, "undoing"):
            ui.print_(f"finishing the undo of run {run_id}, which was interrupted")
        elif found == (run_id, "running"):
            ui.print_(f"rolling back run {run_id}, which was interrupted")
        try:
            if kind == "trash":
                trash_cli.undo(plugin, lib, run_id)
            else:
                _undo_journal(plugin, lib, run_id, kind)
        finally:  # what the run carried out of a review's decisions is open again
            reopened = decisions.reopen(lib, run_id)
        interrupt.consume()
    if reopened:
        ui.print_(f"{count(reopened, 'group')} resolved by this run in `beet similar-review` "
                  f"{'are' if reopened != 1 else 'is'} open again")


def _undo_journal(plugin: SimilarPlugin, lib: Library, run_id: int, kind: str) -> None:
    outcome = run_journal(plugin, lib, run_id, 0, undo=True)
    skipped = len(outcome.skipped)
    problems = len(outcome.failed)
    ui.print_(f"undid run {run_id} ({KINDS.get(kind, kind)}): put back {outcome.counted()}"
              + (f"; {skipped} left as they are (see above)" if skipped else "")
              + (f"; {problems} not put back (see above): run `beet similar-undo` again "
                 "once that is fixed" if problems else ""))
    if kind == "order" and any("replaced by another file" in e for e in outcome.errors):
        # Files copied back from a backup are new files: the journal cannot
        # recognise them, but the names they were imported with are known.
        ui.print_("files copied back (from a backup, say) are not the files this run "
                  "renamed; `beet similar-order --clear` gives the photos their imported "
                  "names back")


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-undo", help=HELP)
    cmd.parser.description = DESCRIPTION
    cmd.parser.add_option("-l", "--list", action="store_true", default=False,
                          help="list the runs (newest first): when, kind, photos, state, "
                               "whether undo can reach them")
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
