"""Paths read from the database with plain SQL.

beets stores the paths of files under its ``directory:`` relative to it;
``Photo.path`` expands them, a plain SQL column does not. Every path read
with SQL goes through :func:`from_db`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import context
from beets.dbcore.pathutils import expand_path_from_db

if TYPE_CHECKING:
    from beets.library import Library


def from_db(lib: Library, raw: bytes | memoryview | str) -> str:
    """The absolute path of a ``path`` column's value ``raw``, in any thread."""
    if isinstance(raw, memoryview):
        raw = bytes(raw)
    if isinstance(raw, str):
        raw = os.fsencode(raw)
    if os.path.isabs(raw):  # most paths: nothing to expand
        return os.fsdecode(raw)
    with context.music_dir(lib.directory):
        return os.fsdecode(expand_path_from_db(raw))
