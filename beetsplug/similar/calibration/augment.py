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


def augment(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One augmented copy of an RGB image."""
    mean = tuple(int(c) for c in np.asarray(img.resize((8, 8))).reshape(-1, 3).mean(axis=0))
    out = img.rotate(float(rng.uniform(-ROTATE, ROTATE)), Image.Resampling.BILINEAR,
                     fillcolor=mean)
    keep = rng.uniform(*CROP)
    w, h = out.size
    cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = out.crop((x, y, x + cw, y + ch))
    out = ImageEnhance.Brightness(out).enhance(float(rng.uniform(*BRIGHTNESS)))
    scale = rng.uniform(*DOWNSCALE)
    out = out.resize((max(1, round(cw * scale)), max(1, round(ch * scale))),
                     Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    out.save(buffer, "JPEG", quality=int(rng.integers(QUALITY[0], QUALITY[1] + 1)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
