"""``beet similar-dupes [QUERY]``: groups of copies and near-duplicates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets import ui, util
from beets.exceptions import UserError

from ..dupes import copies
from ..dupes import job as dupes_job
from ..dupes.kinds import KINDS
from ..library.selection import facts, select
from . import extras, settings

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


NEAR = ("copy", "burst", "similar")  # --kind near: every kind but exact


def _kinds(opts) -> tuple[str, ...] | None:
    """The kinds named with ``--kind`` (or ``-e``), None when none were."""
    if opts.exact:
        return ("exact",)
    if opts.kind is None:
        return None
    named = [k.strip() for k in opts.kind.split(",") if k.strip()]
    unknown = [k for k in named if k not in (*KINDS, "near")]
    if unknown or not named:
        raise UserError(f"unknown --kind {','.join(unknown) or opts.kind!r}; use "
                        f"{', '.join(KINDS)} or near (all but exact), comma-separated")
    return tuple(dict.fromkeys(k for n in named for k in (NEAR if n == "near" else (n,))))


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    sel = select(lib, args, plugin.config["sort"].as_str())
    named = _kinds(opts)
    kinds = named or KINDS
    keeper = settings.keeper(plugin)
    chosen = settings.feature_settings(plugin, lib)
    key = settings.settings_key(chosen)
    near = any(k != "exact" for k in kinds)
    threshold = settings.threshold(plugin, lib, opts, chosen) if near else 0.0
    groups, missing = dupes_job.duplicate_groups(
        lib, sel, key, threshold, exact_only=not near,
        copy_distance=settings.copy_distance(plugin, lib, chosen) if near else None,
        burst_gap=settings.burst_gap(plugin))
    groups = [g for g in groups if g.kind in kinds]
    if len(missing):
        plugin._log.warning("{} matched photos have no {} vectors: only exact copies "
                            "are found for them; run `beet similar-featurize`",
                            len(missing), key)
    fmt = opts.format or plugin.config["format"].as_str()
    pairs, besides = [], 0
    for n, group, members, weighed in _with_photos(sel, groups):
        decision = keeper.choose(weighed)
        keep = next(p for p in members if p.id == decision.keep.id)
        ui.print_(f"group {n}: {group.kind}, {len(members)} photos; keep "
                  f"{util.displayable_path(keep.filepath.name)}: {decision.reason}")
        for photo in sorted(members, key=lambda p: p.id != keep.id):
            mark = "*" if photo.id == keep.id else "=" if photo.id in decision.protected else " "
            ui.print_(f"  {mark} {photo.evaluate_template(fmt)}")
        extra = [(p, keep) for p in members
                 if p.id != keep.id and p.id not in decision.protected]
        besides += len(extra)
        if opts.action:  # the photos are kept only when something is done with them
            pairs += extra
    counts = ", ".join(f"{sum(g.kind == k for g in groups)} {k}" for k in kinds)
    ui.print_(f"{len(groups)} groups ({counts}), {besides} photos besides those kept (*)"
              + (f"; near-duplicates: cosine distance under {threshold:.4g}" if near else ""))
    if opts.action == "delete" and named is None:
        # Deleting different pictures must be asked for by name.
        others = sum(p.hash != keep.hash for p, keep in pairs)
        exact = [g.rows for g in dupes_job.duplicate_groups(lib, sel, key, 0.0, True)[0]]
        pairs = copies.extras((sel.photos(rows) for rows in exact), keeper)
        if others:
            ui.print_(f"--delete leaves the {others} near-duplicates alone: they are "
                      "different files; name their kinds to delete them too, such as "
                      "--kind exact,copy")
    if opts.action and pairs:
        extras.handle(plugin, lib, (), opts.action, opts.dry_run, pairs)


def _with_photos(sel, groups, batch: int = 5000):
    """(number, group, its photos, their :class:`Facts` for the keeper) for
    each group; fetched for ``batch`` photos at a time, not for the whole
    library."""
    start = 0
    while start < len(groups):
        stop, size = start, 0
        while stop < len(groups) and (size == 0 or size + len(groups[stop].rows) <= batch):
            size += len(groups[stop].rows)
            stop += 1
        rows = [r for g in groups[start:stop] for r in g.rows]
        fetched = iter(sel.photos(rows))
        weighed = facts(sel.lib, sel.ids[rows].tolist())
        for n in range(start, stop):
            members = [next(fetched) for _ in groups[n].rows]
            yield n + 1, groups[n], members, [weighed[p.id] for p in members]
        start = stop


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    dupes = ui.Subcommand("similar-dupes", help="list groups of duplicates and near-duplicates")
    dp = dupes.parser
    dp.add_option("-f", "--format", dest="format", help="print photos with this template")
    dp.add_option("-t", "--threshold", type="float",
                  help="cosine distance under which photos are near-duplicates "
                       "(default: similar.threshold, auto: the calibrated one)")
    dp.add_option("-k", "--kind", metavar="KINDS",
                  help="exact, copy, burst, similar (near: the last three), comma-separated: "
                       "the groups to list and act on; --delete acts on exact copies only "
                       "unless other kinds are named")
    dp.add_option("-e", "--exact", action="store_true", default=False,
                  help="exact copies (same bytes) only: --kind exact")
    dp.add_option("--tag", dest="action", action="store_const", const="mark",
                  help="set duplicate_of=<id kept> on the others")
    dp.add_option("--move", dest="action", action="store_const", const="move",
                  help="move the others to similar.dupes_folder (undoable)")
    dp.add_option("--delete", dest="action", action="store_const", const="delete",
                  help="delete the exact copies (and the kinds named with --kind), "
                       "after you confirm")
    dp.add_option("-n", "--dry-run", "--pretend", dest="dry_run", action="store_true",
                  default=False, help="say what --tag/--move/--delete would do")
    dupes.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return dupes
