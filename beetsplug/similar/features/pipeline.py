"""Featurize a stream of photos: decode in threads, infer in batches.

Pure: no beets. Decoding (Pillow releases the GIL) runs ahead in worker
threads while the model works on the previous batch, so the model is
not left waiting; memory is bounded by the prefetch window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

import numpy as np

from ..imaging.decode import DEFAULT_MAX_PIXELS, ImageError, load_for_model
from ..keep.measure import Measures, measure
from ..parallel import ordered_try_map
from .extractor import FeatureExtractor

K = TypeVar("K")


def _batched(it: Iterable, n: int) -> Iterator[list]:
    it = iter(it)
    while batch := list(islice(it, n)):
        yield batch


def _decode(path: str, size: tuple[int, int], max_pixels: int) -> tuple[np.ndarray, Measures]:
    pixels = load_for_model(path, size, max_pixels)
    return pixels, measure(pixels)


def featurize(
    items: Iterable[tuple[K, str]],
    extractor: FeatureExtractor,
    batch_size: int = 16,
    threads: int = 2,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    on_error: Callable[[K, ImageError], None] = lambda key, err: None,
) -> Iterator[list[tuple[K, np.ndarray, Measures]]]:
    """Yield one list of ``(key, vector, measures)`` per batch, in input
    order; the measures (sharpness, exposure) come from the same decode.

    ``items`` are ``(key, path)``; a file that cannot be decoded goes to
    ``on_error`` and is left out.
    """
    decoded = ordered_try_map(
        lambda item: _decode(item[1], extractor.size, max_pixels), items,
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
        vectors = extractor.extract(np.stack([p for _, p, _ in good]))
        yield [(key, vec, m) for (key, _, m), vec in zip(good, vectors)]
