"""Huge images without huge memory: a budget of decoded pixels shared by
all threads, and shrinking right after decoding.

Pure: Pillow and the standard library.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from PIL import Image

# Decoded pixels held at once by all threads: a huge PNG or TIFF (no
# reduced decoding) waits until the others are done, so memory stays
# bounded however many threads decode. One image alone always goes.
PIXELS_IN_FLIGHT = 200_000_000


class PixelBudget:
    """A semaphore counting pixels instead of threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.peak = 0  # the most ever held: for tests and benchmarks
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, pixels: int):
        with self._cond:
            self._cond.wait_for(lambda: self.held == 0 or self.held + pixels <= self.limit)
            self.held += pixels
            self.peak = max(self.peak, self.held)
        try:
            yield
        finally:
            with self._cond:
                self.held -= pixels
                self._cond.notify_all()


PIXELS = PixelBudget(PIXELS_IN_FLIGHT)

# EXIF orientation -> the turn that makes the picture upright
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
             4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
             6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}


def reduced(img: Image.Image, cover: int) -> Image.Image:
    """``img`` shrunk by a whole factor while both sides stay at least
    ``cover``: the copies made next (mode, orientation) are then small."""
    factor = min(img.size) // max(1, cover)
    if factor < 2:
        return img
    if img.mode in ("1", "P"):  # Pillow resizes these by nearest pixel anyway
        size = (-(-img.width // factor), -(-img.height // factor))
        return img.resize(size, Image.Resampling.NEAREST)
    try:
        return img.reduce(factor)
    except ValueError:  # a mode reduce() does not take: keep it whole
        return img
