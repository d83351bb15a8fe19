"""Augmented copies of a photo: what a near-duplicate of it looks like.

Pure: Pillow and NumPy. Each copy is cropped to 75-95 %, rotated up to 6
degrees, made 0.7-1.3 times as bright, scaled down to 30-80 % and saved as
a JPEG of quality 40-80, with parameters drawn from a seeded generator.
Measured on real photographs (issue 9), such copies against the other
photos of a library rank a network's layers in the same order as real
near-duplicate retrieval does, and put the threshold where real groups
have their best F1.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance

CROP = (0.75, 0.95)  # share of each side kept
ROTATE = 6.0  # degrees, either way
BRIGHTNESS = (0.7, 1.3)
DOWNSCALE = (0.3, 0.8)
QUALITY = (40, 80)


# A light copy: what a re-save, a resize or a slight crop does.
LIGHT_CROP = (0.95, 1.0)
LIGHT_DOWNSCALE = (0.5, 0.9)
LIGHT_QUALITY = (70, 95)


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _crop(img: Image.Image, keep: float, rng: np.random.Generator) -> Image.Image:
    w, h = img.size
    cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return img.crop((x, y, x + cw, y + ch))


def light(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A copy of the same picture: cropped to 95-100 %, scaled to 50-90 %,
    saved as JPEG of quality 70-95."""
    out = _crop(img, rng.uniform(*LIGHT_CROP), rng)
    scale = rng.uniform(*LIGHT_DOWNSCALE)
    out = out.resize((max(1, round(out.width * scale)), max(1, round(out.height * scale))),
                     Image.Resampling.BILINEAR)
    return _jpeg(out, int(rng.integers(LIGHT_QUALITY[0], LIGHT_QUALITY[1] + 1)))


def augment(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One augmented copy of an RGB image."""
    mean = tuple(int(c) for c in np.asarray(img.resize((8, 8))).reshape(-1, 3).mean(axis=0))
    out = img.rotate(float(rng.uniform(-ROTATE, ROTATE)), Image.Resampling.BILINEAR,
                     fillcolor=mean)
    out = _crop(out, rng.uniform(*CROP), rng)
    out = ImageEnhance.Brightness(out).enhance(float(rng.uniform(*BRIGHTNESS)))
    scale = rng.uniform(*DOWNSCALE)
    out = out.resize((max(1, round(out.width * scale)), max(1, round(out.height * scale))),
                     Image.Resampling.BILINEAR)
    return _jpeg(out, int(rng.integers(QUALITY[0], QUALITY[1] + 1)))
