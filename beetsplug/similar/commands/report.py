"""``beet similar-report [QUERY] -o FILE``: an HTML contact sheet of the
groups of duplicates, as ``similar-dupes`` lists them; with ``--all``,
every photo in order, the groups framed."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import ui
from beets.exceptions import UserError

from ..dupes import copies
from ..dupes import job as dupes_job
from ..library.selection import Selection, select
from ..numbers import count, plain
from ..order import job as order_job
from ..report import sheet
from ..verify.config import near_check
from . import settings
from .dupes import group_title, with_exact

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def _name(photo) -> str:
    """The file name, and the formats of the shot when it has several:
    ``IMG_1234.CR2 (CR2 JPG XMP)``."""
    name = photo.filepath.name
    return f"{name} ({photo.formats})" if " " in (photo.formats or "") else name


def _evidence(distance: float | None, inliers: int | None) -> str:
    """Why a photo is in its group, in words: ``0.0123 from the photo
    kept; 57 points matched by the second check``."""
    said = [] if distance is None else [f"{plain(distance)} from the photo kept"]
    said += [] if inliers is None else [f"{inliers} points matched by the second check"]
    return "; ".join(said)


def _distances(threshold: float, check) -> str:
    """What a distance means, for the page's opening lines."""
    confirmed = (f", or under {plain(check.candidate)} and confirmed by a second check "
                 "that matches points of the two pictures"
                 if check is not None and check.candidate > threshold else "")
    return ("Distances are between the network's descriptions of two photos: 0 is the same "
            f"picture; photos under {plain(threshold)} are near-duplicates{confirmed}.")


class _Groups:
    """Each group's photo kept, its title and why each other photo is in it."""

    def __init__(self, keeper, sel: Selection, groups) -> None:
        self.titles: dict[int, str] = {}
        self.notes: dict[int, str] = {}  # photo id: kept, and why
        self.evidence: dict[int, str] = {}
        self.members: dict[int, list] = {}  # group number: its photos, the one kept first
        for n, group in enumerate(groups, start=1):
            members = sel.photos(group.rows)
            decision = copies.choose(keeper, members)
            at = [p.id for p in members].index(decision.keep.id)
            self.members[n] = [members[at], *members[:at], *members[at + 1:]]
            kept = group.rows[at]
            self.titles[n] = group_title(n, group, sel, members, decision.keep, decision.said,
                                         _name)
            self.notes[decision.keep.id] = f"{group.kind}: kept, {decision.said}"
            for row, (dist, inliers) in group.evidence(sel, kept).items():
                if row == kept:
                    continue
                same = sel.hashes[row] == sel.hashes[kept]
                self.evidence[int(sel.ids[row])] = ("same bytes as the photo kept" if same
                                                    else _evidence(dist, inliers))

    def card(self, photo, label: str, group: int | None,
             distance: float | None = None) -> sheet.Card:
        note = f"quality {photo.get('quality', 0.0) or 0.0:.2f}"
        if photo.id in self.notes:
            note += f"; {self.notes[photo.id]}"
        return sheet.Card(os.fsdecode(photo.path), label, group, distance, note,
                          self.evidence.get(photo.id, ""))


def _group_cards(lib: Library, sel: Selection, key: str, threshold: float, keeper,
                 copy_distance, burst_gap: float, check):
    """The groups as ``similar-dupes`` lists them, the photo kept first."""
    groups, _ = dupes_job.duplicate_groups(lib, sel, key, threshold,
                                           copy_distance=copy_distance, burst_gap=burst_gap,
                                           check=check)
    groups = with_exact(sel, [g for g in groups if g.kind != "exact"], True)
    told = _Groups(keeper, sel, groups)
    cards = [told.card(p, _name(p), n) for n, members in told.members.items() for p in members]
    return cards, told.titles


def _ordered_cards(lib: Library, sel: Selection, key: str, threshold: float, keeper,
                   copy_distance, burst_gap: float, check):
    """Every photo in rank order (ordered now, without renaming, when they
    have no ranks), the groups framed, each with its distance to the one
    before; the photos without vectors last."""
    found = sel.photos()
    if all(p.rank for p in found):
        rows = order_job.in_rank_order(lib, sel, key)
        groups, _ = dupes_job.duplicate_groups(lib, sel, key, threshold,
                                               copy_distance=copy_distance, burst_gap=burst_gap,
                                               check=check)
    else:  # not ordered yet: order now, without renaming; its groups are the page's
        big = len(found) > dupes_job.EXACT_CANDIDATES
        ordered = order_job.order(lib, sel, key, "cosine", big, True, threshold=threshold,
                                  burst_gap=burst_gap, check=check)
        rows = ordered.rows
        groups = dupes_job.with_kinds(lib, key, sel, ordered.near, copy_distance, burst_gap,
                                      check)
    at = {int(r): i for i, r in enumerate(rows)}  # groups numbered down the page
    groups = sorted(groups, key=lambda g: min(at.get(r, len(at)) for r in g.rows))
    told = _Groups(keeper, sel, groups)
    group_of = {int(sel.ids[r]): n for n, g in enumerate(groups, start=1) for r in g.rows}
    with_vectors = sel.photos(rows)
    distances = order_job.chain_distances(lib, key, sel.ids[rows])
    cards = [told.card(p, f"{p.rank or i + 1} {_name(p)}", group_of.get(p.id),
                       float(distances[i - 1]) if i else None)
             for i, p in enumerate(with_vectors)]
    shown = {p.id for p in with_vectors}
    cards += [sheet.Card(os.fsdecode(p.path), f"{_name(p)} (not featurized)", None, None)
              for p in found if p.id not in shown]
    return cards, told.titles


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if not opts.output:
        raise UserError("name the page to write: -o report.html")
    output = settings.output_file(opts.output, "-o")
    sel = select(lib, args, plugin.config["sort"].as_str())
    if not len(sel):
        raise settings.no_match(args)
    if opts.all:  # every photo is shown: fetched once
        sel = Selection.of(lib, sel.photos())
    chosen = settings.feature_settings(plugin, lib)
    key = settings.settings_key(chosen)
    threshold = settings.threshold(plugin, lib, opts, chosen)
    check = near_check(plugin, lib, opts, chosen)
    cards, titles = (_ordered_cards if opts.all else _group_cards)(
        lib, sel, key, threshold, settings.keeper(plugin),
        settings.copy_distance(plugin, lib, chosen), settings.burst_gap(plugin), check)
    groups = count(len(titles), "group")
    if opts.all:
        intro = (f"{count(len(cards), 'photo')} in order, look-alikes side by side; "
                 f"{groups} of duplicates framed. Under each photo, its distance to the "
                 "one before. " + _distances(threshold, check))
        said = f"{count(len(cards), 'photo')} in order, {groups} framed"
    elif titles:
        intro = (f"{groups} of duplicates among {count(len(sel), 'photo')}, as beet "
                 "similar-dupes lists them, the photo kept first. "
                 + _distances(threshold, check))
        said = f"{groups} of duplicates, {count(len(cards), 'photo')}"
    else:
        intro = f"No duplicates among {count(len(sel), 'photo')}."
        said = f"no duplicates among {count(len(sel), 'photo')} (--all shows every photo)"
    page, errors = sheet.render(cards, opts.title or "Similar photos", intro, titles,
                                settings.threads(plugin), settings.max_pixels(plugin))
    for error in errors:
        plugin._log.warning("no thumbnail for {}", error)
    try:
        sheet.write(output, page)
    except OSError as exc:
        raise settings.write_failed(output, exc) from None
    ui.print_(f"wrote {output}: {said}")


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    rep = ui.Subcommand("similar-report",
                        help="write an HTML page of the groups of duplicates, or of every "
                             "photo in order")
    rep.parser.usage += " [QUERY]"
    rep.parser.add_option("-o", "--output", metavar="FILE", help="the HTML file to write")
    rep.parser.add_option("-a", "--all", action="store_true", default=False,
                          help="every photo, in order (their rank), the groups framed; "
                               "by default only the groups")
    rep.parser.add_option("-t", "--threshold", type="float",
                          help="near-duplicate cosine distance (default: similar.threshold, "
                               "auto: the calibrated one)")
    rep.parser.add_option("--title", help="the page's title (default: Similar photos)")

    rep.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return rep
