"""A photo's quality, 0..1, from measured parts.

Pure. The parts, each 0..1, and their weights:

| part | weight | from |
|---|---|---|
| sharpness | 0.30 | the pixels (see :mod:`.measure`) |
| exposure | 0.25 | the pixels: clipped highlights and shadows |
| format | 0.20 | RAW or HEIC original over a JPEG export over a PNG screenshot |
| resolution | 0.10 | megapixels, sqrt(MP / 24), at most 1 |
| metadata | 0.10 | date taken, GPS and camera known, a third each |
| edits | 0.05 | a sidecar (edit history) beside it |
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..imaging.raw import RAW_EXTENSIONS

WEIGHTS = {"sharpness": 0.30, "exposure": 0.25, "format": 0.20, "resolution": 0.10,
           "metadata": 0.10, "edits": 0.05}
# Best first; "RAW" stands for every RAW format. Configurable: similar.formats.
FORMATS = ("RAW", "HEIF", "JPEG", "TIFF", "WEBP", "PNG", "GIF", "BMP")
_RAW = {ext.lstrip(".").upper() for ext in RAW_EXTENSIONS}


@dataclass(frozen=True)
class Parts:  # the fields in the order of WEIGHTS
    sharpness: float
    exposure: float
    format: float
    resolution: float
    metadata: float
    edits: float

    @property
    def quality(self) -> float:
        return round(sum(WEIGHTS[k] * getattr(self, k) for k in WEIGHTS), 4)


def format_rank(fmt: str, order: Sequence[str] = FORMATS) -> float:
    """1.0 for the first of ``order``, down to 0 for the last; unknown: 0."""
    name = "RAW" if fmt.upper() in _RAW else fmt.upper()
    return _ranks(tuple(order)).get(name, 0.0)


@functools.lru_cache(maxsize=8)
def _ranks(order: tuple[str, ...]) -> dict[str, float]:
    """{format: :func:`format_rank`} for ``order`` (read only)."""
    ranks: dict[str, float] = {}
    for i, name in enumerate(o.upper() for o in order):
        ranks.setdefault(name, 1.0 - i / max(1, len(order) - 1))
    return ranks


def parts(photo, order: Sequence[str] = FORMATS) -> Parts:
    """The parts of anything with the photo fields (a Photo)."""
    return Parts(*_values(photo, order))


def quality(photo, order: Sequence[str] = FORMATS) -> float:
    """``parts(photo, order).quality``, without making the parts: the
    keeper weighs every photo of a million in groups."""
    w, v = _WEIGHTS, _values(photo, order)
    # Added in the order of Parts.quality's sum, so the float is the same.
    return round(w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3] + w[4] * v[4]
                 + w[5] * v[5], 4)


_WEIGHTS = tuple(WEIGHTS.values())  # in the order of Parts' fields


def _values(photo, order: Sequence[str]) -> tuple[float, ...]:
    """The parts' values, in the order of :class:`Parts`' fields."""
    megapixels = (photo.width or 0) * (photo.height or 0) / 1e6
    known = bool(photo.taken) + bool(photo.get("gps", 0)) + bool(photo.camera)
    return (float(photo.get("sharpness", 0.0) or 0.0),
            float(photo.get("exposure", 0.0) or 0.0),
            format_rank(photo.format or "", order),
            min(1.0, math.sqrt(megapixels / 24.0)),
            known / 3.0,
            float(bool(photo.get("edited", 0))))
