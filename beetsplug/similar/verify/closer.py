"""The finer look run on a library's pairs: their photos decoded again.

Glue between the files and the pure comparison (``fine.py``), for the few
pairs whose verdict asks for it (``check.Verdict.closer_look``): each
photo decoded again, larger, once per batch, in parallel.
"""

from __future__ import annotations

import numpy as np

from ..imaging.decode import open_upright
from ..imaging.errors import ImageError
from ..parallel import ordered_map, ordered_try_map
from . import fine

AT_ONCE = 256  # pairs whose photos are held decoded together


def one_captures(pairs: list[tuple[int, int]], homographies: dict, photos: dict,
                 max_pixels: int, threads: int = 2) -> dict[tuple[int, int], bool]:
    """{pair: one capture} of ``pairs`` of photo ids, with the check's
    ``homographies`` (by pair) and ``photos`` ({id: (path, shape the
    features were found at)}). A photo that cannot be decoded again: its
    pairs are not one capture."""
    out = {}
    for start in range(0, len(pairs), AT_ONCE):
        batch = pairs[start:start + AT_ONCE]
        pictures = {pid: picture for pid, picture, _error in ordered_try_map(
            lambda pid: _grey(photos[pid][0], max_pixels), sorted({i for p in batch for i in p}),
            threads, 4 * threads, catch=(ImageError, OSError))}

        def same(pair: tuple[int, int]) -> bool:
            a, b = pair
            if pictures[a] is None or pictures[b] is None:
                return False
            return fine.one_capture(pictures[a], pictures[b], photos[a][1], photos[b][1],
                                    homographies[pair])

        out.update(zip(batch, ordered_map(same, batch, threads, 4 * threads)))
    return out


def _grey(path: str, max_pixels: int) -> np.ndarray:
    """The photo decoded again for the finer look (raises ImageError)."""
    return fine.grey(np.asarray(open_upright(path, fine.SIDE, max_pixels), dtype=np.uint8))
