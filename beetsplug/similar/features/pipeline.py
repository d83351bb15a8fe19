"""Featurize a stream of photos: decode in threads, infer in batches.

Pure: no beets. Decoding (Pillow releases the GIL) runs ahead in worker
threads while the model works on the previous batch, so the model is
not left waiting; memory is bounded by the prefetch window. With the
second check on, the same decode gives the check's features of the photo
(``verify/check.py``), so each photo is read once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

import cv2
import numpy as np

from ..imaging.decode import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    load_for_model,
    open_upright,
    to_model_input,
)
from ..keep.measure import Measures, measure
from ..parallel import ordered_try_map
from ..verify import check
from .extractor import FeatureExtractor

K = TypeVar("K")


def _batched(it: Iterable, n: int) -> Iterator[list]:
    it = iter(it)
    while batch := list(islice(it, n)):
        yield batch


@dataclass(frozen=True)
class Local:
    """The second check's features of a photo, and the file's size and
    modification time before it was read."""

    features: check.Features
    size: int
    mtime: float


def _decode(path: str, size: tuple[int, int], max_pixels: int, local: bool
            ) -> tuple[np.ndarray, Measures, Local | None]:
    if not local:
        pixels = load_for_model(path, size, max_pixels)
        return pixels, measure(pixels), None
    try:
        stat = os.stat(path)  # before the read: the features are of this file
    except OSError:
        stat = None  # the read below says why
    # Decoded as the check decodes it alone (``verify/store.photo_features``).
    img = open_upright(path, max(check.SIDE, *size), max_pixels)
    pixels = to_model_input(img, size)
    try:
        found = None if stat is None else Local(
            check.features(np.asarray(img, dtype=np.uint8)), stat.st_size, stat.st_mtime)
    except cv2.error:  # a degenerate picture: the check reads it alone, and says so
        found = None
    return pixels, measure(pixels), found


def featurize(
    items: Iterable[tuple[K, str]],
    extractor: FeatureExtractor,
    batch_size: int = 16,
    threads: int = 2,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    on_error: Callable[[K, ImageError], None] = lambda key, err: None,
    local: bool = False,
) -> Iterator[list[tuple[K, np.ndarray, Measures, Local | None]]]:
    """Yield one list of ``(key, vector, measures, local)`` per batch, in
    input order; the measures (sharpness, exposure) and, with ``local``,
    the second check's features come from the same decode.

    ``items`` are ``(key, path)``; a file that cannot be decoded goes to
    ``on_error`` and is left out.
    """
    decoded = ordered_try_map(
        lambda item: _decode(item[1], extractor.size, max_pixels, local), items,
        workers=threads, prefetch=3 * batch_size, catch=ImageError)
    for batch in _batched(decoded, batch_size):
        good = []
        for (key, _), result, error in batch:
            if error is not None:
                on_error(key, error)
            else:
                good.append((key, *result))
        if not good:
            continue
        vectors = extractor.extract(np.stack([p for _, p, _, _ in good]))
        yield [(key, vec, m, found) for (key, _, m, found), vec in zip(good, vectors)]
