"""What the photo kept takes over from the extras that go: a sidecar
when it has none, and the group's highest rating. Pure."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence


def sidecar_name(sidecar: str, extra_path: str, keeper_path: str) -> str:
    """The name a sidecar of the photo at ``extra_path`` takes beside the
    photo kept: ``b.xmp`` -> ``a.xmp``; ``b.CR2.xmp`` (full name plus an
    extension) -> ``a.jpg.xmp``."""
    extra_stem, extra_ext = os.path.splitext(os.path.basename(extra_path))
    suffix = os.path.basename(sidecar)[len(extra_stem):]
    keeper_name = os.path.basename(keeper_path)
    if extra_ext and suffix.lower().startswith(extra_ext.lower() + "."):
        new = keeper_name + suffix[len(extra_ext):]
    else:
        new = os.path.splitext(keeper_name)[0] + suffix
    return os.path.join(os.path.dirname(keeper_path), new)


def adoptions(keeper_path: str, keeper_has_sidecar: bool,
              extras: Sequence[tuple[int, str, Sequence[tuple[int, str]], int | None]],
              exists: Callable[[str], bool] = os.path.lexists) -> dict[int, list[tuple[int, str]]]:
    """{extra id: [(part, new path), ...]}: the sidecars the photo kept
    takes over. ``extras`` are (id, path, [(part, sidecar path)], rating).
    A keeper with a sidecar of its own takes none; else it takes those of
    the best-rated extra that has any (the first one on a tie), each to a
    free name."""
    if keeper_has_sidecar:
        return {}
    with_sidecars = [e for e in extras if e[2]]
    if not with_sidecars:
        return {}
    best = max(with_sidecars, key=lambda e: -2 if e[3] is None else e[3])
    extra_id, extra_path, sidecars, _ = best
    taken: set[str] = set()
    out = []
    for part, path in sidecars:
        target = sidecar_name(path, extra_path, keeper_path)
        if target not in taken and not exists(target):
            taken.add(target)
            out.append((part, target))
    return {extra_id: out} if out else {}


def best_rating(ratings: Sequence[int | None]) -> int | None:
    """The highest of the ratings known, None when none is."""
    known = [r for r in ratings if r is not None]
    return max(known) if known else None
