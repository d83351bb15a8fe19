"""When two different pictures are near-duplicates: the network's strict
threshold alone, or the second check of candidate pairs; never what the
user keeps apart.

Pure: NumPy (the check is any object with the methods of
``verify.store.Verifier`` that :class:`Judge` calls).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..progress import Progress
from .frames import Frames

if TYPE_CHECKING:
    from ..verify.store import Verifier


NEAREST = 8  # each picture's nearest neighbours are candidates, however far


@dataclass
class NearCheck:
    """The second check: each picture's ``nearest`` neighbours, and the
    pairs closer than ``candidate``, are candidates; they are
    near-duplicates only when ``verifier`` confirms them."""

    candidate: float
    verifier: Verifier
    nearest: int = NEAREST


FAR = 4.0  # farther than any cosine distance: a pair that is never near


@dataclass(frozen=True)
class Judge:
    """The second check on rows: ``verifier`` (see ``verify/store.py``)
    judges the photos ``ids[row]``; every method takes two arrays of rows,
    one pair each."""

    verifier: Verifier
    ids: np.ndarray

    def on(self, points: np.ndarray) -> Judge:
        return Judge(self.verifier, self.ids[points])

    def accepts(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(self.verifier(self.ids[a], self.ids[b]), dtype=bool)

    def strength(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """How strongly each pair is confirmed (0: not)."""
        return np.asarray(self.verifier.strength(self.ids[a], self.ids[b]), dtype=np.float64)

    def loosely(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each pair passes on weaker evidence."""
        return np.asarray(self.verifier.loosely(self.ids[a], self.ids[b]), dtype=bool)

    def unchecked(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether the check could not read a photo of each pair."""
        return np.asarray(self.verifier.unchecked(self.ids[a], self.ids[b]), dtype=bool)


def accepted(judge: Judge, a: np.ndarray, b: np.ndarray, batch: int = 2_000) -> np.ndarray:
    """``judge.accepts`` of many pairs, ``batch`` at a time, with progress
    when there is more than one batch (a library's first check is long)."""
    ok = np.zeros(len(a), dtype=bool)
    progress = Progress(len(a), "second check") if len(a) > batch else None
    for lo in range(0, len(a), batch):
        part = slice(lo, lo + batch)
        ok[part] = judge.accepts(a[part], b[part])
        if progress is not None:
            progress.update(len(a[part]))
    if progress is not None:
        progress.close()
    return ok


@dataclass(frozen=True)
class Rule:
    """When two different pictures are near-duplicates.

    Without a ``judge`` (the network alone): closer than the strict
    threshold. With one: a candidate pair (each picture's ``nearest``
    neighbours, the pairs closer than ``candidate``, and two ``frames`` of
    one burst, see ``frames.py``) that the check confirms; where the check
    cannot read a picture, closer than the strict threshold. Never a pair
    the user keeps ``apart``."""

    candidate: float
    judge: Judge | None = None
    # (a, b) -> bools: pairs never in one group (the user said so)
    apart: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    frames: Frames | None = None  # of the rows, when they are checked
    nearest: int = NEAREST

    def on(self, points: np.ndarray) -> Rule:
        """The rule for rows that are ``points`` of the checked ones."""
        apart = self.apart
        return replace(self, judge=None if self.judge is None else self.judge.on(points),
                       apart=None if apart is None else
                       lambda a, b: apart(points[a], points[b]),
                       frames=None if self.frames is None else self.frames.on(points))

    def kept_apart(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.apart is None or not len(a):
            return np.zeros(len(a), dtype=bool)
        return np.asarray(self.apart(a, b), dtype=bool)
