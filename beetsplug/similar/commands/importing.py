"""``beet similar-import PATH...``: add photos to the library."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import plugins, ui, util
from beets.exceptions import UserError

from ..library.photos import import_paths
from . import settings

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if not args:
        raise UserError("give one or more files or folders to import")

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
    )
    for path in result.not_images:
        plugin._log.debug("not an image file name, passed over: {}", path)
    for path, photo in result.aliases:
        plugin._log.info("{}: another name of {}; not added twice",
                         util.displayable_path(path), util.displayable_path(photo.path))
    ui.print_(
        f"imported {len(result.added)} new, {len(result.updated)} updated, "
        f"{result.unchanged} unchanged, {len(result.errors)} skipped "
        f"(bad files), {len(result.not_images)} not images"
        + (f", {len(result.aliases)} other names of photos already in"
           if result.aliases else "")
        + (f", {len(result.joined)} photos are now companions of another (RAW+JPEG, "
           "Live Photo)" if result.joined else "")
    )
    plugins.send("similar_import_done", lib=lib,
                 photos=result.added + result.updated)


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-import", help="add photos to the library")
    cmd.parser.usage += " PATH..."
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
