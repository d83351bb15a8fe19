"""``beet similar-order [QUERY]``: chain the photos, store ranks, rename."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets import ui, util
from beets.exceptions import UserError

from .. import interrupts
from ..features.extractor import described
from ..library.selection import Selection, select
from ..numbers import count, plain
from ..order import job as order_job
from ..rename import journal, live
from ..verify.config import near_check
from ..trash import cli as trash_cli
from . import extras, guard, settings
from .renaming import check_no_unfinished, rename, run_journal

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def rank_storer(lib: Library, ranked):
    """A callable that stores each photo's rank, in one statement for all
    (run inside a transaction)."""
    def store() -> None:
        with lib.transaction() as tx:
            tx.mutate_many("UPDATE similar_photos SET rank=? WHERE id=?",
                           [(rank, photo.id) for photo, rank in ranked])
        for photo, rank in ranked:
            photo.rank = rank
            photo.clear_dirty()
    return store


def resume(plugin: SimilarPlugin, lib: Library) -> None:
    """``similar-order --resume``: finish the run that was cut off. Ctrl-C
    before the walk changes nothing; during it, the walk says what to do."""
    with live.holding(lib), interrupts.deferred() as interrupt:
        found = journal.interrupted(lib)
        if found is None:
            raise UserError("there is no interrupted rename run to resume")
        run_id, state = found
        if state == "undoing":
            raise UserError(f"run {run_id} was being undone when it stopped; run "
                            "`beet similar-undo` to finish putting its files back")
        if interrupt.consume():
            raise UserError("similar-order --resume interrupted; nothing was changed")
        if trash_cli.is_trash(lib, run_id):
            trash_cli.resume(plugin, lib, run_id)
        else:
            outcome = run_journal(plugin, lib, run_id, 0)
            problems = len(outcome.failed)
            ui.print_(f"resumed run {run_id}: renamed {outcome.counted()}"
                      + (f"; {problems} not renamed (see above), no file was lost"
                         if problems else ""))
        interrupt.consume()  # pressed after the walk: the run is finished


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if not opts.dry_run:
        guard.check_writable(lib, "similar-order")
    if opts.resume:
        return resume(plugin, lib)
    check_no_unfinished(lib)
    export = settings.output_file(opts.export, "--export") if opts.export else None
    fmt = plugin.config["rename_format"].as_str()
    sel = select(lib, args, plugin.config["sort"].as_str())
    if not len(sel):
        raise settings.no_match(args)
    if opts.clear:
        ranked = [(p, 0) for p in sel.photos()]
        rename(plugin, lib, "clear", ranked, None, opts.dry_run, rank_storer(lib, ranked))
        return

    if opts.copies:
        sel = Selection.of(lib, extras.handle(plugin, lib, sel.photos(), opts.copies,
                                              opts.dry_run))

    chosen = settings.feature_settings(plugin, lib)
    key = settings.settings_key(chosen)
    threshold = settings.threshold(plugin, lib, opts, chosen, required=False)
    metric = opts.metric or plugin.config["metric"].as_choice(["euclidean", "cosine"])
    improve = plugin.config["improve"].get(bool) if opts.improve is None else opts.improve
    ordered = order_job.order(lib, sel, key, metric, opts.fast, improve, opts.start,
                              threshold, settings.burst_gap(plugin),
                              near_check(plugin, lib, opts, chosen) if threshold else None)
    shown = described(key, chosen.weights)
    if not len(ordered.rows):
        which = ("the photo matched has no" if len(sel) == 1 else
                 f"none of the {len(sel)} photos matched have")
        raise UserError(f"{which} vectors of {shown}; run `beet similar-featurize` first")
    if len(ordered.missing):
        n = len(ordered.missing)
        plugin._log.warning("{} matched {} no vectors of {} and {} left out; run "
                            "`beet similar-featurize` first", count(n, "photo"),
                            "has" if n == 1 else "have", shown, "is" if n == 1 else "are")
    r = ordered.result
    space = " in the reduced space" if ordered.reduced else ""
    ui.print_(f"ordered {count(len(ordered.rows), 'photo')} ({'fast' if opts.fast else 'exact'}, "
              f"{metric}) in {r.seconds:.1f}s; chain length{space} "
              f"{plain(ordered.greedy_length)}"
              + (f" -> {plain(r.length)} after improving" if improve else ""))
    if export:
        try:
            order_job.export_features(lib, key, export, ordered)
        except OSError as exc:
            raise settings.write_failed(export, exc) from None
        ui.print_(f"wrote {export}")
    if not opts.rename and not opts.dry_run:  # no Photo objects needed
        with interrupts.deferred(), lib.transaction() as tx:
            tx.mutate_many("UPDATE similar_photos SET rank=? WHERE id=?",
                           zip(range(1, len(ordered.rows) + 1),
                               sel.ids[ordered.rows].tolist()))
        ui.print_(f"stored ranks of {count(len(ordered.rows), 'photo')}; files not renamed")
        return
    ranked = list(zip(ordered.photos(), range(1, len(ordered.rows) + 1)))
    if opts.rename:
        rename(plugin, lib, "order", ranked, fmt, opts.dry_run, rank_storer(lib, ranked))
    else:
        for photo, rank in ranked:
            ui.print_(f"{rank} {util.displayable_path(photo.path)}")



def command(plugin: SimilarPlugin) -> ui.Subcommand:
    order = ui.Subcommand("similar-order",
                          help="order photos so look-alikes are adjacent; rename with rank")
    order.parser.usage += " [QUERY]"
    op = order.parser
    op.add_option("--fast", action="store_true", default=False,
                  help="approximate search, for big libraries")
    op.add_option("--metric", choices=["euclidean", "cosine"],
                  help="distance between vectors: euclidean or cosine "
                       "(default: similar.metric)")
    op.add_option("--improve", dest="improve", action="store_true", default=None,
                  help="shorten the chain with 2-opt moves (default: similar.improve)")
    op.add_option("--no-improve", dest="improve", action="store_false",
                  help="keep the chain as the nearest-neighbour pass makes it (faster)")
    op.add_option("-t", "--threshold",
                  help="near-duplicates (cosine distance under it) stay together in the "
                       "chain (default: similar.threshold, auto: the calibrated one)")
    op.add_option("--start", choices=["outlier", "earliest"], default="outlier",
                  help="where the chain starts: outlier (the photo farthest from the "
                       "rest; default) or earliest (the photo taken first)")
    op.add_option("-n", "--dry-run", "--pretend", dest="dry_run", action="store_true",
                  default=False, help="print the plan and change nothing")
    op.add_option("--no-rename", dest="rename", action="store_false", default=True,
                  help="store ranks only; leave file names alone")
    op.add_option("--clear", action="store_true", default=False,
                  help="strip rank prefixes: back to the imported names")
    op.add_option("--resume", action="store_true", default=False,
                  help="finish an interrupted rename run")
    op.add_option("--copies", choices=["mark", "move", "trash", "delete"],
                  help="first, the extra exact copies (same bytes): mark (set "
                       "duplicate_of), move (to similar.dupes_folder), trash (to the "
                       "system trash; undoable) or delete (asks first)")
    op.add_option("--export", metavar="FILE",
                  help="write features.csv: images, feature columns, rank R")

    order.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return order
