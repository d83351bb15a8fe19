"""Calibrate a backbone on the user's own photos.

Each photo of a sample goes through the network as ``similar-featurize``
reads it, and ``COPIED`` of them with an augmented and a light copy (see
:mod:`.augment`); one forward pass per batch gives every candidate
layer's vectors. Each layer is then measured (see :mod:`.measure`) and the
best one chosen.

Pairs of the sample that are really near-duplicates of each other are not
unrelated: counted as such, they make the lower tail, and so the strict
threshold, depend on how many near-duplicates the sample holds (two
samples of much the same photos disagreed by a factor of 5). So the
second check (``verify/``) looks at the closest pairs, and those it
confirms are left out, as the same bytes and a camera's retakes are. No
beets here: photos are anything with ``id`` and ``path``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np

from ..features.extractor import FeatureExtractor
from ..imaging.decode import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    load_for_model,
    open_upright,
    to_model_input,
)
from ..parallel import ordered_map, ordered_try_map
from ..verify import check
from ..verify.store import photo_features
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


COPIED = 100  # photos of the sample that also get an augmented and a light copy


def copied_rows(count: int, seed: int = SEED) -> np.ndarray:
    """Which of ``count`` photos get copies: up to ``COPIED``, drawn evenly
    at random, in order. The negatives need every photo, the positives
    (recall, AUC, the copy distance) far fewer."""
    if count <= COPIED:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, COPIED, replace=False))


def _inputs(photo, size: tuple[int, int], max_pixels: int, copied: bool) -> np.ndarray:
    """The photo as ``similar-featurize`` reads it and, when ``copied``, an
    augmented and a light copy of it: model input ((1 or 3, h, w, 3))."""
    path = os.fsdecode(photo.path)
    original = load_for_model(path, size, max_pixels)
    if not copied:
        return original[None]
    img = open_upright(path, max(2 * max(size), check.SIDE), max_pixels)
    rng = np.random.default_rng([SEED, photo.id])
    try:
        copy, resaved = augment(img, rng), light(img, rng)
    except Exception as exc:  # a degenerate image (1 pixel wide, ...)
        raise ImageError(path, f"cannot make an augmented copy ({exc})") from None
    return np.stack([original, to_model_input(copy, size), to_model_input(resaved, size)])


@dataclass
class Vectors:
    """Each depth's vectors of the photos read (in order) and of the copies
    of those in ``copied`` (their rows among the photos read)."""
    read: list[bool]
    copied: np.ndarray
    originals: dict[int, np.ndarray]
    copies: dict[int, np.ndarray]
    lights: dict[int, np.ndarray]


def vectors(photos: Sequence, extractor: FeatureExtractor, threads: int, max_pixels: int,
            batch_size: int, on_error: Callable[[ImageError], None],
            on_progress: Callable[[int], None]) -> Vectors:
    """Every depth's vectors of ``photos`` and of the copies of some, one
    forward pass per batch."""
    copied = set(copied_rows(len(photos)).tolist())
    made = ordered_try_map(
        lambda k: _inputs(photos[k], extractor.size, max_pixels, k in copied),
        range(len(photos)), workers=threads, prefetch=2 * batch_size, catch=ImageError)
    parts: dict[str, dict[int, list[np.ndarray]]] = {
        name: {d: [] for d in extractor.depths} for name in ("originals", "copies", "lights")}
    read: list[bool] = []
    kept_copied: list[int] = []
    it = iter(made)
    while batch := list(islice(it, batch_size)):
        good = []
        for _, inputs, error in batch:
            read.append(error is None)
            if error is not None:
                on_error(error)
                continue
            if len(inputs) == 3:
                kept_copied.append(sum(read) - 1)
            good.append(inputs)
        if good:
            first = np.cumsum([0] + [len(g) for g in good[:-1]])
            with_copies = first[[len(g) == 3 for g in good]]
            out = extractor.extract_all(np.concatenate(good))
            for depth, v in out.items():
                parts["originals"][depth].append(v[first])
                parts["copies"][depth].append(v[with_copies + 1])
                parts["lights"][depth].append(v[with_copies + 2])
        on_progress(len(batch))
    check_enough(sum(read), "could be read")
    if not kept_copied:
        raise CalibrationError(
            f"calibration could read none of the {len(copied)} photos it makes augmented "
            "copies of; set similar.depth and similar.threshold yourself")
    joined = {name: {d: np.concatenate(v) for d, v in by_depth.items()}
              for name, by_depth in parts.items()}
    return Vectors(read, np.array(kept_copied, dtype=np.intp), **joined)


CHECKED_PER_PHOTO = 0.5  # closest pairs in each layer the second check is asked about


def closest_pairs(count: int, layers: Sequence[np.ndarray]) -> np.ndarray:
    """The pairs ``i < j`` (positions in ``np.triu_indices`` order) the
    second check is asked about: the ``CHECKED_PER_PHOTO * count`` closest
    in each of the ``layers`` (each photo's vectors of a layer, in order).
    The threshold passes through the sample's 20th closest pair: the
    near-duplicates among the closest are the ones that would move it."""
    upper = np.triu_indices(count, k=1)
    asked = np.zeros(len(upper[0]), dtype=bool)
    closest = min(len(asked), max(1, int(CHECKED_PER_PHOTO * count)))
    for vectors_of_layer in layers:
        unit = measure.unit_rows(vectors_of_layer)
        d = 1.0 - (unit @ unit.T)[upper]
        asked[np.argpartition(d, closest - 1)[:closest]] = True
    return np.flatnonzero(asked)


def confirmed_pairs(features: Mapping[int, check.Features], layers: Sequence[np.ndarray],
                    threads: int = 2, asked: np.ndarray | None = None,
                    on_progress: Callable[[int], None] = lambda n: None) -> np.ndarray:
    """For the pairs ``i < j`` (``np.triu_indices`` order): True where the
    second check confirms the two as near-duplicates. Only the pairs
    ``asked`` are checked (default: :func:`closest_pairs`), and of those
    only the pairs of two photos with ``features`` (by row)."""
    count = len(layers[0])
    i, j = np.triu_indices(count, k=1)
    at = closest_pairs(count, layers) if asked is None else asked
    at = [k for k in at.tolist() if i[k] in features and j[k] in features]
    out = np.zeros(len(i), dtype=bool)
    verdicts = ordered_map(lambda k: check.check(features[i[k]], features[j[k]]).accepted,
                           at, threads, 4 * threads)
    for k, accepted in zip(at, verdicts):
        out[k] = accepted
        on_progress(1)
    return out


def check_features(photos: Sequence, rows: Sequence[int], threads: int, max_pixels: int,
                   on_error: Callable[[ImageError], None],
                   on_progress: Callable[[int], None]) -> dict[int, check.Features]:
    """The second check's features of ``photos[row]`` for each of ``rows``,
    as the check itself computes them; a photo that cannot be read now is
    left out (its pairs are not checked)."""
    out: dict[int, check.Features] = {}
    for row, made, error in ordered_try_map(
            lambda r: photo_features(os.fsdecode(photos[r].path), max_pixels), rows,
            workers=threads, prefetch=4 * threads, catch=ImageError):
        on_progress(1)
        if error is not None:
            on_error(error)
        else:
            out[row] = made
    return out


def run(photos: Sequence, extractor: FeatureExtractor, family: str,
        partners_per_photo: float = 0.01, library_size: int = 0, threads: int = 2,
        max_pixels: int = DEFAULT_MAX_PIXELS, batch_size: int = 16,
        on_error: Callable[[ImageError], None] = lambda e: None,
        on_progress: Callable[[int], None] = lambda n: None,
        on_stage: Callable[[int, str], None] = lambda total, label: None
        ) -> store.Calibration:
    """Measure every depth of ``extractor`` on ``photos`` (already sampled);
    the best one is chosen by its recall at ``partners_per_photo`` in a
    library of ``library_size`` photos (default: the sample's).
    ``on_progress`` counts the steps of each stage ``on_stage`` names
    (first the photos)."""
    check_enough(len(photos))
    got = vectors(photos, extractor, threads, max_pixels, batch_size, on_error, on_progress)
    kept = [p for p, ok in zip(photos, got.read) if ok]
    related = related_pairs(kept)
    layers_read = [got.originals[d] for d in extractor.depths]
    asked = closest_pairs(len(kept), layers_read)
    i, j = np.triu_indices(len(kept), k=1)
    needed = np.unique(np.concatenate([i[asked], j[asked]])).tolist()
    on_stage(len(needed), "calibrate, second check's features")
    features = check_features(kept, needed, threads, max_pixels, on_error, on_progress)
    on_stage(len(asked), "calibrate, second check")
    confirmed = confirmed_pairs(features, layers_read, threads, asked, on_progress)
    crossed = crossed_pairs(kept, related) & ~confirmed
    related |= confirmed
    try:
        layers = tuple(
            measure.figures(d, extractor.backbone.layer(d), got.originals[d], got.copies[d],
                            related, got.lights[d], crossed, got.copied)
            for d in extractor.depths)
    except TailError as exc:
        raise CalibrationError(
            f"calibration found too few pairs of different pictures ({exc}, at least "
            f"{MIN_PAIRS} needed); set similar.depth and similar.threshold yourself") from None
    chosen = measure.best(list(layers), partners_per_photo, library_size or len(kept))
    return store.Calibration(family, store.now(), len(kept), chosen.depth, layers,
                             bool(crossed.any()))
