"""When two different pictures are near-duplicates: the network's strict
threshold, the second check of looser candidates, and what the user kept
apart.

Pure: NumPy (the check is a callable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .frames import Frames

if TYPE_CHECKING:
    from ..verify.store import Verifier


@dataclass
class NearCheck:
    """The second check: pairs closer than ``candidate`` (and not under
    the strict threshold) are near-duplicates when ``verifier`` accepts
    them. (Pairs under the calibrated copy distance are checked too: it
    is far above the strict threshold with a pretrained network; see
    docs/precision.md.)"""

    candidate: float
    verifier: Verifier


FAR = 4.0  # farther than any cosine distance: a pair that is never near


@dataclass(frozen=True)
class Rule:
    """When two different pictures are near-duplicates: closer than the
    strict threshold, or closer than ``candidate`` and ``check(a, b)``
    (arrays of row indices -> bools) accepts them. Two ``frames`` of one
    burst are checked whatever their distance (see ``frames.py``)."""

    candidate: float
    check: Callable[[np.ndarray, np.ndarray], np.ndarray]
    # (a, b) -> bools: pairs never in one group (the user said so)
    apart: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    frames: Frames | None = None  # of the rows, when they are checked

    def on(self, points: np.ndarray) -> Rule:
        """The rule for rows that are ``points`` of the checked ones."""
        apart = self.apart
        return replace(self, check=lambda a, b: self.check(points[a], points[b]),
                       apart=None if apart is None else
                       lambda a, b: apart(points[a], points[b]),
                       frames=None if self.frames is None else self.frames.on(points))

    def kept_apart(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.apart is None or not len(a):
            return np.zeros(len(a), dtype=bool)
        return np.asarray(self.apart(a, b), dtype=bool)

    def reaches(self, a: np.ndarray, b: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Whether the pairs (a, b), at distances ``d``, may be checked:
        closer than ``candidate``, or frames of one burst; never a pair
        kept apart (at ``FAR``)."""
        near = d < self.candidate
        if self.frames is not None and len(a):
            near |= self.frames.together(a, b) & (d < FAR)
        return near

    def linked_at(self, d: np.ndarray, threshold: float) -> np.ndarray:
        """The distance that accepted pairs at ``d`` count as: scaled into
        the strict ``threshold`` (nearer pairs stay nearer); frames of one
        burst past ``candidate`` at the threshold itself."""
        return np.minimum(d * threshold / self.candidate, threshold)
