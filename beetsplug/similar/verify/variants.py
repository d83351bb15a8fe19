"""Near-duplicates as cameras and editors make them, from one photo: what
the check must accept (benchmarks/precision.py and the tests use them).

Pure: Pillow and NumPy.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

KINDS = ("under", "over", "pan", "pan_blurred", "crop60", "upscale_blurred", "resaved",
         "blurred", "brighter")


def _exposure(img: Image.Image, stops: float) -> Image.Image:
    """The same shot ``stops`` EV brighter or darker (in linear light)."""
    lin = (np.asarray(img, dtype=np.float32) / 255.0) ** 2.2
    out = np.clip(lin * (2.0 ** stops), 0, 1) ** (1 / 2.2)
    return Image.fromarray((out * 255 + 0.5).astype(np.uint8))


def _pan(img: Image.Image, shift: float) -> Image.Image:
    """A burst's next frame: the view panned by ``shift`` of the width."""
    w, h = img.size
    cw, ch = int(w * 0.9), int(h * 0.9)
    x = int((w - cw) / 2 + shift * w)
    return img.crop((x, (h - ch) // 2, x + cw, (h - ch) // 2 + ch))


def variant(img: Image.Image, kind: str) -> tuple[Image.Image, int]:
    """A near-duplicate of upright RGB ``img`` of ``kind`` (one of
    ``KINDS``), and the JPEG quality to save it at."""
    w, h = img.size
    if kind == "under":  # exposure bracket -2 EV
        return _exposure(img, -2), 92
    if kind == "over":  # +2 EV
        return _exposure(img, 2), 92
    if kind == "pan":
        return _pan(img, 0.04), 92
    if kind == "pan_blurred":  # a shaken frame of the burst
        return _pan(img, -0.03).filter(ImageFilter.GaussianBlur(2)), 92
    if kind == "crop60":  # 60 % of each side
        return img.crop((int(w * 0.15), int(h * 0.25), int(w * 0.75), int(h * 0.85))), 92
    if kind == "upscale_blurred":
        return img.resize((2 * w, 2 * h), Image.Resampling.BICUBIC).filter(
            ImageFilter.GaussianBlur(2)), 92
    if kind == "resaved":
        return img.copy(), 55
    if kind == "blurred":
        return img.filter(ImageFilter.GaussianBlur(2.5)), 92
    if kind == "brighter":  # 2.2x the pixel values
        return Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) * 2.2, 0, 255)
                               .astype(np.uint8)), 92
    raise ValueError(f"unknown variant {kind!r}")
