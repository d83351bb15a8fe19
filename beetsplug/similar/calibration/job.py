"""Calibrate a backbone on the user's own photos.

A sample of the library is decoded once; each photo and an augmented copy
of it (see :mod:`.augment`) go through the network together, and one
forward pass per batch gives every candidate layer's vectors. Each layer
is then measured (see :mod:`.measure`) and the best one chosen.

Pairs of the sample that are really near-duplicates of each other are not
unrelated: counted as such, they make the lower tail, and so the strict
threshold, depend on how many near-duplicates the sample holds (two
samples of much the same photos disagreed by a factor of 5). So the
second check (``verify/check.py``, on the same decode) looks at the
closest pairs, and those it confirms are left out, as the same bytes and
a camera's retakes are. No beets here: photos are anything with ``id``
and ``path``.
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
from ..parallel import ordered_map, ordered_try_map
from ..verify import check
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


def _pair(photo, size: tuple[int, int], max_pixels: int
          ) -> tuple[np.ndarray, check.Features]:
    """The photo, an augmented copy and a light copy, as model input
    ((3, h, w, 3)), and the second check's features of the photo."""
    path = os.fsdecode(photo.path)
    img = open_upright(path, max(2 * max(size), check.SIDE), max_pixels)
    rng = np.random.default_rng([SEED, photo.id])
    try:
        copy, resaved = augment(img, rng), light(img, rng)
    except Exception as exc:  # a degenerate image (1 pixel wide, ...)
        raise ImageError(path, f"cannot make an augmented copy ({exc})") from None
    return (np.stack([to_model_input(img, size), to_model_input(copy, size),
                      to_model_input(resaved, size)]),
            check.features(np.asarray(img, dtype=np.uint8)))


CHECKED_SHARE = 0.01  # of the sample's pairs (one per photo at least): the closest are checked


def confirmed_pairs(features: Sequence[check.Features], layers: Sequence[np.ndarray],
                    threads: int = 2) -> np.ndarray:
    """For the pairs ``i < j`` (``np.triu_indices`` order): True where the
    second check confirms the two as near-duplicates. Only the closest
    pairs are asked: ``CHECKED_SHARE`` of them, and at least as many as
    there are photos, in each of the ``layers`` (each photo's vectors of
    a layer, in order)."""
    i, j = np.triu_indices(len(features), k=1)
    asked = np.zeros(len(i), dtype=bool)
    closest = min(len(i), max(len(features), int(CHECKED_SHARE * len(i))))
    for vectors in layers:
        unit = measure.unit_rows(vectors)
        d = 1.0 - np.einsum("ij,ij->i", unit[i], unit[j])
        asked[np.argpartition(d, closest - 1)[:closest]] = True
    at = np.flatnonzero(asked)
    out = np.zeros(len(i), dtype=bool)
    out[at] = list(ordered_map(lambda k: check.check(features[i[k]], features[j[k]]).accepted,
                               at.tolist(), threads, 4 * threads))
    return out


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
    features: list[check.Features] = []
    it = iter(pairs)
    while batch := list(islice(it, batch_size)):
        good = []
        for _, made, error in batch:
            read.append(error is None)
            if error is not None:
                on_error(error)
            else:
                good.append(made[0])
                features.append(made[1])
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
    confirmed = confirmed_pairs(features, [np.concatenate(originals[d]) for d in extractor.depths],
                                threads)
    crossed = crossed_pairs(kept, related) & ~confirmed
    related |= confirmed
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
