"""Frames of one burst: pairs of photos by when and with what they were taken.

Pure: NumPy. The network can put a burst's shaken or blurred frame far
from the others (it sees blur as a large change), but the camera says it
is the same moment. So two photos of one known camera, taken within
``gap`` seconds of each other, are candidates for the second check
whatever their distance; the check alone decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PER_SIDE = 4  # each photo is paired with at most this many next frames


@dataclass(frozen=True)
class Frames:
    taken: np.ndarray  # seconds since the epoch; 0 when undated
    camera: np.ndarray  # a code per camera; -1 when unknown
    gap: float  # seconds

    @classmethod
    def of(cls, taken: Sequence[float], cameras: Sequence[str], gap: float) -> Frames:
        names, codes = np.unique(np.asarray(cameras, dtype=object).astype(str),
                                 return_inverse=True)
        known = names != ""
        return cls(np.asarray(taken, dtype=np.float64),
                   np.where(known[codes], codes, -1).astype(np.int64), float(gap))

    def on(self, points: np.ndarray) -> Frames:
        """The frames of ``points`` (indices), in that order."""
        return Frames(self.taken[points], self.camera[points], self.gap)

    def together(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each (a[i], b[i]) are two frames of one burst: one known
        camera, both dated, within ``gap`` seconds."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        return ((self.camera[a] >= 0) & (self.camera[a] == self.camera[b])
                & (self.taken[a] > 0) & (self.taken[b] > 0)
                & (np.abs(self.taken[a] - self.taken[b]) <= self.gap) & (a != b))

    def pairs(self, per_side: int = PER_SIDE) -> tuple[np.ndarray, np.ndarray]:
        """Each frame with its next ``per_side`` frames of the same burst
        in time: (a, b) index arrays, at most ``per_side`` pairs per frame."""
        order = np.lexsort((self.taken, self.camera))
        order = order[(self.camera[order] >= 0) & (self.taken[order] > 0)]
        firsts, seconds = [], []
        for step in range(1, per_side + 1):
            a, b = order[:-step], order[step:]
            near = self.together(a, b)
            if not near.any():
                break  # farther steps are farther apart in time
            firsts.append(a[near])
            seconds.append(b[near])
        if not firsts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(firsts), np.concatenate(seconds)


def is_burst(photos: Sequence, gap: float) -> bool:
    """One camera, every frame dated, at distinct moments, each within
    ``gap`` seconds of the one before."""
    cameras = {p.camera for p in photos}
    times = sorted(p.taken for p in photos)
    if len(cameras) != 1 or not next(iter(cameras)) or not all(times):
        return False
    # Plain Python: a group has a few frames, and this runs for each group.
    return all(0 < after - before <= gap for before, after in zip(times, times[1:]))
