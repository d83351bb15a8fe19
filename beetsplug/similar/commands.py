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

from . import featurizing
from .features import FeatureConfigError, FeatureExtractor, model_key
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

    report = featurizing.run(
        lib, list(found), settings, get_extractor, key, force=force,
        on_error=lambda e: plugin._log.warning("skipped {}", e))
    ui.print_(f"featurized {report.stored} with {key}, {report.skipped} already "
              f"done, {len(report.errors)} skipped (bad files)")
    return report


def _featurize(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    found = photos(lib, args, plugin.config["sort"].as_str())
    try:
        featurize_photos(plugin, lib, found, opts.force, opts)
    except KeyboardInterrupt:
        raise UserError("interrupted; the vectors already stored are kept, "
                        "run the command again to finish") from None


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

    return [imp, ls, feat]
