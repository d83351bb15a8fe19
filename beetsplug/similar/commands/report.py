"""``beet similar-report [QUERY] -o FILE``: an HTML contact sheet."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import ui
from beets.exceptions import UserError

from ..dupes import copies
from ..dupes import job as dupes_job
from ..library.photos import photos
from ..library.selection import Selection
from ..numbers import plain
from ..order import job as order_job
from ..report import sheet
from ..verify.config import near_check
from . import settings

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def _name(photo) -> str:
    """The file name, and the formats of the shot when it has several:
    ``IMG_1234.CR2 (CR2 JPG XMP)``."""
    name = photo.filepath.name
    return f"{name} ({photo.formats})" if " " in (photo.formats or "") else name


def _evidence(distance: float | None, inliers: int | None) -> str:
    """Why a photo is in its group: ``d = 0.0123 to the kept photo; 57 inliers``."""
    said = [] if distance is None else [f"d = {plain(distance)} to the kept photo"]
    said += [] if inliers is None else [f"{inliers} inliers in the second check"]
    return "; ".join(said)


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if not opts.output:
        raise UserError("name the page to write: -o report.html")
    output = settings.output_file(opts.output, "-o")
    found = list(photos(lib, args, plugin.config["sort"].as_str()))
    if not found:
        raise UserError("no photos match")
    sel = Selection.of(lib, found)
    chosen = settings.feature_settings(plugin, lib)
    key = settings.settings_key(chosen)
    threshold = settings.threshold(plugin, lib, opts, chosen)
    # Above EXACT_CANDIDATES pictures, chain and groups come from the
    # reduced space, as for similar-order --fast and similar-dupes.
    big = len(found) > dupes_job.EXACT_CANDIDATES
    copy_distance = settings.copy_distance(plugin, lib, chosen)
    burst_gap = settings.burst_gap(plugin)
    check = near_check(plugin, lib, opts, chosen)
    if all(p.rank for p in found):
        rows = order_job.in_rank_order(lib, sel, key)
        groups, _ = dupes_job.duplicate_groups(lib, sel, key, threshold,
                                               copy_distance=copy_distance, burst_gap=burst_gap,
                                               check=check)
    else:  # not ordered yet: order now, without renaming; its groups are the page's
        ordered = order_job.order(lib, sel, key, "cosine", big, True, threshold=threshold,
                                  burst_gap=burst_gap, check=check)
        rows = ordered.rows
        groups = dupes_job.with_kinds(lib, key, sel, ordered.near, copy_distance, burst_gap,
                                      check)
    with_vectors = sel.photos(rows)
    group_of = {int(sel.ids[r]): n for n, g in enumerate(groups) for r in g.rows}
    keeper = settings.keeper(plugin)
    notes, evidence = {}, {}
    for group in groups:
        decision = copies.choose(keeper, sel.photos(group.rows))
        notes[decision.keep.id] = f"{group.kind}: kept, {decision.said}"
        keep_row = group.rows[[int(sel.ids[r]) for r in group.rows].index(decision.keep.id)]
        for row, (dist, inliers) in group.evidence(sel, keep_row).items():
            if row != keep_row:
                evidence[int(sel.ids[row])] = _evidence(dist, inliers)
    distances = order_job.chain_distances(lib, key, sel.ids[rows])
    cards = [
        sheet.Card(os.fsdecode(p.path), f"{p.rank or i + 1} {_name(p)}",
                   group_of.get(p.id), float(distances[i - 1]) if i else None,
                   f"quality {p.get('quality', 0.0) or 0.0:.2f}"
                   + (f"; {notes[p.id]}" if p.id in notes else ""), evidence.get(p.id, ""))
        for i, p in enumerate(with_vectors)
    ]
    shown = {p.id for p in with_vectors}
    cards += [sheet.Card(os.fsdecode(p.path), f"{_name(p)} (not featurized)", None, None)
              for p in found if p.id not in shown]
    page, errors = sheet.render(cards, opts.title or "Similar photos", settings.threads(plugin),
                                 settings.max_pixels(plugin))
    for error in errors:
        plugin._log.warning("no thumbnail for {}", error)
    try:
        sheet.write(output, page)
    except OSError as exc:
        raise settings.write_failed(output, exc) from None
    ui.print_(f"wrote {output}: {len(cards)} photos, {len(groups)} groups framed")



def command(plugin: SimilarPlugin) -> ui.Subcommand:
    rep = ui.Subcommand("similar-report", help="write an HTML contact sheet of photos in order")
    rep.parser.usage += " [QUERY]"
    rep.parser.add_option("-o", "--output", help="the HTML file to write")
    rep.parser.add_option("-t", "--threshold", type="float",
                          help="near-duplicate cosine distance (default: similar.threshold, auto)")
    rep.parser.add_option("--title", help="page title")

    rep.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return rep
