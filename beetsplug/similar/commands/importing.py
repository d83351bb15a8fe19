"""``beet similar-import PATH...``: add photos to the library, in place."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import plugins, ui, util
from beets.exceptions import UserError

from ..library.photos import import_paths
from ..numbers import count
from . import guard, settings
from .renaming import check_no_unfinished

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if not args:
        raise UserError("give one or more files or folders to import")
    guard.check_writable(lib, "similar-import")
    check_no_unfinished(lib)  # its photos may sit under temporary names

    result = import_paths(
        lib,
        [os.fsdecode(util.normpath(a)) for a in args],
        max_pixels=settings.max_pixels(plugin),
        threads=settings.threads(plugin),
        sidecars=settings.sidecars(plugin),
        formats=settings.formats(plugin),
        on_error=lambda error: plugin._log.warning("skipped {}", error),
        on_photo=lambda photo, new: plugins.send(
            "similar_photo_imported", lib=lib, photo=photo, new=new),
        forget_missing=opts.forget_missing,
        hidden=opts.hidden,
    )
    for path, kind in result.odd:
        plugin._log.warning("skipped {}: {}, not a photo file; not opened (move it out of "
                            "the photo folders)", util.displayable_path(path), kind)
    for old, photo in result.moved:
        plugin._log.info("{}: moved from {}; its row follows it",
                         util.displayable_path(photo.path), util.displayable_path(old))
    for path in result.not_images:
        plugin._log.debug("not an image file name, passed over: {}", path)
    for path, photo in result.aliases:
        plugin._log.info("{}: another name of {}; not added twice",
                         util.displayable_path(path), util.displayable_path(photo.path))
    ui.print_(_summary(result))
    _say_missing(result, args)
    plugins.send("similar_import_done", lib=lib,
                 photos=result.added + result.updated)


def _summary(result) -> str:
    """One line: what was imported, and everything that was not."""
    hidden = len(result.hidden)
    moved = len(result.moved)
    joined = len(result.joined)
    return (
        f"imported {len(result.added)} new, {len(result.updated)} updated, "
        f"{result.unchanged} unchanged, {len(result.errors)} skipped "
        f"(bad files), {count(len(result.not_images), 'not an image', 'not images')}"
        + (f", {count(len(result.aliases), 'other name of a photo', 'other names of photos')}"
           " already in" if result.aliases else "")
        + (f", {moved} moved ({'its row follows it' if moved == 1 else 'their rows follow them'})"
           if moved else "")
        + (f", {count(joined, 'photo is', 'photos are')} now "
           f"{'a companion' if joined == 1 else 'companions'} of another (RAW+JPEG, "
           "Live Photo)" if joined else "")
        + (f", {count(len(result.odd), 'not a regular file', 'not regular files')} "
           "(not opened)" if result.odd else "")
        + (f", {count(hidden, 'hidden photo')} passed over (a name or folder starting "
           f"with a dot; --hidden imports {'it' if hidden == 1 else 'them'})"
           if hidden else "")
    )


def _say_missing(result, args: list[str]) -> None:
    """One line for the rows whose file is gone, saying what to do."""
    if result.forgotten:
        gone = "whose file is gone" if result.forgotten == 1 else "whose files are gone"
        ui.print_(f"forgot {count(result.forgotten, 'photo')} {gone}")
    elif result.missing:
        first = util.displayable_path(result.missing[0].path)
        where = " ".join(util.displayable_path(a) for a in args)
        one = len(result.missing) == 1
        ui.print_(f"{count(len(result.missing), 'photo')} in the library "
                  f"{'is' if one else 'are'} missing from disk (first: {first}): import the "
                  f"folder {'it was' if one else 'they were'} moved to, or forget "
                  f"{'it' if one else 'them'} with `beet similar-import --forget-missing "
                  f"{where}`")


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand(
        "similar-import",
        help="add photos to the library; they stay where they are (nothing is copied "
             "or moved)")
    cmd.parser.usage += " PATH..."
    cmd.parser.add_option(
        "--forget-missing", action="store_true", default=False,
        help="remove from the library the photos under PATH whose files are gone "
             "(the files are not touched)")
    cmd.parser.add_option(
        "--hidden", action="store_true", default=False,
        help="import hidden photos too: those whose name, or a folder's, starts with a "
             "dot (passed over and counted otherwise)")
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
