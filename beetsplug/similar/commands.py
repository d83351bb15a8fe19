"""The plugin's ``beet similar-*`` commands: option parsing and output.

Each command reads its options, calls the module that does the work and
prints a summary. Errors the user can fix are raised as ``UserError``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import plugins, ui, util
from beets.exceptions import UserError
from PIL import Image

from . import copies, featurizing, journal, order_job, report
from .dupes import DEFAULT_THRESHOLD, pair_distances
from .features import FeatureConfigError, FeatureExtractor, model_key
from .photolib import import_paths, photos
from .progress import Progress

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
    def on_error(error) -> None:
        plugin._log.warning("skipped {}", error)

    result = import_paths(
        lib,
        [os.fsdecode(util.normpath(a)) for a in args],
        max_pixels=_max_pixels(plugin),
        threads=_threads(plugin),
        on_error=on_error,
        on_photo=lambda photo, new: plugins.send(
            "similar_photo_imported", lib=lib, photo=photo, new=new),
    )
    for path in result.not_images:
        plugin._log.debug("not an image file name, passed over: {}", path)
    ui.print_(
        f"imported {len(result.added)} new, {len(result.updated)} updated, "
        f"{result.unchanged} unchanged, {len(result.errors)} skipped "
        f"(bad files), {len(result.not_images)} not images"
    )
    plugins.send("similar_import_done", lib=lib,
                 photos=result.added + result.updated)


# similar-featurize


def feature_settings(plugin: SimilarPlugin, opts=None) -> featurizing.Settings:
    """Config values, overridden by command-line options where given."""
    cfg = plugin.config

    def pick(name, kind):
        value = getattr(opts, name, None) if opts is not None else None
        return value if value is not None else cfg[name].get(kind)

    settings = featurizing.Settings(
        model=pick("model", str),
        depth=pick("depth", int),
        weights=os.path.expanduser(str(pick("weights", str))),
        batch_size=pick("batch_size", int),
        threads=_threads(plugin),
        dtype=cfg["dtype"].as_choice(["float16", "float32"]),
        max_pixels=_max_pixels(plugin),
    )
    if settings.batch_size < 1:
        raise UserError("similar.batch_size must be 1 or more")
    return settings


def settings_key(settings: featurizing.Settings) -> str:
    try:
        return model_key(settings.model, settings.depth, settings.weights)
    except FeatureConfigError as exc:
        raise UserError(f"similar: {exc}") from None


def featurize_photos(plugin: SimilarPlugin, lib: Library, found, force: bool,
                     opts=None) -> featurizing.Report:
    """Featurize ``found``; the model is built once per process and key."""
    settings = feature_settings(plugin, opts)
    key = settings_key(settings)

    def get_extractor() -> FeatureExtractor:
        if key not in plugin.extractors:
            plugin._log.info("loading {} (depth {})", settings.model, settings.depth)
            try:
                plugin.extractors[key] = FeatureExtractor(
                    settings.model, settings.depth, settings.weights)
            except FeatureConfigError as exc:
                raise UserError(f"similar: {exc}") from None
        return plugin.extractors[key]

    result = featurizing.run(
        lib, list(found), settings, get_extractor, key, force=force,
        on_error=lambda e: plugin._log.warning("skipped {}", e))
    rate = f" at {result.stored / result.seconds:.1f}/s" if result.stored else ""
    ui.print_(f"featurized {result.stored} with {key}{rate}, {result.skipped} "
              f"already done, {len(result.errors)} skipped (bad files)")
    return result


def _featurize(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    found = photos(lib, args, plugin.config["sort"].as_str())
    try:
        featurize_photos(plugin, lib, found, opts.force, opts)
    except KeyboardInterrupt:
        raise UserError("interrupted; the vectors already stored are kept, "
                        "run the command again to finish") from None


# similar-order / similar-undo


def _run_journal(plugin: SimilarPlugin, lib: Library, run_id: int, total: int,
                 undo: bool = False):
    label = "undo" if undo else "rename"
    progress = Progress(total, label)
    try:
        outcome = (journal.undo if undo else journal.resume)(lib, run_id, lambda: progress.update())
    except KeyboardInterrupt:
        raise UserError(
            "interrupted; no file is lost. Run `beet similar-order --resume` to "
            "finish or `beet similar-undo` to put every file back") from None
    finally:
        progress.close()
    for error in outcome.errors:
        plugin._log.warning("{}", error)
    return outcome


def _check_no_unfinished(lib: Library) -> None:
    run_id = journal.unfinished(lib)
    if run_id is not None:
        raise UserError(
            f"rename run {run_id} was interrupted; run `beet similar-order --resume` "
            "to finish it or `beet similar-undo` to roll it back first")


def _rename(plugin: SimilarPlugin, lib: Library, kind: str, ranked, fmt: str, dry_run: bool,
            before=lambda: None) -> None:
    steps = order_job.rename_steps(ranked, fmt, lib.replacements)
    final = steps[len(steps) // 2:]  # second halves: temp name -> target
    if not steps:
        if not dry_run:
            with lib.transaction():
                before()
        ui.print_("every file already has its name; nothing to rename")
        return
    if dry_run:
        sources = {s.key: s.src for s in steps[: len(steps) // 2]}
        for step in final:
            ui.print_(f"{util.displayable_path(sources[step.key])} -> "
                      f"{os.path.basename(step.dst)}")
        ui.print_(f"dry run: {len(final)} files would be renamed; nothing changed")
        return
    run_id = journal.start(lib, kind, steps, before)
    outcome = _run_journal(plugin, lib, run_id, len(steps))
    if outcome.errors:
        ui.print_(f"run {run_id}: {len(outcome.errors)} renames failed (see above); "
                  "no file was lost: `beet similar-undo` puts every file back")
    else:
        ui.print_(f"renamed {len(final)} files (run {run_id}); "
                  "`beet similar-undo` reverts")


def _rank_storer(ranked):
    """A callable that stores each photo's rank (run inside a transaction)."""
    def store() -> None:
        for photo, rank in ranked:
            photo.rank = rank
            photo.store()
    return store


def _order(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if opts.resume:
        run_id = journal.unfinished(lib)
        if run_id is None:
            raise UserError("there is no interrupted rename run to resume")
        outcome = _run_journal(plugin, lib, run_id, 0)
        ui.print_(f"resumed run {run_id}: {outcome.done} steps done, "
                  f"{len(outcome.errors)} problems")
        return
    _check_no_unfinished(lib)
    fmt = plugin.config["rename_format"].as_str()
    found = list(photos(lib, args, plugin.config["sort"].as_str()))
    if opts.clear:
        ranked = [(p, 0) for p in found]
        _rename(plugin, lib, "clear", ranked, "$origname", opts.dry_run, _rank_storer(ranked))
        return

    if opts.copies:
        found = _handle_copies(plugin, lib, found, opts.copies, opts.dry_run)

    settings = feature_settings(plugin)
    key = settings_key(settings)
    metric = opts.metric or plugin.config["metric"].as_choice(["euclidean", "cosine"])
    improve = plugin.config["improve"].get(bool) if opts.improve is None else opts.improve
    ordered = order_job.order(lib, found, key, metric, opts.fast, improve, opts.start)
    if ordered.missing:
        plugin._log.warning("{} matched photos have no {} vectors and are left out; "
                    "run `beet similar-featurize` first", len(ordered.missing), key)
    if not ordered.photos:
        raise UserError(f"no featurized photos to order (model {key}); "
                        "run `beet similar-featurize` first")
    r = ordered.result
    ui.print_(f"ordered {len(ordered.photos)} photos ({'fast' if opts.fast else 'exact'}, "
              f"{metric}) in {r.seconds:.1f}s; chain length {ordered.greedy_length:.4g}"
              + (f" -> {r.length:.4g} after improving" if improve else ""))
    if opts.export:
        order_job.export_features(opts.export, ordered)
        ui.print_(f"wrote {opts.export}")
    ranked = list(zip(ordered.photos, range(1, len(ordered.photos) + 1)))
    store_ranks = _rank_storer(ranked)
    if opts.rename:
        _rename(plugin, lib, "order", ranked, fmt, opts.dry_run, store_ranks)
    elif opts.dry_run:
        for photo, rank in ranked:
            ui.print_(f"{rank} {util.displayable_path(photo.path)}")
    else:
        with lib.transaction():
            store_ranks()
        ui.print_(f"stored ranks of {len(ranked)} photos; files not renamed")


def _handle_copies(plugin: SimilarPlugin, lib: Library, found, action: str,
                   dry_run: bool, pairs=None) -> list:
    """Mark, move or delete the extra exact copies among ``found``; returns
    the photos left to order (moved and deleted extras are not)."""
    pairs = pairs if pairs is not None else copies.extras(copies.exact_groups(found))
    if not pairs:
        ui.print_("no exact copies")
        return list(found)
    for photo, keep in pairs:
        ui.print_(f"{action}: {util.displayable_path(photo.path)} "
                  f"(same as {util.displayable_path(keep.path)})")
    if dry_run:
        done = {"mark": "marked", "move": "moved", "delete": "deleted"}[action]
        ui.print_(f"dry run: {len(pairs)} copies would be {done}; nothing changed")
        return list(found)
    gone = {photo.id for photo, _ in pairs}
    if action == "mark":
        with lib.transaction():
            copies.tag(pairs)
        ui.print_(f"marked {len(pairs)} copies: duplicate_of=<id of the photo kept>")
        return list(found)
    if action == "move":
        folder = plugin.config["dupes_folder"].as_str()
        steps = copies.move_steps(pairs, folder)
        run_id = journal.start(lib, "move-copies", steps, lambda: copies.tag(pairs))
        outcome = _run_journal(plugin, lib, run_id, len(steps))
        ui.print_(f"moved {len(pairs) - len(outcome.errors)} copies to {folder!r} "
                  f"(run {run_id}); `beet similar-undo` brings them back")
    else:  # delete: the only way a photo is ever deleted
        if not ui.input_yn(f"Delete {len(pairs)} exact copies for good? The photo "
                           "kept in each group stays. (yes/no)", require=True):
            raise UserError("nothing deleted")
        for photo, _ in pairs:
            with lib.transaction():
                photo.remove(delete=True)
        ui.print_(f"deleted {len(pairs)} exact copies")
    return [p for p in found if p.id not in gone]


def _undo(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    last = journal.last_undoable(lib)
    if last is None:
        raise UserError("nothing to undo")
    run_id, kind = last
    outcome = _run_journal(plugin, lib, run_id, 0, undo=True)
    ui.print_(f"undid run {run_id} ({kind}): {outcome.done} steps reversed"
              + (f", {len(outcome.errors)} problems (see above)" if outcome.errors else ""))


# similar-dupes / similar-report


def _threshold(plugin: SimilarPlugin, opts) -> float:
    value = opts.threshold if opts.threshold is not None else \
        plugin.config["threshold"].get()
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1.0
    if not 0 < value < 2:
        raise UserError("similar.threshold is a cosine distance: between 0 and 2")
    return value


def _dupes(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    found = list(photos(lib, args, plugin.config["sort"].as_str()))
    key = settings_key(feature_settings(plugin))
    threshold = _threshold(plugin, opts)
    groups, missing = order_job.duplicate_groups(lib, found, key, threshold, opts.exact)
    if missing:
        plugin._log.warning("{} matched photos have no {} vectors: only exact copies "
                    "are found for them; run `beet similar-featurize`", len(missing), key)
    fmt = opts.format or plugin.config["format"].as_str()
    pairs = []
    for n, group in enumerate(groups, start=1):
        keep = copies.keeper(group.photos)
        ui.print_(f"group {n}: {group.kind}, {len(group.photos)} photos")
        for photo in sorted(group.photos, key=lambda p: p.id != keep.id):
            ui.print_(f"  {'*' if photo.id == keep.id else ' '} {photo.evaluate_template(fmt)}")
        pairs += [(p, keep) for p in group.photos if p.id != keep.id]
    ui.print_(f"{len(groups)} groups, {len(pairs)} photos besides the one to keep (*)"
              f"; near-duplicates: cosine distance under {threshold:g}")
    action = opts.action
    if action and pairs:
        _handle_copies(plugin, lib, found, action, opts.dry_run, pairs)


def _report(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if not opts.output:
        raise UserError("name the page to write: -o report.html")
    found = list(photos(lib, args, plugin.config["sort"].as_str()))
    if not found:
        raise UserError("no photos match")
    key = settings_key(feature_settings(plugin))
    threshold = _threshold(plugin, opts)
    if all(p.rank for p in found):
        with_vectors, matrix = order_job.in_rank_order(lib, found, key)
    else:  # not ordered yet: order now, without renaming anything
        ordered = order_job.order(lib, found, key, "cosine", False, True)
        with_vectors, matrix = ordered.photos, ordered.matrix
    groups = order_job.group_duplicates(with_vectors, with_vectors, matrix, threshold)
    group_of = {p.id: n for n, g in enumerate(groups) for p in g.photos}
    distances = pair_distances(matrix, "cosine")
    cards = [
        report.Card(os.fsdecode(p.path), f"{p.rank or i + 1} {p.filepath.name}",
                    group_of.get(p.id), float(distances[i - 1]) if i else None)
        for i, p in enumerate(with_vectors)
    ]
    shown = {p.id for p in with_vectors}
    cards += [report.Card(os.fsdecode(p.path), f"{p.filepath.name} (not featurized)", None, None)
              for p in found if p.id not in shown]
    page, errors = report.render(cards, opts.title or "Similar photos", _threads(plugin),
                                 _max_pixels(plugin))
    for error in errors:
        plugin._log.warning("no thumbnail for {}", error)
    report.write(opts.output, page)
    ui.print_(f"wrote {opts.output}: {len(cards)} photos, {len(groups)} groups framed")


# similar-ls


def _ls(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    fmt = opts.format or plugin.config["format"].as_str()
    sort = plugin.config["sort"].as_str()
    found = photos(lib, args, sort)
    if opts.copies:
        found = [p for group in sorted(copies.exact_groups(found), key=lambda g: g[0].path)
                 for p in group]
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

    feat = ui.Subcommand("similar-featurize",
                         help="compute CNN feature vectors for photos")
    feat.parser.add_option("-m", "--model", dest="model",
                           help="backbone: xception (default), mobilenet_v3_small, "
                                "efficientnet_b0, resnet50")
    feat.parser.add_option("-d", "--depth", dest="depth", type="int",
                           help="layer depth 1 (last block) to 4 (earliest)")
    feat.parser.add_option("-w", "--weights", dest="weights",
                           help="imagenet, none, or a weights file")
    feat.parser.add_option("-b", "--batch-size", dest="batch_size", type="int")
    feat.parser.add_option("--force", action="store_true", default=False,
                           help="redo photos that already have vectors")
    feat.func = bind(_featurize)

    order = ui.Subcommand("similar-order",
                          help="order photos so look-alikes are adjacent; rename with rank")
    op = order.parser
    op.add_option("--fast", action="store_true", default=False,
                  help="approximate search, for big libraries")
    op.add_option("--metric", choices=["euclidean", "cosine"],
                  help="distance between vectors (default: similar.metric)")
    op.add_option("--improve", dest="improve", action="store_true", default=None,
                  help="shorten the chain with 2-opt moves (default: similar.improve)")
    op.add_option("--no-improve", dest="improve", action="store_false")
    op.add_option("--start", choices=["outlier", "earliest"], default="outlier",
                  help="start at the photo farthest from the rest (default) or the "
                       "earliest taken")
    op.add_option("-n", "--dry-run", "--pretend", dest="dry_run", action="store_true",
                  default=False, help="print the plan and change nothing")
    op.add_option("--no-rename", dest="rename", action="store_false", default=True,
                  help="store ranks only; leave file names alone")
    op.add_option("--clear", action="store_true", default=False,
                  help="strip rank prefixes: back to the imported names")
    op.add_option("--resume", action="store_true", default=False,
                  help="finish an interrupted rename run")
    op.add_option("--copies", choices=["mark", "move", "delete"],
                  help="extra exact copies (same hash): mark them (duplicate_of), "
                       "move them to similar.dupes_folder, or delete them (asks first)")
    op.add_option("--export", metavar="FILE",
                  help="write features.csv: images, feature columns, rank R")
    order.func = bind(_order)

    dupes = ui.Subcommand("similar-dupes", help="list groups of duplicates and near-duplicates")
    dp = dupes.parser
    dp.add_option("-f", "--format", dest="format", help="print photos with this template")
    dp.add_option("-t", "--threshold", type="float",
                  help="cosine distance under which photos are near-duplicates "
                       f"(default: similar.threshold, {DEFAULT_THRESHOLD})")
    dp.add_option("-e", "--exact", action="store_true", default=False,
                  help="exact copies (same hash) only")
    dp.add_option("--tag", dest="action", action="store_const", const="mark",
                  help="set duplicate_of=<id kept> on the others")
    dp.add_option("--move", dest="action", action="store_const", const="move",
                  help="move the others to similar.dupes_folder (undoable)")
    dp.add_option("--delete", dest="action", action="store_const", const="delete",
                  help="delete the others, after you confirm")
    dp.add_option("-n", "--dry-run", "--pretend", dest="dry_run", action="store_true",
                  default=False, help="say what --tag/--move/--delete would do")
    dupes.func = bind(_dupes)

    rep = ui.Subcommand("similar-report", help="write an HTML contact sheet of photos in order")
    rep.parser.add_option("-o", "--output", help="the HTML file to write")
    rep.parser.add_option("-t", "--threshold", type="float",
                          help="near-duplicate cosine distance (default: similar.threshold)")
    rep.parser.add_option("--title", help="page title")
    rep.func = bind(_report)

    undo = ui.Subcommand("similar-undo", help="undo the last rename run")
    undo.func = bind(_undo)

    return [imp, ls, feat, order, dupes, rep, undo]
