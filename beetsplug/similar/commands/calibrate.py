"""``beet similar-calibrate [QUERY]``: measure which layer, and which
threshold, tell near-duplicates apart on this library's own photos.

Also the place other commands get a calibration from when ``depth`` or
``threshold`` is ``auto``: the stored one, or a new one made first.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from beets import ui
from beets.exceptions import UserError

from ..calibration import job, store
from ..features.extractor import (
    BACKBONES,
    FeatureConfigError,
    FeatureExtractor,
    family_key,
)
from ..library.photos import photos
from ..progress import Progress
from . import settings

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def _extractor(plugin: SimilarPlugin, model: str, weights: str) -> FeatureExtractor:
    """One network giving every candidate layer, built once per process."""
    key = f"{family_key(model, weights)}/all"
    if key not in plugin.extractors:
        depths = tuple(range(1, len(BACKBONES[model].layers) + 1))
        try:
            plugin.extractors[key] = FeatureExtractor(model, 1, weights, depths=depths)
        except FeatureConfigError as exc:
            raise UserError(f"similar: {exc}") from None
    return plugin.extractors[key]


def calibrate(plugin: SimilarPlugin, lib: Library, model: str, weights: str, found,
              size: int) -> store.Calibration:
    """Calibrate on a sample of ``found`` and store the result."""
    chosen = job.sample(list(found), size)
    fpr = settings.false_positive_rate(plugin)
    job.check_enough(len(chosen))  # before building the network
    extractor = _extractor(plugin, model, weights)
    progress = Progress(len(chosen), "calibrate")
    try:
        calibration = job.run(
            chosen, extractor, family_key(model, weights), fpr,
            threads=settings.threads(plugin), max_pixels=settings.max_pixels(plugin),
            batch_size=plugin.config["batch_size"].get(int),
            on_error=lambda e: plugin._log.warning("skipped {}", e),
            on_progress=progress.update)
    finally:
        progress.close()
    store.save(lib, calibration)
    return calibration


def stored_or_new(plugin: SimilarPlugin, lib: Library, model: str, weights: str,
                  needed_for: str) -> store.Calibration:
    """The stored calibration of ``model`` with ``weights`` for the
    configured false-positive rate, or a new one, made first on a sample of
    the library (saying so in one line). Raises CalibrationError."""
    family = family_key(model, weights)
    fpr = settings.false_positive_rate(plugin)
    found = store.load(lib, family)
    if found is not None and found.fpr == fpr:
        return found
    size = settings.calibration_sample(plugin)
    everything = list(photos(lib, sort=""))
    ui.print_(f"calibrating {family} first on {min(size, len(everything))} photos, for "
              f"{needed_for} (see `beet similar-calibrate`)")
    return calibrate(plugin, lib, model, weights, everything, size)


def table(calibration: store.Calibration) -> list[str]:
    """The calibration as lines of text, the chosen layer starred."""
    made = datetime.datetime.fromtimestamp(calibration.made).strftime("%Y-%m-%d %H:%M")
    lines = [f"{calibration.family}: {calibration.sample} photos and as many augmented "
             f"copies, {made}; thresholds at {calibration.fpr:g} false positives",
             f"  depth  {'layer':24} {'dim':>5} {'AUC':>6} {'threshold':>10} {'recall':>7} "
             f"{'copy':>8}"]
    for f in calibration.layers:
        mark = "*" if f.depth == calibration.chosen else " "
        lines.append(f"{mark} {f.depth:5}  {f.layer:24} {f.dim:5} {f.auc:6.3f} "
                     f"{f.threshold:10.4g} {f.recall:7.2f} {f.copy_distance:8.4g}")
    best = calibration.at(calibration.chosen)
    lines.append(f"chosen: depth {best.depth} ({best.layer}), near-duplicates under "
                 f"{best.threshold:.4g}")
    return lines


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    model = opts.model or plugin.config["model"].as_str()
    weights = settings.weights(plugin, opts)
    if opts.show:
        try:
            calibration = store.load(lib, family_key(model, weights))
        except FeatureConfigError as exc:
            raise UserError(f"similar: {exc}") from None
        if calibration is None:
            raise UserError(f"{model} with weights {opts.weights or weights} is not "
                            "calibrated yet; run `beet similar-calibrate`")
    else:
        size = opts.sample or settings.calibration_sample(plugin)
        found = list(photos(lib, args, plugin.config["sort"].as_str()))
        try:
            calibration = calibrate(plugin, lib, model, weights, found, size)
        except (job.CalibrationError, FeatureConfigError) as exc:
            raise UserError(str(exc)) from None
    for line in table(calibration):
        ui.print_(line)


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-calibrate",
                        help="measure the best layer and near-duplicate threshold "
                             "on your own photos")
    p = cmd.parser
    p.add_option("-m", "--model", dest="model", help="backbone (default: similar.model)")
    p.add_option("-w", "--weights", dest="weights", help="imagenet, none, or a weights file")
    p.add_option("-s", "--sample", type="int",
                 help="photos to measure (default: similar.calibration_sample, 300)")
    p.add_option("--show", action="store_true", default=False,
                 help="print the stored calibration; measure nothing")
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
