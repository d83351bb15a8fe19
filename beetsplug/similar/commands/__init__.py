"""The plugin's ``beet similar-*`` commands, one module each: option
parsing and output. Errors the user can fix are raised as ``UserError``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import calibrate, dupes, featurize, fields, importing, listing, order, report, review, undo
from .guard import guarded

if TYPE_CHECKING:
    from beets import ui

    from .. import SimilarPlugin


def build(plugin: SimilarPlugin) -> list[ui.Subcommand]:
    return [guarded(plugin, module.command(plugin))
            for module in (importing, listing, fields, featurize, calibrate, order, dupes,
                           report, review, undo)]
