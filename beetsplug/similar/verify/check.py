"""The second check: do two photos show the same scene?

Pure: OpenCV and NumPy. Each photo is read once, at a reduced size, for
two kinds of evidence:

* local features (SIFT at 240 px, as RootSIFT on its 32 principal axes,
  quantised: 36 bytes a feature): two photos are the same scene when
  enough of their matched features fit one homography (a plane, a pan, a
  zoom or a crop) within a tight tolerance, fitted by USAC MAGSAC, spread
  over both pictures, and the homography is a plausible one (not a
  collapse onto a point or a line, no mirror);
* a global likeness, for what local features cannot see (a washed-out
  exposure, a blurred or heavily rescaled copy): the gradients of small
  thumbnails of the whole pictures, contrast equalised, correlated, for
  photos of the same shape.

A pair that passes on its features with nearly all matches fitting one
similarity, with nearly the same light, may be one capture (the same
pixels once aligned: re-encoded, resized, cropped or lightly edited). It
is when the matches fit to a fraction of a pixel with nearly the same
descriptors; else (at 240 px a crop or a resized copy differs as much as
the next step of a focus series) the verdict asks for the finer look
(``closer_look``, fine.py), which the caller decodes the pictures
again for. The parameters were chosen with ``benchmarks/precision.py``,
``benchmarks/near.py``, ``benchmarks/check_cost.py`` and
``benchmarks/one_capture.py`` (see docs/precision.md).
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

SIDE = 240  # long side the features are computed at, in pixels
FEATURES = 400  # at most this many features per photo
CONTRAST = 0.01  # SIFT's contrast threshold (OpenCV's default 0.04 leaves dark frames bare)
DIMS = 32  # a descriptor: RootSIFT on its first principal axes (sift_basis.npy)
DESCRIPTOR_SCALE = 256.0  # and quantised to int8 at this scale
POINT_STEPS = 64  # keypoints kept to 1/64 pixel (uint16: SIDE below 1024)
RATIO = 0.8  # Lowe's ratio test
TOLERANCE = 1.5  # pixels (at SIDE): a match fits the homography within this
MIN_INLIERS = 25  # matches that fit, at least
MIN_SHARE = 0.2  # and this share of the matches that passed the ratio test
MIN_SPREAD = 0.02  # and they cover this share of each picture (convex hull)
MAX_SCALE = 25.0  # the homography scales areas by less than this, either way
THUMB = 32  # side of the thumbnail the global likeness is measured on
MIN_LIKENESS = 0.6  # correlation of the thumbnails' gradients
SAME_SHAPE = 0.03  # the likeness compares pictures whose aspect ratios differ less (log)
# Far ends of a group (see grouping/confirmed.py): weaker evidence will do.
LOOSE_INLIERS, LOOSE_SHARE, LOOSE_LIKENESS = 12, 0.15, 0.45
# One capture: nearly all matches fit, closely, with nearly the same
# descriptors, light and shape.
ONE_SHARE = 0.9
ONE_ERROR = 0.15  # pixels (at SIDE), median
ONE_DESCRIPTOR = 15.0  # median distance of the fitting descriptors (int8 units)
ONE_LIGHT = 1.25  # mean brightness within this factor
ONE_STRETCH = 1.05  # the homography scales the two axes alike (a similarity)

MEASURES = 4  # bumped when what a verdict measures changes: kept verdicts are redone
BASIS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sift_basis.npy")
BASIS = 1  # bumped with each new BASIS_FILE (tools/sift_basis.py)
# What a photo's features are: the cache redoes features of another version.
FEATURES_VERSION = (f"sift{FEATURES}@{SIDE}/contrast{CONTRAST}/rootsift-pca{DIMS}.{BASIS}/"
                    f"q{DESCRIPTOR_SCALE:g},{POINT_STEPS}+thumb{THUMB}")

cv2.setNumThreads(1)  # the callers parallelise; OpenCV's pool would oversubscribe


@dataclass(frozen=True)
class Features:
    """A photo's keypoints (x, y at ``SIDE``, in steps of 1 / ``POINT_STEPS``
    pixel), their descriptors (``DIMS`` int8), the size they were found at
    and a grey thumbnail of the whole picture. ``to_bytes`` stores exactly
    these values: 36 bytes a keypoint, 15 KB a photo at most."""

    xy: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, DIMS) int8
    shape: tuple[int, int]  # (height, width) of the picture the points are on
    thumb: np.ndarray  # (THUMB, THUMB) uint8 grey, squeezed to a square

    def __len__(self) -> int:
        return len(self.xy)

    @functools.cached_property
    def square_norms(self) -> np.ndarray:
        """The descriptors' squared lengths, for matching (kept: 1.6 KB)."""
        rows = self.descriptors.astype(np.float32)
        return np.einsum("ij,ij->i", rows, rows)

    def to_bytes(self) -> bytes:
        head = np.array([len(self.xy), *self.shape], dtype="<u2").tobytes()
        points = np.round(self.xy * POINT_STEPS).astype("<u2")
        return (head + points.tobytes() + self.descriptors.astype(np.int8).tobytes()
                + self.thumb.astype(np.uint8).tobytes())

    @classmethod
    def from_bytes(cls, blob: bytes) -> Features:
        n, h, w = (int(v) for v in np.frombuffer(blob[:6], dtype="<u2"))
        at = 6
        xy = np.frombuffer(blob[at:at + 4 * n], dtype="<u2").reshape(n, 2)
        at += 4 * n
        desc = np.frombuffer(blob[at:at + DIMS * n], dtype=np.int8).reshape(n, DIMS)
        thumb = np.frombuffer(blob[at + DIMS * n:], dtype=np.uint8).reshape(THUMB, THUMB)
        return cls((xy / np.float32(POINT_STEPS)).astype(np.float32), desc, (h, w), thumb)


@dataclass(frozen=True)
class Verdict:
    """What the check found for a pair (measures, not the decision: the
    properties decide)."""

    inliers: int  # matches that fit the homography
    matches: int  # matches that passed the ratio test
    spread: float = 0.0  # the inliers' hull, the smaller share of the two pictures
    scale: float = 0.0  # how the homography scales areas (its determinant)
    likeness: float = 0.0  # global: correlation of the thumbnails' gradients
    one_capture: bool = False  # the same pixels once aligned
    # Not kept: the homography (``a`` to ``b``, at ``SIDE``) of a pair that
    # may be one capture but needs the finer look (fine.py) to tell.
    closer_look: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def share(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0

    def _fits(self, inliers: int, share: float, spread: float) -> bool:
        return (self.inliers >= inliers and self.share >= share and self.spread >= spread
                and 1 / MAX_SCALE < self.scale < MAX_SCALE)

    @property
    def geometric(self) -> bool:
        """The local features fit one plausible homography."""
        return self._fits(MIN_INLIERS, MIN_SHARE, MIN_SPREAD)

    @property
    def alike(self) -> bool:
        """The whole pictures look alike (exposure, blur, rescaling)."""
        return self.likeness >= MIN_LIKENESS

    @property
    def accepted(self) -> bool:
        return self.geometric or self.alike

    @property
    def loosely(self) -> bool:
        """Weaker evidence: enough to keep two far ends of a group together."""
        return (self._fits(LOOSE_INLIERS, LOOSE_SHARE, MIN_SPREAD / 2)
                or self.likeness >= LOOSE_LIKENESS)

    @property
    def strength(self) -> float:
        """How strongly the pair is confirmed, comparable across both kinds
        of evidence: 1 at either limit, 4 at 100 inliers or a likeness of
        0.9; 0 when refused."""
        geometric = self.inliers / MIN_INLIERS if self.geometric else 0.0
        alike = 1.0 + 10.0 * (self.likeness - MIN_LIKENESS) if self.alike else 0.0
        return max(geometric, alike)

    def said(self) -> str:
        """The evidence, for people."""
        if self.geometric:
            return f"{self.inliers} inliers"
        if self.alike:
            return f"likeness {self.likeness:.2f}"
        return f"refused ({self.inliers} inliers, likeness {self.likeness:.2f})"


_local = threading.local()  # one detector per thread: they keep state


@functools.cache
def _basis() -> np.ndarray:
    """The descriptors' mean, then their ``DIMS`` principal axes, a row each
    (made by ``tools/sift_basis.py``)."""
    return np.load(BASIS_FILE)


def equalised(grey: np.ndarray) -> np.ndarray:
    """Contrast equalised (CLAHE): exposure brackets keep their features."""
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)


def root_sift(desc: np.ndarray) -> np.ndarray:
    """RootSIFT: L1-normalised SIFT descriptors, square-rooted (of length 1)."""
    desc = desc.astype(np.float32)
    return np.sqrt(desc / np.maximum(desc.sum(axis=1, keepdims=True), 1e-6))


def features(rgb: np.ndarray) -> Features:
    """The check's features of an upright RGB (or grey) uint8 image,
    resized so that its long side is ``SIDE`` (never enlarged)."""
    sift = getattr(_local, "sift", None)
    if sift is None:
        sift = _local.sift = cv2.SIFT_create(nfeatures=FEATURES, contrastThreshold=CONTRAST)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    scale = SIDE / max(grey.shape[:2])
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    thumb = cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    points, desc = sift.detectAndCompute(equalised(grey), None)
    shape = (int(grey.shape[0]), int(grey.shape[1]))
    if desc is None or not points:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, DIMS), np.int8), shape,
                        thumb)
    xy = np.array([p.pt for p in points[:FEATURES]], dtype=np.float32)
    basis = _basis()
    projected = (root_sift(desc[:FEATURES]) - basis[0]) @ basis[1:].T
    steps = np.clip(np.round(xy * POINT_STEPS), 0, np.iinfo(np.uint16).max)
    return Features(steps / np.float32(POINT_STEPS),
                    np.clip(np.round(projected * DESCRIPTOR_SCALE), -127, 127).astype(np.int8),
                    shape, thumb)


def _matches(a: Features, b: Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matched points of ``a`` and ``b`` that pass the ratio test, and
    their descriptors' distances. (One matrix product, most of what a
    pair costs: NumPy's BLAS on the caller's thread, ``parallel.py``, in
    0.09 ms where OpenCV's ``gemm`` took 0.22.)"""
    da = a.descriptors.astype(np.float32)
    d2 = da @ (b.descriptors.astype(np.float32) * -2.0).T
    d2 += b.square_norms[None, :]
    rows = np.arange(len(da))
    best = d2.argmin(axis=1)
    first = d2[rows, best].copy()
    d2[rows, best] = np.inf
    second = d2.min(axis=1)
    own = a.square_norms  # |a|^2, left out above: the same for both
    first = np.sqrt(np.maximum(first + own, 0.0))
    second = np.sqrt(np.maximum(second + own, 0.0))
    ok = first < RATIO * second
    return a.xy[ok], b.xy[best[ok]], first[ok]


def _gradients(thumb: np.ndarray) -> np.ndarray | None:
    """The thumbnail's gradients after histogram equalisation, centred and
    of length 1; None for a flat picture."""
    t = cv2.equalizeHist(thumb).astype(np.float32)
    g = np.concatenate([cv2.Sobel(t, cv2.CV_32F, 1, 0).ravel(),
                        cv2.Sobel(t, cv2.CV_32F, 0, 1).ravel()])
    g -= g.mean()
    norm = float(np.linalg.norm(g))
    return g / norm if norm > 1e-6 else None


def likeness(a: Features, b: Features) -> float:
    """The global likeness of two pictures of the same shape (0 for other
    shapes, or a flat picture)."""
    (ha, wa), (hb, wb) = a.shape, b.shape
    if min(ha, wa, hb, wb) == 0 or abs(np.log((wa / ha) / (wb / hb))) > SAME_SHAPE:
        return 0.0
    ga, gb = _gradients(a.thumb), _gradients(b.thumb)
    return 0.0 if ga is None or gb is None else float(ga @ gb)


def _hull_share(points: np.ndarray, shape: tuple[int, int]) -> float:
    if len(points) < 3:
        return 0.0
    area = cv2.contourArea(cv2.convexHull(points.astype(np.float32)))
    return float(area) / max(shape[0] * shape[1], 1)


def _light(a: Features, b: Features, homography: np.ndarray) -> float:
    """How much brighter ``b`` is than ``a`` where they overlap: ``b``'s
    thumbnail brought onto ``a``'s by the homography (a crop compares
    with its part of the whole); 0 when they hardly overlap."""
    to_a = np.diag([THUMB / a.shape[1], THUMB / a.shape[0], 1.0])
    from_b = np.diag([b.shape[1] / THUMB, b.shape[0] / THUMB, 1.0])
    onto = to_a @ np.linalg.inv(homography) @ from_b
    moved = cv2.warpPerspective(b.thumb.astype(np.float32), onto, (THUMB, THUMB),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=-1.0)
    inside = moved >= 0
    if inside.sum() < THUMB * THUMB // 16:
        return 0.0
    return (float(moved[inside].mean()) + 1) / (float(a.thumb[inside].mean()) + 1)


def _may_be_one(a: Features, b: Features, homography: np.ndarray) -> bool:
    """Whether the homography scales both axes alike and keeps the light:
    the pair may be one capture."""
    axes = np.linalg.svd(homography[:2, :2] / homography[2, 2], compute_uv=False)
    return (axes[0] <= ONE_STRETCH * max(axes[1], 1e-9)
            and 1 / ONE_LIGHT <= _light(a, b, homography) <= ONE_LIGHT)


def _same_at_side(homography: np.ndarray, pa: np.ndarray, pb: np.ndarray,
                  dist: np.ndarray) -> bool:
    """Whether the inlier matches (``pa`` to ``pb``, descriptors ``dist``
    apart) say the same pixels once aligned, at ``SIDE``."""
    moved = cv2.perspectiveTransform(pa.reshape(-1, 1, 2), homography).reshape(-1, 2)
    error = float(np.median(np.linalg.norm(moved - pb, axis=1)))
    return error <= ONE_ERROR and float(np.median(dist)) <= ONE_DESCRIPTOR


def check(a: Features, b: Features) -> Verdict:
    """What two photos' features say about them."""
    alike = likeness(a, b)
    if len(a) < 2 or len(b) < 2:
        return Verdict(0, 0, likeness=alike)
    pa, pb, dist = _matches(a, b)
    # The cheap first test: too few matches for even the loosest evidence
    # (about half the candidate pairs, nearly all of them unrelated) are
    # refused without a homography.
    if len(pa) < max(8, LOOSE_INLIERS):
        return Verdict(0, len(pa), likeness=alike)
    homography, mask = cv2.findHomography(pa, pb, cv2.USAC_MAGSAC, TOLERANCE, maxIters=2000,
                                          confidence=0.999)
    if homography is None or mask is None or abs(homography[2, 2]) < 1e-12:
        return Verdict(0, len(pa), likeness=alike)
    fit = mask.ravel().astype(bool)
    inliers = int(fit.sum())
    spread = min(_hull_share(pa[fit], a.shape), _hull_share(pb[fit], b.shape))
    scale = float(np.linalg.det(homography[:2, :2] / homography[2, 2]))
    verdict = Verdict(inliers, len(pa), spread, scale, alike)
    if not (verdict.geometric and verdict.share >= ONE_SHARE
            and _may_be_one(a, b, homography)):
        return verdict
    if _same_at_side(homography, pa[fit], pb[fit], dist[fit]):
        return replace(verdict, one_capture=True)
    return replace(verdict, closer_look=homography)
