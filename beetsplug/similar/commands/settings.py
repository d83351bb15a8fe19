"""Settings the commands share: read from config, checked, with one-line
errors the user can act on."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets.exceptions import UserError
from PIL import Image

from ..features import job
from ..features.extractor import FeatureConfigError, model_key

if TYPE_CHECKING:
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


def feature_settings(plugin: SimilarPlugin, opts=None) -> job.Settings:
    """Config values, overridden by command-line options where given."""
    cfg = plugin.config

    def pick(name, kind):
        value = getattr(opts, name, None) if opts is not None else None
        return value if value is not None else cfg[name].get(kind)

    settings = job.Settings(
        model=pick("model", str),
        depth=pick("depth", int),
        weights=os.path.expanduser(str(pick("weights", str))),
        batch_size=pick("batch_size", int),
        threads=threads(plugin),
        dtype=cfg["dtype"].as_choice(["float16", "float32"]),
        max_pixels=max_pixels(plugin),
    )
    if settings.batch_size < 1:
        raise UserError("similar.batch_size must be 1 or more")
    return settings


def settings_key(settings: job.Settings) -> str:
    try:
        return model_key(settings.model, settings.depth, settings.weights)
    except FeatureConfigError as exc:
        raise UserError(f"similar: {exc}") from None


def threshold(plugin: SimilarPlugin, opts) -> float:
    value = opts.threshold if opts.threshold is not None else \
        plugin.config["threshold"].get()
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1.0
    if not 0 < value < 2:
        raise UserError("similar.threshold is a cosine distance: between 0 and 2")
    return value


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
