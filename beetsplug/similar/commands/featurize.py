"""``beet similar-featurize [QUERY]``: store a CNN vector per photo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets import ui
from beets.exceptions import UserError

from ..features import job
from ..features.extractor import BACKBONES, FeatureConfigError, FeatureExtractor, described
from ..grouping.job import featurized_rows
from ..library.photos import photos
from ..library.selection import select
from ..search import kept
from ..search.space import build
from . import guard, settings

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def featurize_photos(plugin: SimilarPlugin, lib: Library, found, force: bool,
                     opts=None) -> job.Report:
    """Featurize ``found``; the model is built once per process and key."""
    # The configured network makes vectors, whatever vectors exist already.
    chosen = settings.feature_settings(plugin, lib, opts, existing=False)
    key = settings.settings_key(chosen)

    def get_extractor() -> FeatureExtractor:
        if key not in plugin.extractors:
            plugin._log.info("loading {}", described(key, chosen.weights))
            try:
                plugin.extractors[key] = FeatureExtractor(
                    chosen.model, chosen.depth, chosen.weights)
            except FeatureConfigError as exc:
                raise UserError(f"similar: {exc}") from None
        return plugin.extractors[key]

    result = job.run(
        lib, list(found), chosen, get_extractor, key, force=force,
        on_error=lambda e: plugin._log.warning("skipped {}", e),
        local=settings.verify(plugin))
    rate = f" at {result.stored / result.seconds:.1f}/s" if result.stored else ""
    ui.print_(f"featurized {result.stored} with {described(key, chosen.weights)}{rate}, "
              f"{result.skipped} already done, {len(result.errors)} skipped (bad files)")
    keep_graph(plugin, lib, key)
    return result


def keep_graph(plugin: SimilarPlugin, lib: Library, key: str) -> None:
    """A big library's neighbour graph, built or brought up to date now,
    so that the next ``similar-dupes`` or ``similar-order`` finds it
    ready (``search/kept.py``)."""
    sel = select(lib, (), plugin.config["sort"].as_str())
    rows, _ = featurized_rows(lib, sel, key)
    if len(rows) < kept.MIN_PICTURES:
        return
    build(lib, key, sel, rows, say=ui.print_)


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    guard.check_writable(lib, "similar-featurize")
    found = photos(lib, args, plugin.config["sort"].as_str())
    if not len(found):
        raise settings.no_match(args)
    try:
        featurize_photos(plugin, lib, found, opts.force, opts)
    except KeyboardInterrupt:
        raise UserError("interrupted; the vectors already stored are kept, "
                        "run the command again to finish") from None


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-featurize", help="compute CNN feature vectors for photos")
    cmd.parser.usage += " [QUERY]"
    p = cmd.parser
    p.add_option("-m", "--model", dest="model",
                 help="backbone: " + ", ".join(BACKBONES) + " (default: similar.model)")
    p.add_option("-d", "--depth", dest="depth",
                 help="auto (the calibrated layer), a depth from 1 (last block) down "
                      "to the middle of the network, or a candidate layer's name")
    p.add_option("-w", "--weights", dest="weights", help="imagenet, none, or a weights file")
    p.add_option("-b", "--batch-size", dest="batch_size", type="int", metavar="N",
                 help="photos through the network at once (default: similar.batch_size, 16)")
    p.add_option("--force", action="store_true", default=False,
                 help="redo photos that already have vectors")
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
