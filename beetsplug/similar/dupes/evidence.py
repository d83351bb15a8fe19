"""What the second check saw inside a group: whether its pictures are one
capture, and the link that holds the group together most weakly.

Pure. ``verdict_of(x, y)`` gives the check's verdict of two photo ids
(see ``verify/check.py``), None when that pair was not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from typing import NamedTuple


class Link(NamedTuple):
    a: int  # photo ids
    b: int
    verdict: object  # the check's Verdict


class _Sets:
    """Disjoint sets of photo ids (union-find)."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.parent = {i: i for i in ids}
        self.count = len(self.parent)

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[ra] = rb
            self.count -= 1


def checked_links(ids: Sequence[int], verdict_of: Callable) -> list[Link]:
    """The confirmed links among the photos ``ids`` (distinct pictures)."""
    out = []
    for a, b in combinations(ids, 2):
        verdict = verdict_of(a, b)
        if verdict is not None and verdict.accepted:
            out.append(Link(a, b, verdict))
    return out


def one_capture(ids: Sequence[int], links: list[Link]) -> bool | None:
    """True when links that show the same pixels once aligned join all of
    ``ids``; else False when a link's local features showed pixels that
    differ, None when none did (the pictures were compared as a whole
    only, or not at all)."""
    sets = _Sets(ids)
    for link in links:
        if link.verdict.one_capture:
            sets.join(link.a, link.b)
    if len(ids) > 1 and sets.count == 1:
        return True
    return False if any(link.verdict.geometric for link in links) else None


def weakest(ids: Sequence[int], links: list[Link]) -> Link | None:
    """The weakest link the group cannot do without: joining the strongest
    links first, the one that makes the group whole (the weakest of a
    maximum spanning tree). None when the links do not join all of
    ``ids`` (a photo the check could not read, grouped on the network's
    word)."""
    sets = _Sets(ids)
    for link in sorted(links, key=lambda x: -x.verdict.strength):
        sets.join(link.a, link.b)
        if sets.count == 1:
            return link
    return None
