"""What the pixels say about a photo's quality: sharpness and exposure.

Pure: NumPy. Measured on the image already decoded and scaled for the
network (a fixed size, so a photo's size does not decide its sharpness,
and no second decode), in the decoding threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHARPNESS_SCALE = 0.05  # detail ratio at which sharpness is 0.5
CLIPPED_HIGH, CLIPPED_LOW = 250, 5  # grey levels counted as blown out or crushed
_GREY = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Measures:
    sharpness: float  # 0..1, from the detail ratio r: r / (r + SHARPNESS_SCALE)
    exposure: float  # 0..1: 1 - 3 x the share of clipped pixels (at least 0)


def measure(pixels: np.ndarray) -> Measures:
    """Measures of an (h, w, 3) uint8 RGB image.

    Sharpness is the variance of the Laplacian divided by the variance of
    the image, both where no pixel around is clipped: blur lowers it, while
    brightness and contrast, which scale both, leave it alone, and the hard
    edges of blown-out areas do not count as detail.
    """
    g = pixels.astype(np.float32) @ _GREY
    if min(g.shape) < 3:
        return Measures(0.0, 0.0)
    inner = g[1:-1, 1:-1]
    taps = (g[1:-1, :-2], g[1:-1, 2:], g[:-2, 1:-1], g[2:, 1:-1])
    lap = sum(taps) - 4.0 * inner
    ok = (g > CLIPPED_LOW) & (g < CLIPPED_HIGH)
    fine = ok[1:-1, 1:-1] & ok[1:-1, :-2] & ok[1:-1, 2:] & ok[:-2, 1:-1] & ok[2:, 1:-1]
    spread = float(inner[fine].var()) if fine.sum() > 16 else 0.0
    ratio = float(lap[fine].var()) / spread if spread > 1e-6 else 0.0
    clipped = float(np.mean(g >= CLIPPED_HIGH) + np.mean(g <= CLIPPED_LOW))
    return Measures(sharpness=ratio / (ratio + SHARPNESS_SCALE),
                    exposure=max(0.0, 1.0 - 3.0 * clipped))
