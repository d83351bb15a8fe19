"""What every command checks before it starts, and what happens outside it
said in one line: a misspelled setting under ``similar:``, a run in
progress in another process or cut off (one line first, for the commands
that only read), and Ctrl-C, a run that keeps the lock, a library
database that cannot be written or is locked for too long (one line and a
non-zero status: beets itself ends silently with status 0 on Ctrl-C, and
prints a traceback for a locked database)."""

from __future__ import annotations

import difflib
import sqlite3
from typing import TYPE_CHECKING

from beets import util
from beets.dbcore.db import DBAccessError
from beets.exceptions import UserError

from .. import interrupts
from ..rename.live import Busy, locked_line
from .renaming import say_unfinished

if TYPE_CHECKING:
    from beets import ui
    from beets.library import Library

    from .. import SimilarPlugin

OLD_KEYS = frozenset({"false_positive_rate"})  # still read, replaced by false_matches
# What is true after a Ctrl-C that the command does not handle itself
# (the parts that change files or rows handle their own and say more).
AFTER_CTRL_C = {"similar-import": "the photos imported so far are kept; run it again "
                                  "to finish"}
NOTHING_CHANGED = "nothing was changed"
# The commands that only read: they say first when a run is unfinished
# (the others refuse, or finish it; similar-dupes refuses with an action).
READERS = ("similar-ls", "similar-featurize", "similar-calibrate", "similar-dupes",
           "similar-report", "similar-review")


def check_keys(plugin: SimilarPlugin) -> None:
    """Stop at a key under ``similar:`` that is no setting, naming the
    closest one: a typo (``wieghts:``) must not quietly leave the default
    in force, such as downloading the ImageNet weights."""
    known = plugin.known_keys | OLD_KEYS
    unknown = sorted(set(plugin.config.keys()) - known)
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "see `beet config -d` for the settings"
    raise UserError(f"similar.{key} is not a setting of the similar plugin; {hint} "
                    "(correct or remove it in your config.yaml)")


def read_only(lib: Library, command: str) -> UserError:
    return UserError(f"the library database {util.displayable_path(lib.path)} is read-only "
                     f"and {command} writes to it; make the file and its folder writable")


def _read_only_error(exc: Exception) -> bool:
    if isinstance(exc, DBAccessError):
        return True
    text = str(exc.args[0]) if exc.args else ""
    return isinstance(exc, sqlite3.OperationalError) and (
        "readonly database" in text or "unable to open database file" in text)


def check_writable(lib: Library, command: str) -> None:
    """Stop, before any work, when the library database cannot be written."""
    try:
        with lib.transaction() as tx:  # a write that changes nothing
            tx.mutate("UPDATE similar_counters SET value = value WHERE 0")
    except (DBAccessError, sqlite3.OperationalError) as exc:
        if _read_only_error(exc):
            raise read_only(lib, command) from None
        raise


def guarded(plugin: SimilarPlugin, cmd: ui.Subcommand) -> ui.Subcommand:
    """``cmd`` that checks the settings first and says first when a run
    is unfinished (if it only reads), and whose Ctrl-C, :class:`Busy`,
    read-only or locked database end in one line (a UserError)."""
    func = cmd.func

    def run(lib, opts, args) -> None:
        interrupts.started()
        try:
            check_keys(plugin)
            if cmd.name in READERS and not getattr(opts, "action", None):
                say_unfinished(plugin, lib)
            func(lib, opts, args)
        except KeyboardInterrupt:
            raise UserError(f"{cmd.name} interrupted; "
                            f"{AFTER_CTRL_C.get(cmd.name, NOTHING_CHANGED)}") from None
        except Busy as exc:
            raise UserError(str(exc)) from None
        except (DBAccessError, sqlite3.OperationalError) as exc:
            if _read_only_error(exc):
                raise read_only(lib, cmd.name) from None
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise UserError(locked_line(lib)) from None

    cmd.func = run
    return cmd
