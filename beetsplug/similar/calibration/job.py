"""Calibrate a backbone on the user's own photos.

A sample of the library is decoded once; each photo and an augmented copy
of it (see :mod:`.augment`) go through the network together, and one
forward pass per batch gives every candidate layer's vectors. Each layer
is then measured (see :mod:`.measure`) and the best one chosen.
No beets here: photos are anything with ``id`` and ``path``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from itertools import islice

import numpy as np

from ..features.extractor import FeatureExtractor
from ..imaging.decode import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    open_upright,
    to_model_input,
)
from ..parallel import ordered_try_map
from . import measure, store
from .augment import augment, light
from .tail import MIN_PAIRS, TailError

MIN_PHOTOS = 10  # fewer give no useful figures
SEED = 0


class CalibrationError(Exception):
    """Calibration cannot be done; the message says what to do."""


def check_enough(count: int, how: str = "in the sample") -> None:
    if count < MIN_PHOTOS:
        raise CalibrationError(
            f"calibration needs at least {MIN_PHOTOS} photos and has {count} {how}; "
            "import more, or set similar.depth and similar.threshold yourself")


def sample(photos: Sequence, size: int, seed: int = SEED) -> list:
    """Up to ``size`` photos drawn evenly at random (the same draw for the
    same library), in id order."""
    photos = sorted(photos, key=lambda p: p.id)
    if len(photos) <= size:
        return photos
    rng = np.random.default_rng(seed)
    return [photos[i] for i in sorted(rng.choice(len(photos), size, replace=False))]


RELATED_SECONDS = 3600  # same camera within an hour: maybe a retake


def related_pairs(photos: Sequence) -> np.ndarray:
    """For the pairs ``i < j`` (``np.triu_indices`` order): True where the two
    may be near-duplicates of each other, so cannot count as unrelated:
    the same bytes, or taken with the same camera within an hour."""
    i, j = np.triu_indices(len(photos), k=1)
    hashes = np.array([getattr(p, "hash", "") or f"#{k}" for k, p in enumerate(photos)])
    taken = np.array([getattr(p, "taken", 0.0) or 0.0 for p in photos], dtype=np.float64)
    camera = np.array([getattr(p, "camera", "") or "" for p in photos])
    dated = (taken[i] > 0) & (taken[j] > 0)
    close = dated & (np.abs(taken[i] - taken[j]) < RELATED_SECONDS) & (camera[i] == camera[j])
    return (hashes[i] == hashes[j]) | close


def crossed_pairs(photos: Sequence, related: np.ndarray) -> np.ndarray:
    """When the rule above leaves fewer than half of the pairs unrelated (a
    sample from one shoot): the pairs it set aside for their camera and
    time, except the same bytes and each photo's previous and next moment.
    They are measured photo against the *augmented copy* of the other, so
    a one-camera library still has negatives. Same order as ``related``."""
    n = len(photos)
    none = np.zeros(len(related), dtype=bool)
    if n < 2 or (~related).sum() >= len(related) / 2:
        return none
    i, j = np.triu_indices(n, k=1)
    hashes = np.array([getattr(p, "hash", "") or f"#{k}" for k, p in enumerate(photos)])
    taken = np.array([getattr(p, "taken", 0.0) or 0.0 for p in photos], dtype=np.float64)
    camera = np.array([getattr(p, "camera", "") or "" for p in photos])
    # Each moment of a camera ranked by time: neighbours are one rank apart
    # (the same moment, 0: copies or a burst).
    when = list(zip(camera.tolist(), taken.tolist()))
    moments = {m: r for r, m in enumerate(sorted(set(when)))}
    rank = np.array([moments[m] for m in when])
    adjacent = (camera[i] == camera[j]) & (np.abs(rank[i] - rank[j]) <= 1)
    return related & (hashes[i] != hashes[j]) & ~adjacent


def _pair(photo, size: tuple[int, int], max_pixels: int) -> np.ndarray:
    """The photo, an augmented copy and a light copy, as model input:
    (3, h, w, 3)."""
    path = os.fsdecode(photo.path)
    img = open_upright(path, 2 * max(size), max_pixels)
    rng = np.random.default_rng([SEED, photo.id])
    try:
        copy, resaved = augment(img, rng), light(img, rng)
    except Exception as exc:  # a degenerate image (1 pixel wide, ...)
        raise ImageError(path, f"cannot make an augmented copy ({exc})") from None
    return np.stack([to_model_input(img, size), to_model_input(copy, size),
                     to_model_input(resaved, size)])


def run(photos: Sequence, extractor: FeatureExtractor, family: str,
        partners_per_photo: float = 0.01, library_size: int = 0, threads: int = 2,
        max_pixels: int = DEFAULT_MAX_PIXELS, batch_size: int = 16,
        on_error: Callable[[ImageError], None] = lambda e: None,
        on_progress: Callable[[int], None] = lambda n: None) -> store.Calibration:
    """Measure every depth of ``extractor`` on ``photos`` (already sampled);
    the best one is chosen by its recall at ``partners_per_photo`` in a
    library of ``library_size`` photos (default: the sample's)."""
    check_enough(len(photos))
    pairs = ordered_try_map(lambda p: _pair(p, extractor.size, max_pixels), photos,
                            workers=threads, prefetch=2 * batch_size, catch=ImageError)
    originals: dict[int, list[np.ndarray]] = {d: [] for d in extractor.depths}
    copies: dict[int, list[np.ndarray]] = {d: [] for d in extractor.depths}
    lights: dict[int, list[np.ndarray]] = {d: [] for d in extractor.depths}
    read: list[bool] = []
    it = iter(pairs)
    while batch := list(islice(it, batch_size)):
        good = []
        for _, images, error in batch:
            read.append(error is None)
            if error is not None:
                on_error(error)
            else:
                good.append(images)
        on_progress(len(batch))
        if not good:
            continue
        out = extractor.extract_all(np.concatenate(good))
        for depth, vectors in out.items():
            originals[depth].append(vectors[0::3])
            copies[depth].append(vectors[1::3])
            lights[depth].append(vectors[2::3])
    measured = sum(read)
    check_enough(measured, "could be read")
    bb = extractor.backbone
    kept = [p for p, ok in zip(photos, read) if ok]
    related = related_pairs(kept)
    crossed = crossed_pairs(kept, related)
    try:
        layers = tuple(
            measure.figures(d, bb.layer(d), np.concatenate(originals[d]),
                            np.concatenate(copies[d]), related, np.concatenate(lights[d]),
                            crossed)
            for d in extractor.depths)
    except TailError as exc:
        raise CalibrationError(
            f"calibration found too few pairs of different pictures ({exc}, at least "
            f"{MIN_PAIRS} needed); set similar.depth and similar.threshold yourself") from None
    chosen = measure.best(list(layers), partners_per_photo, library_size or measured)
    return store.Calibration(family, store.now(), measured, chosen.depth, layers,
                             bool(crossed.any()))
