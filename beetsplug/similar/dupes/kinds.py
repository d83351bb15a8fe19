"""What kind of group a near-duplicate group is.

Pure: NumPy. Each kind has its own line and its own count, and acting on
one must be asked for by name. Exact copies inside a group of another kind
count as one picture there (and are shown and counted as exact copies):

| kind | the photos are |
|---|---|
| ``exact`` | the same bytes |
| ``burst`` | from one camera, each taken within ``burst_gap`` seconds of the one before (EXIF sub-seconds count) |
| ``copy`` | one capture: re-encoded, resized, cropped or lightly edited. The second check saw the same pixels once aligned, or, where it saw no pixels differ, the camera and the capture time are the same; every two are closer than the copy distance calibration measured, and none were taken at different moments |
| ``similar`` | everything else: other shots of a scene (a bracket, a focus series, a camera's frames at other times, other viewpoints) |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..grouping.frames import is_burst

KINDS = ("exact", "copy", "burst", "similar")


def kind(photos: Sequence, distances: Callable[[], np.ndarray], copy_distance: float | None,
         burst_gap: float, same_pixels: Callable[[Sequence], bool | None] | None = None,
         ) -> str:
    """The kind of a group; ``distances()`` gives those between its photos
    (cosine), read only when the kind depends on them;
    ``same_pixels(pictures)`` what the second check saw of those pictures:
    True, the same pixels once aligned; False, pixels that differ; None,
    nothing either way (None instead of the callable: no check)."""
    hashes = [p.hash for p in photos]
    if len(set(hashes)) == 1:
        return "exact"
    # Exact copies inside a group are one picture: a burst with a copy of
    # one frame is still a burst.
    pictures = list({p.hash: p for p in reversed(photos)}.values())
    if is_burst(pictures, burst_gap):
        return "burst"
    moments = {p.taken for p in pictures if p.taken}
    if copy_distance is None or len(moments) > 1:  # other moments: other captures
        return "similar"
    different = np.array([[a != b for b in hashes] for a in hashes])
    if not np.all(distances()[different] <= copy_distance):
        return "similar"
    seen = same_pixels(pictures) if same_pixels is not None else None
    return "copy" if seen or (seen is None and _same_moment(pictures)) else "similar"


def _same_moment(pictures: Sequence) -> bool:
    """One known camera, and every picture taken at one known moment."""
    cameras = {p.camera for p in pictures}
    moments = {p.taken for p in pictures}
    return (len(cameras) == 1 and bool(next(iter(cameras))) and len(moments) == 1
            and bool(next(iter(moments))))
