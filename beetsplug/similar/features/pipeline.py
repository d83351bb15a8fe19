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
from ..parallel import ordered_try_map
from .extractor import FeatureExtractor

K = TypeVar("K")


def _batched(it: Iterable, n: int) -> Iterator[list]:
    it = iter(it)
    while batch := list(islice(it, n)):
        yield batch


def featurize(
    items: Iterable[tuple[K, str]],
    extractor: FeatureExtractor,
    batch_size: int = 16,
    threads: int = 2,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    on_error: Callable[[K, ImageError], None] = lambda key, err: None,
) -> Iterator[list[tuple[K, np.ndarray]]]:
    """Yield one list of ``(key, vector)`` per batch, in input order.

    ``items`` are ``(key, path)``; a file that cannot be decoded goes to
    ``on_error`` and is left out.
    """
    decoded = ordered_try_map(
        lambda item: load_for_model(item[1], extractor.size, max_pixels), items,
        workers=threads, prefetch=3 * batch_size, catch=ImageError)
    for batch in _batched(decoded, batch_size):
        good = []
        for (key, _), pixels, error in batch:
            if error is not None:
                on_error(key, error)
            else:
                good.append((key, pixels))
        if not good:
            continue
        vectors = extractor.extract(np.stack([p for _, p in good]))
        yield [(key, vec) for (key, _), vec in zip(good, vectors)]
