"""``beet similar-ls [QUERY]``: list photos."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets import ui

from ..dupes import copies
from ..library.photos import photos
from . import settings

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    fmt = opts.format or plugin.config["format"].as_str()
    found = photos(lib, args, plugin.config["sort"].as_str())
    if not len(found):
        raise settings.no_match(args)
    if opts.copies:
        found = [p for group in sorted(copies.exact_groups(found), key=lambda g: g[0].path)
                 for p in group]
    for photo in found:
        ui.print_(photo.evaluate_template(fmt))


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-ls", help="list photos matching a query")
    cmd.parser.usage += " [QUERY]"
    cmd.parser.add_option("-f", "--format", dest="format",
                          help="print with this template (default: similar.format)")
    cmd.parser.add_option("-p", "--path", dest="format", action="store_const",
                          const="$path", help="print paths only")
    cmd.parser.add_option("-c", "--copies", action="store_true", default=False,
                          help="only exact copies (same hash), grouped")
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
