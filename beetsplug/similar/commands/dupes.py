"""``beet similar-dupes [QUERY]``: groups of copies and near-duplicates.

A photo is in one group only: exact copies of a photo in a near group
(copies without vectors too) are shown inside it, each line saying whose
bytes it has, so a photo kept in one group is never an extra of another.
A row whose file is gone is never kept over a real file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import ui, util
from beets.exceptions import UserError

from ..dupes import copies
from ..dupes import job as dupes_job
from ..dupes.kinds import KINDS
from ..features.extractor import described
from ..library.selection import select
from ..numbers import count, plain
from ..verify.config import near_check
from . import extras, guard, settings
from .renaming import check_no_unfinished

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
    try:
        _run(plugin, lib, opts, args)
    except KeyboardInterrupt:
        # Deleting, moving and marking stop at safe points and say so
        # themselves; an interrupt that gets here came before any of them.
        raise UserError("similar-dupes interrupted; nothing was changed") from None


def _run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if opts.action:
        if not opts.dry_run:
            flag = "tag" if opts.action == "mark" else opts.action
            guard.check_writable(lib, f"similar-dupes --{flag}")
        check_no_unfinished(lib)  # an interrupted run must be finished first
    sel = select(lib, args, plugin.config["sort"].as_str())
    if not len(sel):
        raise settings.no_match(args)
    named = _kinds(opts)
    kinds = named or KINDS
    keeper = settings.keeper(plugin)
    near = any(k != "exact" for k in kinds)
    chosen = settings.feature_settings(plugin, lib, calibrated=near)  # exact: no calibration
    key = settings.settings_key(chosen)
    threshold = settings.threshold(plugin, lib, opts, chosen) if near else 0.0
    check = near_check(plugin, lib, opts, chosen) if near else None
    groups, missing = dupes_job.duplicate_groups(
        lib, sel, key, threshold, exact_only=not near,
        copy_distance=settings.copy_distance(plugin, lib, chosen) if near else None,
        burst_gap=settings.burst_gap(plugin), check=check)
    groups = with_exact(sel, [g for g in groups if g.kind in kinds and g.kind != "exact"],
                        "exact" in kinds)
    if len(missing):
        plugin._log.warning("{} matched {} no vectors of {}: only exact copies are found "
                            "for {}; run `beet similar-featurize`", count(len(missing), "photo"),
                            "has" if len(missing) == 1 else "have",
                            described(key, chosen.weights), "it" if len(missing) == 1 else "them")
    fmt = opts.format or plugin.config["format"].as_str()
    # The evidence reads the group's vectors: only when the template shows it.
    shows_evidence = any(name in fmt for name in dupes_job.EVIDENCE)
    pairs, exact_pairs, besides, copied, sets = [], [], 0, 0, 0
    for n, group, members, weighed in _with_photos(sel, groups):
        # Ids, hashes and files are read from the plain facts: a million
        # lines to print make a Photo's field access count.
        ids = [w["id"] for w in weighed]
        gone = copies.gone(weighed)  # one look at each file
        decision = copies.choose(keeper, weighed, gone)
        at = ids.index(decision.keep.id)
        keep = members[at]
        same = _same_bytes(keeper, at, members, weighed, gone)
        copied += len(same)
        sets += len({id(p) for p in same.values()})
        lines = [group_title(n, group, sel, members, keep, decision.said)]
        evidence = group.evidence(sel, group.rows[at]) if shows_evidence else {}
        for i in (at, *(i for i in range(len(ids)) if i != at)):  # the kept photo first
            pid = ids[i]
            mark = "*" if i == at else "=" if pid in decision.protected else " "
            note = "" if pid not in same else \
                f"  (same bytes as {_name_beside(same[pid], members[i])})"
            if pid in gone:
                note += "  (file is gone: re-import its folder)"
            shown = dupes_job.formatted(members[i], fmt, evidence.get(group.rows[i]))
            lines.append(f"  {mark} {shown}{note}")
        ui.print_("\n".join(lines))  # a group at a time: a million lines add up
        extra = [i for i, pid in enumerate(ids) if i != at and pid not in decision.protected]
        besides += len(extra)
        if opts.action:  # the photos are kept only when something is done with them
            pairs += [(members[i], keep) for i in extra]
            exact_pairs += [(members[i], same[pid]) for i, pid in enumerate(ids)
                            if pid in same and pid not in decision.protected]
    counts = ", ".join(f"{sum(g.kind == k for g in groups)} {k}" for k in kinds)
    # Exact copies are counted alike whatever groups hold them (and with -e).
    ui.print_(f"{count(len(groups), 'group')} ({counts}), {count(besides, 'photo')} besides "
              f"{'the one' if len(groups) == 1 else 'those'} kept (*)"
              + (f"; exact copies: {copied} (same bytes as another photo, in "
                 f"{count(sets, 'set')})" if copied else "")
              + (f"; near-duplicates: cosine distance under {plain(threshold)}"
                 if near and check is None else "")
              + (f"; near-duplicates: confirmed by the second check, of each photo's "
                 f"{check.nearest} nearest and the pairs under {plain(check.candidate)} "
                 f"(where it cannot read a photo: cosine distance under {plain(threshold)})"
                 if near and check is not None else ""))
    if opts.action == "delete" and named is None:
        # Deleting different pictures must be asked for by name.
        others = len(pairs) - len(exact_pairs)
        pairs = exact_pairs
        if others:
            ui.print_(f"--delete leaves the {count(others, 'near-duplicate')} alone "
                      "(different files that only look alike); name their kinds to delete "
                      "them too, such as --kind exact,copy")
    if opts.action and pairs:
        extras.handle(plugin, lib, (), opts.action, opts.dry_run, pairs)


def with_exact(sel, near: list, exact: bool) -> list:
    """The ``near`` groups with every exact copy of a photo of theirs (one
    without vectors, say) inside, so that a photo is in one group only and
    is never kept in one and an extra of another; then, when ``exact``, the
    other sets of exact copies as groups of their own, first."""
    host: dict[int, dupes_job.DuplicateGroup] = {r: g for g in near for r in g.rows}
    alone = []
    for rows in dupes_job.by_hash(sel.hashes):
        if len(rows) < 2:
            continue
        hosts = list({id(host[r]): host[r] for r in rows if r in host}.values())
        if not hosts:
            alone.append(dupes_job.DuplicateGroup("exact", rows))
            continue
        into = hosts[0]
        for other in hosts[1:]:  # one copy in each of two groups: one group
            _grow(into, other.rows, _measured(other))
            for r in other.rows:
                host[r] = into
            other.rows = []
        have = set(into.rows)
        _grow(into, [r for r in rows if r not in have], [])
        for r in rows:
            host[r] = into
    return (alone if exact else []) + [g for g in near if g.rows]


def _measured(group) -> list[int]:
    """The rows a group was formed from by their vectors."""
    return list(getattr(group, "measured", None) or group.rows)


def _grow(group, rows: list[int], measured: list[int]) -> None:
    """Add ``rows`` to ``group``; of them, ``measured`` have vectors."""
    if hasattr(group, "measured"):
        group.measured = _measured(group) + measured
    group.rows += rows


def group_title(n: int, group, sel, members, keep, said: str, name=None) -> str:
    """A group's line: its kind and size, the photo kept (``keep``, one of
    ``members``, in the order of ``group.rows``) and why, and the link
    that holds it most weakly."""
    name = name or _file_name
    weak = group.weakest(sel)
    ids = sel.ids[group.rows].tolist()
    return (f"group {n}: {group.kind}, {count(len(members), 'photo')}; keep {name(keep)}: "
            f"{said}" + (f"; weakest link {name(members[ids.index(weak.a)])} - "
                         f"{name(members[ids.index(weak.b)])}: {weak.verdict.said()}"
                         if weak is not None else ""))


def _file_name(photo) -> str:
    return util.displayable_path(os.path.basename(os.fsdecode(photo.path)))


def _name_beside(photo, other) -> str:
    """``photo``'s file name, or its path when ``other`` has the same name."""
    name = _file_name(photo)
    return name if name != _file_name(other) else util.displayable_path(photo.path)


def _same_bytes(keeper, at: int, members, weighed, gone: set[int]) -> dict:
    """{id: the photo it has the same bytes as} for the exact copies among
    ``members`` (``weighed``: their facts): copies of the photo kept
    (``members[at]``) point to it; in a set of copies without it, to the
    one the keeper would keep of that set."""
    by_hash: dict[str, list[int]] = {}
    for i, fact in enumerate(weighed):
        by_hash.setdefault(fact["hash"], []).append(i)
    out = {}
    for idx in by_hash.values():
        if len(idx) < 2:
            continue
        if at in idx:
            first = at
        else:
            chosen = copies.choose(keeper, [weighed[i] for i in idx], gone).keep
            first = next(i for i in idx if weighed[i]["id"] == chosen.id)
        out.update((weighed[i]["id"], members[first]) for i in idx if i != first)
    return out


def _with_photos(sel, groups, batch: int = 5000):
    """(number, group, its photos, their :class:`Facts` for the keeper) for
    each group; fetched for ``batch`` photos at a time, not for the whole
    library. (Not in a thread ahead: both sides need the GIL for every
    row, and a million photos took about 40 s longer that way.)"""
    start = 0
    while start < len(groups):
        stop, size = start, 0
        while stop < len(groups) and (size == 0 or size + len(groups[stop].rows) <= batch):
            size += len(groups[stop].rows)
            stop += 1
        rows = [r for g in groups[start:stop] for r in g.rows]
        photos, weighed = sel.photos_and_facts(rows)
        ids, at = sel.ids[rows].tolist(), 0
        for n in range(start, stop):
            end = at + len(groups[n].rows)
            yield n + 1, groups[n], photos[at:end], [weighed[i] for i in ids[at:end]]
            at = end
        start = stop


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    dupes = ui.Subcommand("similar-dupes", help="list groups of duplicates and near-duplicates")
    dupes.parser.usage += " [QUERY]"
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
    dp.add_option("--trash", dest="action", action="store_const", const="trash",
                  help="send the others, with their companions, to the system trash "
                       "(undoable)")
    dp.add_option("--delete", dest="action", action="store_const", const="delete",
                  help="delete the exact copies (and the kinds named with --kind), "
                       "after you confirm")
    dp.add_option("-n", "--dry-run", "--pretend", dest="dry_run", action="store_true",
                  default=False, help="say what --tag, --move, --trash or --delete would do")
    dupes.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return dupes
