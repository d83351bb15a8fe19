"""What kind of group a near-duplicate group is.

Pure: NumPy. Each kind has its own line and its own count, and acting on
one must be asked for by name. Exact copies inside a group of another kind
count as one picture there (and are shown and counted as exact copies):

| kind | the photos are |
|---|---|
| ``exact`` | the same bytes |
| ``burst`` | from one camera, each taken within ``burst_gap`` seconds of the one before (EXIF sub-seconds count) |
| ``copy`` | the same picture re-encoded, resized or lightly cropped: every two closer than the copy distance, which calibration measures as what such copies reach, and not taken at different moments |
| ``similar`` | everything else under the threshold: other shots of a scene |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..grouping.frames import is_burst

KINDS = ("exact", "copy", "burst", "similar")


def kind(photos: Sequence, distances: Callable[[], np.ndarray], copy_distance: float | None,
         burst_gap: float) -> str:
    """The kind of a group; ``distances()`` gives those between its photos
    (cosine), read only when the kind depends on them."""
    hashes = [p.hash for p in photos]
    if len(set(hashes)) == 1:
        return "exact"
    # Exact copies inside a group are one picture: a burst with a copy of
    # one frame is still a burst.
    pictures = list({p.hash: p for p in reversed(photos)}.values())
    if is_burst(pictures, burst_gap):
        return "burst"
    moments = {p.taken for p in photos if p.taken}
    if copy_distance is not None and len(moments) <= 1:
        different = np.array([[a != b for b in hashes] for a in hashes])
        if np.all(distances()[different] <= copy_distance):
            return "copy"
    return "similar"
