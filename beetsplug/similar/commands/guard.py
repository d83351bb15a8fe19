"""What every command says about what happens outside it: a run in
progress in another process or cut off (one line first, for the commands
that only read), and Ctrl-C, a run that keeps the lock, a database
locked for too long (one line and a non-zero status: beets itself ends
silently with status 0 on Ctrl-C, and prints a traceback for a locked
database)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from beets.exceptions import UserError

from .. import interrupts
from ..rename.live import Busy
from .renaming import say_unfinished

if TYPE_CHECKING:
    from beets import ui

    from .. import SimilarPlugin

# What is true after a Ctrl-C that the command does not handle itself
# (the parts that change files or rows handle their own and say more).
AFTER_CTRL_C = {"similar-import": "the photos imported so far are kept; run it again "
                                  "to finish"}
NOTHING_CHANGED = "nothing was changed"
# The commands that only read: they say first when a run is unfinished
# (the others refuse, or finish it; similar-dupes refuses with an action).
READERS = ("similar-ls", "similar-featurize", "similar-calibrate", "similar-dupes",
           "similar-report", "similar-review")


def locked_line(lib) -> str:
    return ("the library database is locked by another program (beets waited "
            f"{lib.timeout:g} seconds); nothing is lost: try again when it is done, or "
            "raise `timeout` in your beets config")


def guarded(plugin: SimilarPlugin, cmd: ui.Subcommand) -> ui.Subcommand:
    """``cmd`` that says first when a run is unfinished (if it only reads),
    and whose Ctrl-C, :class:`Busy` and locked database end in one line
    (a UserError)."""
    func = cmd.func

    def run(lib, opts, args) -> None:
        interrupts.started()
        try:
            if cmd.name in READERS and not getattr(opts, "action", None):
                say_unfinished(plugin, lib)
            func(lib, opts, args)
        except KeyboardInterrupt:
            raise UserError(f"{cmd.name} interrupted; "
                            f"{AFTER_CTRL_C.get(cmd.name, NOTHING_CHANGED)}") from None
        except Busy as exc:
            raise UserError(str(exc)) from None
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise UserError(locked_line(lib)) from None

    cmd.func = run
    return cmd
