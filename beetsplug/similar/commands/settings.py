"""Settings the commands share: read from config, checked, with one-line
errors the user can act on."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets.exceptions import UserError
from PIL import Image

from ..features import job
from ..features.extractor import FeatureConfigError, backbone, check_weights, model_key
from ..keep.rules import Keeper, KeepRuleError
from ..library import vectors
from ..numbers import plain
from . import calibrate
from .existing import existing_vectors

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def max_pixels(plugin: SimilarPlugin) -> int:
    value = plugin.config["max_pixels"].get(int)
    if value <= 0:
        raise UserError("similar.max_pixels must be a positive number of pixels")
    # Pillow refuses past twice its own limit; let ours decide.
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, value // 2 + 1)
    return value


def threads(plugin: SimilarPlugin) -> int:
    value = plugin.config["threads"].get(int)
    if value < 1:
        raise UserError("similar.threads must be 1 or more")
    return value


def formats(plugin: SimilarPlugin) -> tuple[str, ...]:
    value = plugin.config["formats"].get()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UserError("similar.formats lists formats best first, such as "
                        "[RAW, HEIF, JPEG, TIFF, WEBP, PNG, GIF, BMP]")
    return tuple(value)


def keeper(plugin: SimilarPlugin) -> Keeper:
    value = plugin.config["keep"].get()
    try:
        return Keeper(value if isinstance(value, list) else [value], formats(plugin))
    except KeepRuleError as exc:
        raise UserError(str(exc)) from None


def _number(value, fits, message: str) -> float:
    """``value`` as a float that ``fits``, or a UserError saying ``message``."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(message) from None
    if not fits(value):
        raise UserError(message)
    return value


def burst_gap(plugin: SimilarPlugin) -> float:
    return _number(plugin.config["burst_gap"].get(), lambda v: 0 < v <= 3600,
                   "similar.burst_gap is the most seconds between two frames of a burst, "
                   "such as 2")


def copy_distance(plugin: SimilarPlugin, lib: Library, chosen: job.Settings) -> float | None:
    """The distance under which a group is a ``copy``: measured by the
    calibration of the layer in use (made first if needed); None when
    calibration is impossible (too few photos), so no group is a copy."""
    try:
        calibration = calibrate.stored_or_new(plugin, lib, chosen.model, chosen.weights,
                                              "telling copies apart")
    except calibrate.job.CalibrationError:
        return None
    return calibration.at(chosen.depth).copy_distance


def sidecars(plugin: SimilarPlugin) -> list[str]:
    value = plugin.config["sidecars"].get()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip(".")
                                              for v in value):
        raise UserError("similar.sidecars is a list of file extensions, such as "
                        "[.xmp, .pp3, .dop, .aae, .on1, .arp]")
    return value


def weights(plugin: SimilarPlugin, opts=None) -> str:
    value = getattr(opts, "weights", None) or plugin.config["weights"].as_str()
    return os.path.expanduser(value)


def false_positive_rate(plugin: SimilarPlugin) -> float | None:
    """The old setting (a share of unrelated pairs), when a user set it."""
    view = plugin.config["false_positive_rate"]
    if not view.exists() or view.get() is None:
        return None
    return _number(view.get(), lambda v: 0 < v < 0.5,
                   "similar.false_positive_rate is the share of unrelated pairs allowed "
                   "under the threshold: above 0 and below 0.5, such as 0.0001; "
                   "better, remove it and set similar.false_matches")


def false_matches(plugin: SimilarPlugin) -> float:
    return _number(plugin.config["false_matches"].get(), lambda v: 0 < v <= 10,
                   "similar.false_matches is the expected number of wrong near-duplicate "
                   "partners per photo: above 0 and at most 10, such as 0.01")


def verify(plugin: SimilarPlugin) -> bool:
    value = plugin.config["verify"].get()
    if not isinstance(value, bool):
        raise UserError("similar.verify is yes or no")
    return value


def verify_candidates(plugin: SimilarPlugin) -> float:
    return _number(plugin.config["verify_candidates"].get(), lambda v: 0 < v <= 100,
                   "similar.verify_candidates is how many candidates per photo the "
                   "second check looks at: above 0 and at most 100, such as 8")


def nearest_candidates(plugin: SimilarPlugin) -> int:
    """How many of each photo's nearest the second check looks at, however
    far: similar.verify_candidates, rounded (at least 1)."""
    return max(1, round(verify_candidates(plugin)))


def library_size(lib: Library, key: str) -> int:
    """N for a threshold: the photos featurized with ``key``; before any
    are, the photos in the library."""
    n = vectors.models(lib).get(key, 0)
    if n:
        return n
    with lib.transaction() as tx:
        return tx.query("SELECT COUNT(*) FROM similar_photos")[0][0]


def wrong_partners(plugin: SimilarPlugin, n: int, say: bool = False) -> float:
    """Expected wrong partners per photo: similar.false_matches, or the old
    similar.false_positive_rate read as the same share of pairs for ``n``
    photos (saying so in one line when ``say``)."""
    fpr = false_positive_rate(plugin)
    if fpr is None:
        return false_matches(plugin)
    partners = fpr * max(n - 1, 1)
    if say:
        plugin._log.warning(
            "similar.false_positive_rate {} is read as similar.false_matches {} for {} "
            "photos (wrong partners per photo; it grows with the library); set "
            "false_matches instead", plain(fpr), plain(partners), n)
    return partners


def calibration_sample(plugin: SimilarPlugin) -> int:
    value = plugin.config["calibration_sample"].get(int)
    if value < calibrate.job.MIN_PHOTOS:
        raise UserError(f"similar.calibration_sample must be {calibrate.job.MIN_PHOTOS} "
                        "or more photos")
    return value


def _depth(plugin: SimilarPlugin, lib: Library, model: str, weights_: str, raw,
           calibrated: bool = True) -> int:
    """A depth number from ``auto``, a number or a candidate layer's name.
    Without ``calibrated``, ``auto`` is the stored calibration's or 1: no
    calibration is made."""
    try:
        bb = backbone(model)
        if str(raw).strip().lower() != "auto":
            return bb.depth(raw)
        check_weights(weights_)
        if not calibrated:
            found = calibrate.store.load(lib, calibrate.family_key(model, weights_))
            return found.chosen if found is not None else 1
    except FeatureConfigError as exc:
        raise UserError(f"similar: {exc}") from None
    try:
        return calibrate.stored_or_new(plugin, lib, model, weights_, "depth: auto").chosen
    except calibrate.job.CalibrationError as exc:
        plugin._log.warning("depth: auto uses depth 1 for now: {}", exc)
        return 1


def feature_settings(plugin: SimilarPlugin, lib: Library, opts=None, calibrated: bool = True,
                     existing: bool = True) -> job.Settings:
    """Config values, overridden by command-line options where given; a
    depth of ``auto`` is the calibrated one (calibrating first if needed,
    unless not ``calibrated``). With ``existing``, and no model, weights or
    depth on the command line, the library's vectors decide when it has
    none made with the configured ones (see :func:`existing_vectors`)."""
    cfg = plugin.config

    def pick(name, kind):
        value = getattr(opts, name, None) if opts is not None else None
        return value if value is not None else cfg[name].get(kind)

    model, weights_, depth = pick("model", str), weights(plugin, opts), pick("depth", None)
    given = any(getattr(opts, name, None) is not None for name in ("model", "weights", "depth"))
    if existing and not given:
        found = existing_vectors(plugin, lib, model, weights_)
        if found is not None:
            model, layer, weights_ = found
            if str(depth).strip().lower() == "auto":
                depth = layer
    settings = job.Settings(
        model=model,
        depth=_depth(plugin, lib, model, weights_, depth, calibrated),
        weights=weights_,
        batch_size=pick("batch_size", int),
        threads=threads(plugin),
        dtype=cfg["dtype"].as_choice(["float16", "float32"]),
        max_pixels=max_pixels(plugin),
        formats=formats(plugin),
    )
    if settings.batch_size < 1:
        raise UserError("similar.batch_size must be 1 or more")
    return settings


def settings_key(settings: job.Settings) -> str:
    try:
        return model_key(settings.model, settings.depth, settings.weights)
    except FeatureConfigError as exc:
        raise UserError(f"similar: {exc}") from None


def _calibrated(plugin: SimilarPlugin, lib: Library, chosen: job.Settings, needed_for: str):
    """(layer figures, library size) for the layer in use; raises CalibrationError."""
    calibration = calibrate.stored_or_new(plugin, lib, chosen.model, chosen.weights, needed_for)
    return calibration.at(chosen.depth), library_size(lib, settings_key(chosen))


def _given_threshold(plugin: SimilarPlugin, opts) -> float | None:
    """A threshold given with -t or similar.threshold; None for auto."""
    value = getattr(opts, "threshold", None)
    value = value if value is not None else plugin.config["threshold"].get()
    if str(value).strip().lower() == "auto":
        return None
    return _number(value, lambda v: 0 < v < 2,
                   "similar.threshold is a cosine distance between 0 and 2, or auto")


def threshold(plugin: SimilarPlugin, lib: Library, opts, chosen: job.Settings,
              required: bool = True) -> float | None:
    """The near-duplicate threshold of the network alone: a number, or for
    ``auto`` the distance at similar.false_matches wrong partners per photo
    for this library's size (calibrating first if needed). When calibration
    is impossible: an error, or None (with a line saying so) unless
    ``required``."""
    given = _given_threshold(plugin, opts)
    if given is not None:
        return given
    try:
        layer, n = _calibrated(plugin, lib, chosen, "threshold: auto")
    except calibrate.job.CalibrationError as exc:
        if required:
            raise UserError(f"similar.threshold is auto, but {exc}") from None
        plugin._log.warning("near-duplicates are not grouped: {}", exc)
        return None
    return layer.threshold(wrong_partners(plugin, n, say=True), n)


def candidate_threshold(plugin: SimilarPlugin, lib: Library, opts,
                        chosen: job.Settings) -> float | None:
    """The looser distance under which pairs are candidates for the second
    check (besides each photo's nearest): similar.verify_candidates
    unrelated pairs per photo for this library's size, never below the
    strict threshold. None when similar.verify is off or calibration is
    impossible."""
    if not verify(plugin):
        return None
    try:
        layer, n = _calibrated(plugin, lib, chosen, "verifying candidates")
    except calibrate.job.CalibrationError:
        return None
    strict = _given_threshold(plugin, opts)
    if strict is None:
        strict = layer.threshold(wrong_partners(plugin, n), n)
    return max(layer.threshold(verify_candidates(plugin), n), strict)


def no_match(args: list[str]) -> UserError:
    """The error of a command whose query matched no photo."""
    if args:
        return UserError(f"no photos match the query {' '.join(args)}")
    return UserError("the library has no photos yet; add some with "
                     "`beet similar-import PATH`")


def output_file(path: str, option: str) -> str:
    """Check, before any work, that ``path`` can be written: its folder
    exists and it is not a folder itself."""
    path = os.path.expanduser(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"{option} {path}: no folder {folder}; create it first")
    if os.path.isdir(path):
        raise UserError(f"{option} {path}: is a folder; name a file in it")
    return path


def write_failed(path: str, exc: OSError) -> UserError:
    return UserError(f"cannot write {path}: {exc.strerror or exc}")
