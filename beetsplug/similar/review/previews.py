"""Images for the page, by photo id: made on demand from the file (EXIF
orientation applied, RAW from its preview) and kept in a memory LRU.

Pure but for the file it reads: the caller looks the path up by id, so
no path ever comes from a request.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from PIL import Image

from ..imaging.decode import DEFAULT_MAX_PIXELS, open_upright
from ..imaging.errors import ImageError

# The longest side of each size; "full" is the photo's own pixels (the
# compare view zooms to 100 %), up to a bound that keeps a JPEG sane.
SIZES = {"thumb": 320, "large": 1024, "full": 8192}
BUDGET = 256 << 20  # bytes of encoded images kept in memory


class Previews:
    """JPEG bytes of photos at the ``SIZES``, least recently used first out."""

    def __init__(self, budget: int = BUDGET, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.budget, self.max_pixels = budget, max_pixels
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, photo_id: int, path: str, digest: str, size: str) -> bytes:
        """The photo at ``size``; raises ImageError (with the reason) when
        it cannot be decoded, KeyError for an unknown size."""
        side = SIZES[size]
        key = (photo_id, digest, size)  # a changed file has another hash
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = _encode(path, side, self.max_pixels)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = data
                self._used += len(data)
            while self._used > self.budget and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._used -= len(old)
        return data


def _encode(path: str, side: int, max_pixels: int) -> bytes:
    img = open_upright(path, side, max_pixels)
    try:
        if max(img.size) > side:
            img.thumbnail((side, side), Image.Resampling.LANCZOS if side <= 400
                          else Image.Resampling.BILINEAR)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=85 if side <= 400 else 90)
        return out.getvalue()
    except Exception as exc:
        raise ImageError(path, f"cannot make a preview ({exc})") from None
