"""The second check: do two photos show the same scene, geometrically?

Pure: OpenCV and NumPy. Local features (SIFT) are computed once per
photo at a reduced size; two photos are the same scene when enough of
their matched features fit one homography (a plane, a pan, a zoom or a
crop) within a tight tolerance, fitted by USAC MAGSAC. The parameters
were chosen with ``benchmarks/precision.py`` (see docs/precision.md):
a fundamental matrix fits dozens of chance matches between unrelated
photos; a homography at 4 px does not.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

SIDE = 640  # long side the features are computed at, in pixels
FEATURES = 500  # at most this many features per photo
RATIO = 0.8  # Lowe's ratio test
TOLERANCE = 4.0  # pixels: a match fits the homography within this
MIN_INLIERS = 25  # matches that fit, at least
MIN_SHARE = 0.2  # and this share of the matches that passed the ratio test

cv2.setNumThreads(1)  # the callers parallelise; OpenCV's pool would oversubscribe


@dataclass(frozen=True)
class Features:
    """A photo's keypoints (x, y at ``SIDE``) and SIFT descriptors."""

    xy: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, 128) uint8

    def __len__(self) -> int:
        return len(self.xy)

    def to_bytes(self) -> bytes:
        n = np.array([len(self.xy)], dtype="<u4").tobytes()
        return n + self.xy.astype("<f4").tobytes() + self.descriptors.astype(np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Features:
        n = int(np.frombuffer(blob[:4], dtype="<u4")[0])
        xy = np.frombuffer(blob[4:4 + 8 * n], dtype="<f4").reshape(n, 2)
        desc = np.frombuffer(blob[4 + 8 * n:], dtype=np.uint8).reshape(n, 128)
        return cls(xy.astype(np.float32), desc)


@dataclass(frozen=True)
class Verdict:
    inliers: int  # matches that fit the homography
    matches: int  # matches that passed the ratio test

    @property
    def share(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0

    @property
    def accepted(self) -> bool:
        return self.inliers >= MIN_INLIERS and self.share >= MIN_SHARE


_local = threading.local()  # one detector per thread: they keep state


def features(rgb: np.ndarray) -> Features:
    """SIFT features of an upright RGB (or grey) uint8 image, resized so
    that its long side is ``SIDE`` (never enlarged)."""
    sift = getattr(_local, "sift", None)
    if sift is None:
        sift = _local.sift = cv2.SIFT_create(nfeatures=FEATURES)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    scale = SIDE / max(grey.shape[:2])
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # Equalised contrast: exposure brackets keep their features.
    grey = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)
    points, desc = sift.detectAndCompute(grey, None)
    if desc is None or not points:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8))
    xy = np.array([p.pt for p in points], dtype=np.float32)
    return Features(xy, np.clip(np.round(desc), 0, 255).astype(np.uint8))


def _matches(a: Features, b: Features) -> tuple[np.ndarray, np.ndarray]:
    """Matched points of ``a`` and ``b`` that pass the ratio test."""
    forward = cv2.BFMatcher(cv2.NORM_L2).knnMatch(
        a.descriptors.astype(np.float32), b.descriptors.astype(np.float32), k=2)
    pairs = [(m[0].queryIdx, m[0].trainIdx) for m in forward
             if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if not pairs:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    ia, ib = np.array(pairs).T
    return a.xy[ia], b.xy[ib]


def check(a: Features, b: Features) -> Verdict:
    """How many matches of two photos fit one homography."""
    if len(a) < 2 or len(b) < 2:
        return Verdict(0, 0)
    pa, pb = _matches(a, b)
    if len(pa) < max(8, MIN_INLIERS):
        return Verdict(0, len(pa))
    _, mask = cv2.findHomography(pa, pb, cv2.USAC_MAGSAC, TOLERANCE, maxIters=2000,
                                 confidence=0.999)
    return Verdict(int(mask.sum()) if mask is not None else 0, len(pa))
