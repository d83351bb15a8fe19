"""Near-duplicate groups with the second check (grouping/): candidates from
the network, links only where the check confirms them, and the guards
against a chain through one bad link. Pure: vectors by hand, a check by
hand."""

from __future__ import annotations

import numpy as np

from beetsplug.similar.grouping import confirmed
from beetsplug.similar.grouping.complete import pair_groups
from beetsplug.similar.grouping.frames import PER_SIDE, Frames
from beetsplug.similar.grouping.near import candidates, near_groups, near_units
from beetsplug.similar.grouping.reduced import _checked_pairs
from beetsplug.similar.grouping.rule import Judge, Rule, accepted
from beetsplug.similar.grouping.streamed import streamed_groups
from beetsplug.similar.search.exact import knn, metric_distances, prepare


def at_angles(degrees) -> np.ndarray:
    """Unit vectors in a plane at these angles: cosine distance 1 - cos."""
    a = np.radians(np.asarray(degrees, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a), np.zeros_like(a)], axis=1)


def cos(deg: float) -> float:
    return 1 - np.cos(np.radians(deg))


class Check:
    """A second check by hand: confirms the pairs of ``yes`` (a list, at
    strength 2, or {pair: strength}), passes ``loose`` on weaker evidence,
    cannot read the photos ``unreadable``; records the pairs it is asked."""

    def __init__(self, yes=(), loose=(), unreadable=()):
        yes = yes if isinstance(yes, dict) else dict.fromkeys(yes, 2.0)
        self.yes = {frozenset(p): s for p, s in yes.items()}
        self.loose = {frozenset(p) for p in loose}
        self.unreadable = set(unreadable)
        self.asked: set[frozenset] = set()

    def _pairs(self, a, b):
        return [frozenset((int(x), int(y))) for x, y in zip(a, b)]

    def __call__(self, a, b):
        pairs = self._pairs(a, b)
        self.asked |= {p for p in pairs if not p & self.unreadable}
        return np.array([p in self.yes and not p & self.unreadable for p in pairs], dtype=bool)

    def strength(self, a, b):
        return np.array([self.yes.get(p, 0.0) for p in self._pairs(a, b)])

    def loosely(self, a, b):
        return np.array([p in self.loose or p in self.yes for p in self._pairs(a, b)],
                        dtype=bool)

    def unchecked(self, a, b):
        return np.array([bool(p & self.unreadable) for p in self._pairs(a, b)], dtype=bool)


def rule(check: Check, n: int, candidate: float = cos(20), nearest: int = 1, **more) -> Rule:
    return Rule(candidate, Judge(check, np.arange(n)), nearest=nearest, **more)


def test_only_pairs_the_check_confirms_link_photos():
    # 0-1: 2 degrees (under the strict threshold); 2-3 and 4-5: 12 degrees
    x = at_angles([0, 2, 60, 72, 120, 132, 200])
    strict = cos(5)
    check = Check(yes=[(2, 3), (4, 6)])
    assert near_groups(x, strict, rule=rule(check, 7)) == [[2, 3]]
    # 0-1 is under the strict threshold, but the check refused it: no
    # group on the network's word; 4-6 was confirmed, but never asked:
    # neither is the other's nearest nor under the candidate distance
    assert check.asked == {frozenset(p) for p in ((0, 1), (2, 3), (4, 5), (5, 6))}
    # the network alone groups by the strict threshold
    assert near_groups(x, strict) == [[0, 1]]


def test_each_photos_nearest_are_candidates_however_far():
    # 0-1 are 40 degrees apart, far past the candidate distance, but each
    # is the other's nearest: asked, and grouped when the check confirms
    x = at_angles([0, 40, 150, 260])
    check = Check(yes=[(0, 1)])
    assert near_groups(x, cos(5), rule=rule(check, 4, nearest=1)) == [[0, 1]]
    rows, cols = candidates(prepare(x, "cosine"), rule(check, 4, nearest=2))
    assert {frozenset(p) for p in zip(rows.tolist(), cols.tolist())} == \
        {frozenset(p) for p in ((0, 1), (0, 3), (1, 2), (2, 3))}


def test_a_series_of_linked_frames_is_one_group():
    # a pan or a day of a fixed camera: each frame confirmed with the next
    # only; the far ends share nothing, but strong links hold it together
    x = at_angles([0, 8, 16, 24, 32, 40])
    chain = {(i, i + 1): 4.0 for i in range(5)}
    assert near_groups(x, cos(1), rule=rule(Check(yes=chain), 6, cos(10))) == \
        [[0, 1, 2, 3, 4, 5]]


def test_a_chain_through_one_weak_link_is_split_there():
    # two scenes, each a tight set of confirmed pairs, joined by one weakly
    # confirmed pair (3-4): their far ends share nothing
    x = at_angles([0, 1, 2, 3, 9, 10, 11, 12])
    scene_a = {(i, j): 4.0 for i in range(4) for j in range(i + 1, 4)}
    scene_b = {(i, j): 4.0 for i in range(4, 8) for j in range(i + 1, 8)}
    yes = {**scene_a, **scene_b, (3, 4): 1.1}
    groups = near_groups(x, cos(0.1), rule=rule(Check(yes=yes), 8, cos(30), nearest=3))
    assert groups == [[0, 1, 2, 3], [4, 5, 6, 7]]
    # weaker evidence between the far ends keeps them together
    far = Check(yes=yes, loose=[(0, 7)])
    assert near_groups(x, cos(0.1), rule=rule(far, 8, cos(30), nearest=3)) == \
        [list(range(8))]
    # and so does a strong link: a cut that strong is no accident
    yes[(3, 4)] = 4.0
    assert near_groups(x, cos(0.1), rule=rule(Check(yes=yes), 8, cos(30), nearest=3)) == \
        [list(range(8))]


def test_a_photo_linked_weakly_to_several_scenes_does_not_join_them():
    # a photo (0) that a loose check links to three scenes: without the
    # guard one group of ten; with it, the scenes apart
    x = at_angles([0, 20, 21, 22, 120, 121, 122, 240, 241, 242])
    yes = {(0, 1): 1.1, (0, 4): 1.1, (0, 7): 1.1}
    for s in (1, 4, 7):
        yes.update({(s, s + 1): 4.0, (s, s + 2): 4.0, (s + 1, s + 2): 4.0})
    check = Check(yes=yes)
    unguarded = confirmed.WEAK_CUT
    groups = near_groups(x, cos(0.1), rule=rule(check, 10, cos(130), nearest=3))
    scenes = [{1, 2, 3}, {4, 5, 6}, {7, 8, 9}]
    assert all(any(scene <= set(g) for g in groups) for scene in scenes), groups
    assert all(sum(bool(scene & set(g)) for scene in scenes) == 1 for g in groups), groups
    confirmed.WEAK_CUT = 0.0  # no cut is weak enough: the guard is off
    try:
        assert near_groups(x, cos(0.1), rule=rule(check, 10, cos(130), nearest=3)) == \
            [list(range(10))]
    finally:
        confirmed.WEAK_CUT = unguarded


def test_pairs_kept_apart_by_the_user_are_never_grouped():
    x = at_angles([0, 2, 4, 60, 72])
    apart = {frozenset((1, 2))}

    def kept_apart(a, b):
        return np.array([frozenset((int(i), int(j))) in apart for i, j in zip(a, b)])

    # 0-1, 0-2 and 3-4 confirmed: 1 and 2 meet through 0, and are parted at
    # the weaker of their links
    check = Check(yes={(0, 1): 3.0, (0, 2): 2.0, (3, 4): 2.0})
    groups = near_groups(x, cos(5), rule=rule(check, 5, apart=kept_apart, nearest=2))
    assert groups == [[0, 1], [3, 4]]
    assert frozenset((1, 2)) not in check.asked  # never asked about
    # the network alone (nothing to check) keeps them apart too
    alone = Rule(cos(5), apart=kept_apart)
    assert near_groups(x, cos(5), rule=alone) in ([[0, 1]], [[0, 2]])


def test_a_photo_the_check_cannot_read_is_grouped_on_the_strict_threshold():
    x = at_angles([0, 2, 12, 100, 101.5])
    check = Check(unreadable={0, 3})
    # 0-1 under the strict distance (0 unreadable): linked; 0-2 farther: not;
    # 3-4 under it as well
    assert near_groups(x, cos(5), rule=rule(check, 5, nearest=2)) == [[0, 1], [3, 4]]


def test_frames_of_one_burst_are_one_camera_within_the_gap():
    t = 1.7e9
    frames = Frames.of([t, t + 0.5, t + 1.5, t + 9, t + 0.2, 0, t + 0.1],
                       ["Canon R6", "Canon R6", "Canon R6", "Canon R6", "Nikon Z6", "Canon R6",
                        ""], gap=2.0)
    # 0-1-2 within 2 s of each other; 3 is later, 4 another camera, 5
    # undated, 6 of no known camera
    assert sorted(map(tuple, np.sort(np.stack(frames.pairs()), axis=0).T.tolist())) == \
        [(0, 1), (0, 2), (1, 2)]
    assert frames.together(np.array([0, 0, 0, 0, 6]), np.array([2, 3, 4, 5, 6])).tolist() == \
        [True, False, False, False, False]
    # a long burst: each frame with at most PER_SIDE next ones
    long = Frames.of(t + 0.1 * np.arange(30), ["Sony A1"] * 30, gap=2.0)
    a, b = long.pairs()
    assert len(a) == 30 * PER_SIDE - sum(range(1, PER_SIDE + 1))
    assert np.all((b - a >= 1) & (b - a <= PER_SIDE))
    assert long.on(np.array([29, 0])).taken.tolist() == [t + 2.9, t]


def test_a_burst_frame_far_for_the_network_is_checked_and_grouped():
    # 0-1: a burst, the second frame shaken (far for the network: 50
    # degrees); 2-3: as far, but 10 minutes apart; 4: near 0
    x = at_angles([0, 50, 100, 150, 2])
    t = 1.7e9
    frames = Frames.of([t, t + 0.4, t + 10, t + 610, t + 0.8], ["Canon R6"] * 5, gap=2.0)
    check = Check(yes=[(0, 1), (1, 4), (0, 4)])
    assert near_groups(x, cos(5), rule=rule(check, 5, frames=frames)) == [[0, 1, 4]]
    # refused by the check: the shaken frame stays out
    check = Check(yes=[(0, 4)])
    assert near_groups(x, cos(5), rule=rule(check, 5, frames=frames)) == [[0, 4]]
    assert frozenset((0, 1)) in check.asked  # asked as frames of one burst
    # and the same through the candidate pairs of a big library
    check = Check(yes=[(0, 1), (1, 4), (0, 4)])
    ux = prepare(x, "cosine")
    rows, cols = np.array([0]), np.array([4])  # the network's only candidate
    a, b = frames.pairs()
    rows, cols = np.concatenate([rows, a]), np.concatenate([cols, b])
    asked = np.concatenate([[False], np.ones(len(a), dtype=bool)])
    d = metric_distances(ux, rows, cols, "cosine")
    linked = _checked_pairs(rows, cols, d, asked, cos(5), rule(check, 5, frames=frames),
                            lambda p: ux[p], batch=2)
    assert {tuple(sorted(map(int, p))) for p in zip(*linked)} == {(0, 1), (0, 4), (1, 4)}


def test_exact_copies_skip_the_check():
    # rows 0 and 1 are the same bytes (one picture), 2 a candidate of them
    x = at_angles([0, 0, 12])
    check = Check(yes=[(0, 1), (0, 2)])
    groups = near_units(["a", "a", "b"], x, cos(5), rule(check, 3))
    assert groups == [[0, 1, 2]] and check.asked == {frozenset((0, 2))}
    assert near_units(["a", "a", "b"], x, cos(5), rule(Check(), 3)) == []


def test_the_rule_holds_for_candidate_pairs_given_as_a_graph():
    x = prepare(at_angles([0, 12, 90, 91]), "cosine")
    rows, cols = np.array([0, 2]), np.array([1, 3])
    assert pair_groups(x, rows, cols, cos(5), rule=rule(Check([(0, 1), (2, 3)]), 4)) \
        == [[0, 1], [2, 3]]


def test_streamed_groups_follow_the_rule_batch_by_batch():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(60, 16))
    x = prepare(np.repeat(centres, 4, axis=0) + rng.normal(0, 0.25, (240, 16)), "cosine")
    neighbours, _ = knn(x, 8)
    rows, cols = np.repeat(np.arange(len(x)), 8), neighbours.reshape(-1)
    check = Check(yes=[(i, j) for i in range(240) for j in range(i + 1, 240)
                       if i // 4 == j // 4])  # the same centre
    whole = pair_groups(x, rows, cols, 0.01, rule=rule(check, 240, 0.2))
    assert len(whole) > 30 and all(len({i // 4 for i in g}) == 1 for g in whole)
    # As grouping/reduced.py does: the candidate pairs checked a batch at a
    # time, then the linked sets grouped a batch at a time.
    asked = np.ones(len(rows), dtype=bool)
    d = metric_distances(x, rows, cols, "cosine")
    linked = _checked_pairs(rows, cols, d, asked, 0.01, rule(check, 240, 0.2), lambda p: x[p],
                            batch=100)
    streamed = streamed_groups(len(x), *linked, 0.01, lambda p: x[p], batch=50,
                               rule=rule(check, 240, 0.2))
    assert streamed == whole


def test_a_weak_cut_is_the_least_total_strength():
    # 0 holds to 1 by one link of 1.5; 1 to 2 by two parallel paths of 1.0
    # each (through 3 and 4): the least cut between 0 and 2 is 0-1
    a = np.array([0, 1, 3, 1, 4])
    b = np.array([1, 3, 2, 4, 2])
    strength = np.array([1.5, 1.0, 1.0, 1.0, 1.0])
    cut = confirmed._min_cut(5, a, b, strength, np.ones(5, dtype=bool), 0, 2)
    assert cut.tolist() == [0]


def test_a_long_check_shows_its_progress_and_answers_every_pair(capsys, monkeypatch):
    """More pairs than a batch: asked a batch at a time, with a progress
    line (outside a terminal, once a minute: the clock is moved on)."""
    from beetsplug.similar.grouping import rule as rule_module
    from beetsplug.similar.progress import Progress

    now = [0.0]
    monkeypatch.setattr(rule_module, "Progress",
                        lambda total, label: Progress(total, label, clock=lambda: now[0]))
    check = Check(yes=[(0, 1), (3, 4)])
    judge = Judge(check, np.arange(6))
    a, b = np.array([0, 1, 2, 3, 4]), np.array([1, 2, 3, 4, 5])

    class Clocked(Judge):
        def accepts(self, x, y):
            now[0] += 61.0
            return super().accepts(x, y)

    ok = accepted(Clocked(check, np.arange(6)), a, b, batch=2)
    assert ok.tolist() == [True, False, False, True, False]
    assert len(check.asked) == 5
    err = capsys.readouterr().err
    assert "second check" in err, err
    assert accepted(judge, a, b, batch=10).tolist() == ok.tolist()
    assert capsys.readouterr().err == ""  # one batch: no progress
