"""``beet similar-calibrate [QUERY]``: measure which layer, and which
threshold, tell near-duplicates apart on this library's own photos.

Also the place other commands get a calibration from when ``depth`` or
``threshold`` is ``auto``: the stored one, or a new one made first.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from beets import config as beets_config
from beets import ui
from beets.exceptions import UserError

from ..calibration import advice, job, store
from ..features.extractor import (
    BACKBONES,
    FeatureConfigError,
    FeatureExtractor,
    check_available,
    described,
    family_key,
)
from ..library.photos import photos
from ..numbers import plain
from ..progress import Progress
from . import guard, settings
from .existing import existing_vectors

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def weights_at_hand(model: str, weights: str) -> None:
    """Stop before any work when the network's weights cannot be had."""
    try:
        check_available(model, weights)
    except FeatureConfigError as exc:
        raise UserError(f"similar: {exc}") from None


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
    """Calibrate on a sample of ``found`` and store the result. Ctrl-C stores
    nothing and keeps the previous calibration (a UserError says so)."""
    found = list(found)
    chosen = job.sample(found, size)
    job.check_enough(len(chosen))  # before building the network
    family = family_key(model, weights)
    progress = Progress(len(chosen), "calibrate")  # its minute counts the network's start
    try:
        extractor = _extractor(plugin, model, weights)
        calibration = job.run(
            chosen, extractor, family, settings.wrong_partners(plugin, len(found)), len(found),
            threads=settings.threads(plugin), max_pixels=settings.max_pixels(plugin),
            batch_size=plugin.config["batch_size"].get(int),
            on_error=lambda e: plugin._log.warning("skipped {}", e),
            on_progress=progress.update, on_stage=progress.stage)
    except KeyboardInterrupt:
        kept = "the previous one is kept" if store.load(lib, family) else "none was stored"
        raise UserError(f"calibration of {described(family, weights)} interrupted; {kept}"
                        ) from None
    finally:
        progress.close()
    store.save(lib, calibration)
    return calibration


def stored_or_new(plugin: SimilarPlugin, lib: Library, model: str, weights: str,
                  needed_for: str) -> store.Calibration:
    """The stored calibration of ``model`` with ``weights``, or a new one,
    made first on a sample of the library (saying so in one line). Raises
    CalibrationError."""
    family = family_key(model, weights)
    found = store.load(lib, family)
    if found is not None:
        return found
    size = settings.calibration_sample(plugin)
    everything = list(photos(lib, sort=""))
    job.check_enough(len(everything), "in the library")  # the only line when too few
    weights_at_hand(model, weights)
    ui.print_(f"calibrating {described(family, weights)} first on "
              f"{min(size, len(everything))} photos, for "
              f"{needed_for} (see `beet similar-calibrate`)")
    return calibrate(plugin, lib, model, weights, everything, size)


def table(calibration: store.Calibration, at: advice.Settings, weights: str = "",
          verbose: bool = False) -> list[str]:
    """The calibration as lines of text, the chosen layer starred, with the
    threshold and recall for ``at.partners`` wrong partners per photo
    among ``at.n`` photos, and with the second check the share the
    network proposes to it."""
    made = datetime.datetime.fromtimestamp(calibration.made).strftime("%Y-%m-%d %H:%M")
    pairs = calibration.layers[0].tail.pairs
    copies = len(calibration.layers[0].positive)
    lines = [f"{described(calibration.family, weights)}: {calibration.sample} photos and "
             + ("as many" if copies == calibration.sample else str(copies))
             + f" augmented copies, {made}; {pairs} pairs of different photos measured",
             f"thresholds for {at.n} photos and {plain(at.partners)} expected wrong partners "
             "per photo (similar.false_matches)"
             + (f"; with the second check, each photo's {at.nearest} nearest and "
                f"{plain(at.candidates)} candidates per photo (similar.verify_candidates)"
                if at.checked else ""),
             f"  depth  {'layer':24} {'dim':>5} {'AUC':>6} {'threshold':>10} {'recall':>7} "
             f"{'copy':>8}" + (f" {'proposed':>9}" if at.checked else "")]
    for f in calibration.layers:
        mark = "*" if f.depth == calibration.chosen else " "
        t = f.threshold(at.partners, at.n)
        lines.append(f"{mark} {f.depth:5}  {f.layer:24} {f.dim:5} {f.auc:6.3f} "
                     f"{plain(t, verbose):>10} {f.recall(t):7.2f} "
                     f"{plain(f.copy_distance, verbose):>8}"
                     + (f" {f.proposed(at.nearest, at.candidates, at.n):9.2f}"
                        if at.checked else ""))
    best = calibration.at(calibration.chosen)
    t = best.threshold(at.partners, at.n)
    lines.append(f"chosen: depth {best.depth} ({best.layer}), near-duplicates under "
                 f"{plain(t, verbose)} for this library of {at.n} photos"
                 + (" (on the network's word alone; with the second check, the pairs it "
                    "confirms)" if at.checked else ""))
    return lines + advice.troubles(calibration, at, weights)


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    model = opts.model or plugin.config["model"].as_str()
    weights = settings.weights(plugin, opts)
    if not opts.model and not opts.weights:
        found = existing_vectors(plugin, lib, model, weights)
        if found is not None:
            model, _, weights = found
    if opts.show:
        try:
            calibration = store.load(lib, family_key(model, weights))
        except FeatureConfigError as exc:
            raise UserError(f"similar: {exc}") from None
        if calibration is None:
            raise UserError(f"{model} with weights {opts.weights or weights} is not "
                            "calibrated yet; run `beet similar-calibrate`")
    else:
        guard.check_writable(lib, "similar-calibrate")
        weights_at_hand(model, weights)
        size = opts.sample or settings.calibration_sample(plugin)
        found = list(photos(lib, args, plugin.config["sort"].as_str()))
        if not found:
            raise settings.no_match(args)
        try:
            calibration = calibrate(plugin, lib, model, weights, found, size)
        except (job.CalibrationError, FeatureConfigError) as exc:
            raise UserError(str(exc)) from None
    layer = calibration.at(calibration.chosen).layer
    n = settings.library_size(lib, f"{model}/{layer}/{calibration.family.split('/', 1)[1]}")
    at = advice.Settings(settings.wrong_partners(plugin, n, say=True), n,
                         settings.verify(plugin), settings.verify_candidates(plugin))
    for line in table(calibration, at, weights, beets_config["verbose"].get(int) > 0):
        ui.print_(line)


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-calibrate",
                        help="measure the best layer and near-duplicate threshold "
                             "on your own photos")
    cmd.parser.usage += " [QUERY]"
    p = cmd.parser
    p.add_option("-m", "--model", dest="model",
                 help="backbone: " + ", ".join(BACKBONES) + " (default: similar.model)")
    p.add_option("-w", "--weights", dest="weights", help="imagenet, none, or a weights file")
    p.add_option("-s", "--sample", type="int",
                 help="photos to measure (default: similar.calibration_sample, 200)")
    p.add_option("--show", action="store_true", default=False,
                 help="print the stored calibration; measure nothing")
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
