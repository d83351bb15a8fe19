"""What every command checks before it starts, and the database errors it
ends with in one line: a misspelled setting under ``similar:`` and a
library database that cannot be written."""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from beets import util
from beets.dbcore.db import DBAccessError
from beets.exceptions import UserError

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin

OLD_KEYS = frozenset({"false_positive_rate"})  # still read, replaced by false_matches


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


def guarded(plugin: SimilarPlugin, name: str, func: Callable) -> Callable:
    """``func`` (a command's) after :func:`check_keys`, with the database
    errors of a read-only library said in one line."""
    def run(lib: Library, opts, args: list[str]):
        check_keys(plugin)
        try:
            return func(lib, opts, args)
        except (DBAccessError, sqlite3.OperationalError) as exc:
            if _read_only_error(exc):
                raise read_only(lib, name) from None
            raise
    return run
