"""The finer look: are two pictures one capture, seen at a larger size?

Pure: OpenCV and NumPy. For the few pairs the check could not tell
(nearly all matches fit one similarity with the light kept, but not to a
fraction of a pixel at ``check.SIDE``): both pictures decoded again with
a long side of ``SIDE`` pixels, the one with more pixels for the scene
shrunk to the other's scale (a downscaled copy is compared at its own
resolution) and brought onto it by the check's homography, and their
fine detail (a band-pass: a difference of Gaussians) compared tile by
tile where both have some. One capture has the same detail in every
tile, in the same proportion everywhere; the next step of a focus
series, an exposure bracket, a burst's next frame or a fixed camera's
frame at another time change it somewhere (docs/precision.md).
"""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 640  # long side both pictures are decoded at
TILES = 6  # the overlap is cut into TILES x TILES tiles
BAND = 1.0  # the detail: Gaussian blur at this sigma minus at twice it
MIN_DETAIL = 0.5  # a tile counts with at least this share of the median tile's detail
WEAKEST = 0.1  # tiles' share whose correlation may fall below ONE_CORRELATION
ONE_CORRELATION = 0.75  # (real focus steps, brackets, frames: 0.67 at most)
ONE_SPREAD = 0.5  # the tiles' detail ratios b / a within exp(this) (10th to 90th percentile)


def grey(rgb: np.ndarray) -> np.ndarray:
    """An RGB (or grey) uint8 picture in grey, as the finer look takes it."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb


def _detail(grey: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(grey, (0, 0), BAND) - cv2.GaussianBlur(grey, (0, 0), 2 * BAND)


def _to_pixels(shape_at_check: tuple[int, int], grey: np.ndarray) -> np.ndarray:
    """From a picture's coordinates at the check's size to those of ``grey``."""
    h, w = shape_at_check
    return np.diag([grey.shape[1] / w, grey.shape[0] / h, 1.0])


def aligned(a_picture: np.ndarray, b_picture: np.ndarray, a_shape: tuple[int, int],
            b_shape: tuple[int, int], homography: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both pictures, grey, on the frame of the one with fewer pixels for
    the scene: (that one, the other brought onto it, where both are)."""
    a, b = (grey(p).astype(np.float32) for p in (a_picture, b_picture))
    onto = _to_pixels(b_shape, b) @ homography @ np.linalg.inv(_to_pixels(a_shape, a))
    zoom = float(np.sqrt(abs(np.linalg.det(onto[:2, :2] / onto[2, 2]))))
    if zoom < 1:  # a has more pixels for the scene: bring a onto b
        a, b, onto, zoom = b, a, np.linalg.inv(onto), 1 / zoom
    if zoom > 1.05:  # shrink b to a's scale first (no aliasing, no detail a lacks)
        b = cv2.resize(b, None, fx=1 / zoom, fy=1 / zoom, interpolation=cv2.INTER_AREA)
        onto = np.diag([1 / zoom, 1 / zoom, 1.0]) @ onto
    back = np.linalg.inv(onto)
    size = (a.shape[1], a.shape[0])
    moved = cv2.warpPerspective(b, back, size, flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones_like(b), back, size, flags=cv2.INTER_NEAREST)
    return a, moved, cv2.erode(inside, np.ones((7, 7), np.uint8)) > 0


def tile_measures(a: np.ndarray, b: np.ndarray, inside: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """For each tile mostly inside with enough detail: the correlation of
    the two pictures' detail, and the log of its amount in ``b`` over
    ``a``."""
    da, db = _detail(a), _detail(b)
    h, w = a.shape
    found = []  # (correlation, log ratio, detail) a tile
    for i in range(TILES):
        for j in range(TILES):
            part = (slice(i * h // TILES, (i + 1) * h // TILES),
                    slice(j * w // TILES, (j + 1) * w // TILES))
            m = inside[part]
            if m.sum() < m.size // 2:
                continue
            x, y = da[part][m], db[part][m]
            x, y = x - x.mean(), y - y.mean()
            nx, ny = float(np.sqrt(x @ x)), float(np.sqrt(y @ y))
            if min(nx, ny) > 1e-6:
                found.append((float(x @ y) / (nx * ny), np.log(ny / nx), min(nx, ny)))
    if not found:
        return np.zeros(0), np.zeros(0)
    correlation, ratio, detail = np.array(found).T
    keep = detail >= MIN_DETAIL * np.median(detail)
    return correlation[keep], ratio[keep]


def one_capture(a_picture: np.ndarray, b_picture: np.ndarray, a_shape: tuple[int, int],
                b_shape: tuple[int, int], homography: np.ndarray) -> bool:
    """Whether two upright pictures (RGB or grey uint8, long side
    ``SIDE``), whose check found ``homography`` (``a`` to ``b`` at the
    check's sizes ``a_shape`` and ``b_shape``), show the same detail
    everywhere."""
    correlation, ratio = tile_measures(*aligned(a_picture, b_picture, a_shape, b_shape,
                                                homography))
    if not len(correlation):
        return False
    low, high = np.quantile(ratio, [WEAKEST, 1 - WEAKEST])
    return (float(np.quantile(correlation, WEAKEST)) >= ONE_CORRELATION
            and float(high - low) <= ONE_SPREAD)
