"""The plugin's ``beet similar-*`` commands: option parsing and output.

Each command reads its options, calls the module that does the work and
prints a summary. Errors the user can fix are raised as ``UserError``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import TYPE_CHECKING

from beets import plugins, ui, util
from beets.exceptions import UserError
from PIL import Image

from .photolib import import_paths, photos

if TYPE_CHECKING:
    from beets.library import Library

    from . import SimilarPlugin


def _max_pixels(plugin: SimilarPlugin) -> int:
    value = plugin.config["max_pixels"].get(int)
    if value <= 0:
        raise UserError("similar.max_pixels must be a positive number of pixels")
    # Pillow refuses past twice its own limit; let ours decide.
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, value // 2 + 1)
    return value


def _threads(plugin: SimilarPlugin) -> int:
    value = plugin.config["threads"].get(int)
    if value < 1:
        raise UserError("similar.threads must be 1 or more")
    return value


# similar-import


def _import(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if not args:
        raise UserError("give one or more files or folders to import")
    log = plugin._log

    def on_error(error) -> None:
        log.warning("skipped {}", error)

    report = import_paths(
        lib,
        [os.fsdecode(util.normpath(a)) for a in args],
        max_pixels=_max_pixels(plugin),
        threads=_threads(plugin),
        on_error=on_error,
        on_photo=lambda photo, new: plugins.send(
            "similar_photo_imported", lib=lib, photo=photo, new=new),
    )
    for path in report.not_images:
        log.debug("not an image file name, passed over: {}", path)
    ui.print_(
        f"imported {len(report.added)} new, {len(report.updated)} updated, "
        f"{report.unchanged} unchanged, {len(report.errors)} skipped "
        f"(bad files), {len(report.not_images)} not images"
    )
    plugins.send("similar_import_done", lib=lib,
                 photos=report.added + report.updated)


# similar-ls


def _ls(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    fmt = opts.format or plugin.config["format"].as_str()
    sort = plugin.config["sort"].as_str()
    found = photos(lib, args, sort)
    if opts.copies:
        by_hash = defaultdict(list)
        for photo in found:
            by_hash[photo.hash].append(photo)
        found = [p for group in sorted(by_hash.values(),
                                       key=lambda g: str(g[0].path))
                 if len(group) > 1 for p in group]
    for photo in found:
        ui.print_(photo.evaluate_template(fmt))


def build(plugin: SimilarPlugin) -> list[ui.Subcommand]:
    def bind(func):
        return lambda lib, opts, args: func(plugin, lib, opts, args)

    imp = ui.Subcommand("similar-import", help="add photos to the library")
    imp.parser.usage += " PATH..."
    imp.func = bind(_import)

    ls = ui.Subcommand("similar-ls", help="list photos matching a query")
    ls.parser.add_option("-f", "--format", dest="format",
                         help="print with this template (default: similar.format)")
    ls.parser.add_option("-p", "--path", dest="format", action="store_const",
                         const="$path", help="print paths only")
    ls.parser.add_option("-c", "--copies", action="store_true", default=False,
                         help="only exact copies (same hash), grouped")
    ls.func = bind(_ls)

    return [imp, ls]
