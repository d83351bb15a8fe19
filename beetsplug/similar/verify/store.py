"""The check run on a library's photos: features and verdicts kept.

Glue between the library (duck-typed: ``lib.transaction()``, no beets
import) and the pure check (``check.py``). A photo's features are
computed once, by ``similar-featurize`` in the same decode as its vector
or here for photos without them, and kept in the feature cache beside the
library (``cache.py``); they are redone when the file's hash, size or
modification time is not the one they were computed for. A pair's verdict
is kept in the library (``similar_pair_verdicts``, by the two files'
hashes, sizes and modification times), so a later command checks only new
or changed pairs: on a big library the pairs, not the photos, are most of
the check's work. At most ``HELD`` photos' features are held in memory.
The few pairs whose verdict asks for the finer look (``fine.py``) have
their photos decoded again, larger, before the verdict is kept.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..imaging.decode import DEFAULT_MAX_PIXELS, open_upright
from ..imaging.errors import ImageError
from ..library.paths import from_db
from ..parallel import ordered_map, ordered_try_map
from . import check, closer, fine
from .cache import FeatureCache

log = logging.getLogger("beets")

_CHUNK = 900  # SQLite host parameters per statement
HELD = 20_000  # photos' features held in memory at most (about 16 KB each, matching included)
PAIRS_AT_ONCE = 20_000  # pairs whose photos' features are loaded together
PAIRS_A_TASK = 32  # pairs a worker checks in one task


PAIRS = "similar_pair_verdicts"
OLD_PAIRS = "similar_checked_pairs"  # verdicts of an older check: dropped


def _ensure_table(lib) -> None:
    if getattr(lib, "_similar_pairs_ready", False):
        return
    with lib.transaction() as tx:
        tx.script(f"CREATE TABLE IF NOT EXISTS {PAIRS} (lo TEXT NOT NULL, hi TEXT NOT NULL, "
                  "version TEXT NOT NULL, inliers INTEGER NOT NULL, matches INTEGER NOT NULL, "
                  "spread REAL NOT NULL, scale REAL NOT NULL, likeness REAL NOT NULL, "
                  "one_capture INTEGER NOT NULL, PRIMARY KEY (lo, hi)) WITHOUT ROWID;"
                  f"DROP TABLE IF EXISTS {OLD_PAIRS};")
    lib._similar_pairs_ready = True


# Features made with other parameters are redone.
VERSION = check.FEATURES_VERSION
# A verdict's measures depend on the features and on these parameters
# (the limits that decide on the measures are applied when they are read).
# Stored as a short digest: every verdict row holds it.
PAIR_VERSION = hashlib.sha256(
    (f"{VERSION}/measures{check.MEASURES}/ratio{check.RATIO}/homography{check.TOLERANCE}/"
     f"one{check.ONE_SHARE},{check.ONE_ERROR},{check.ONE_DESCRIPTOR},{check.ONE_LIGHT},"
     f"{check.ONE_STRETCH}/fine{fine.SIDE},{fine.TILES},{fine.BAND},{fine.MIN_DETAIL},"
     f"{fine.WEAKEST},{fine.ONE_CORRELATION},{fine.ONE_SPREAD}/shape{check.SAME_SHAPE}"
     ).encode()).hexdigest()[:12]


def photo_features(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> check.Features:
    """The check's features of the photo at ``path`` (raises ImageError)."""
    img = open_upright(path, check.SIDE, max_pixels)
    return check.features(np.asarray(img, dtype=np.uint8))


def keep_features(lib, found: list[tuple[int, str, int, float, check.Features]]) -> None:
    """Keep features computed elsewhere (in ``similar-featurize``'s decode):
    (photo id, file hash, size, modification time, features) each."""
    if found:
        FeatureCache.of(lib, VERSION).put((pid, digest, size, mtime, VERSION, f.to_bytes())
                                          for pid, digest, size, mtime, f in found)


@dataclass
class Verifier:
    """Checks pairs of photos (by id) of ``lib``, remembering each pair's
    :class:`.check.Verdict` (``verdicts``) for the groups' evidence."""

    lib: object
    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int = 2
    verdicts: dict[tuple[int, int], check.Verdict] = field(default_factory=dict)
    unreadable: set[int] = field(default_factory=set)
    seconds_features: float = 0.0
    seconds_pairs: float = 0.0
    seconds_closer: float = 0.0
    computed: int = 0  # photos whose features were computed (not cached)
    checked: int = 0  # pairs checked
    looked_closer: int = 0  # pairs given the finer look (fine.py)

    def __post_init__(self) -> None:
        _ensure_table(self.lib)
        self.cache = FeatureCache.of(self.lib, VERSION)
        self._features: dict[int, check.Features | None] = {}
        self._facts: dict[int, tuple[str, str, int, float] | None] = {}
        # By photo id: looked at (``_survey``), and cannot be read (``unreadable``)
        self._looked = np.zeros(0, dtype=bool)
        self._cannot = np.zeros(0, dtype=bool)

    def _stat(self, ids: list[int]) -> dict[int, tuple[str, str, int, float] | None]:
        """{id: (path, hash, size, mtime)}, None when the file cannot be read."""
        rows = []
        with self.lib.transaction() as tx:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                rows += tx.query(f"SELECT id, path, hash FROM similar_photos "
                                 f"WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        out: dict[int, tuple | None] = dict.fromkeys(ids)
        for pid, path, digest in rows:
            path = from_db(self.lib, path)
            try:
                st = os.stat(path)
            except OSError:
                continue
            out[pid] = (path, digest or "", st.st_size, st.st_mtime)
        return out

    def load(self, ids) -> None:
        """Have the features of photos ``ids``: from the cache when still
        valid, else computed (in parallel) and stored."""
        ids = sorted({int(i) for i in ids} - self._features.keys())
        if not ids:
            return
        facts = self._facts_of(ids)
        cached = self.cache.get(ids)
        todo = []
        for pid in ids:
            now, was = facts[pid], cached.get(pid)
            if now is None:  # marked unreadable by ``_facts_of``
                self._features[pid] = None
            elif was and was[1:5] == (now[1], now[2], now[3], VERSION):
                self._features[pid] = check.Features.from_bytes(was[5])
            else:
                todo.append((pid, now))
        self._compute(todo)

    def _compute(self, todo: list[tuple[int, tuple]]) -> None:
        """Compute and store the features of ``todo`` ((id, facts) pairs)."""
        if not todo:
            return
        t0 = time.perf_counter()
        made, failed = [], []
        for (pid, now), feats, error in ordered_try_map(
                lambda item: photo_features(item[1][0], self.max_pixels), todo,
                self.threads, 4 * self.threads, catch=(ImageError, OSError)):
            self._features[pid] = feats
            if error is not None:
                failed.append(pid)
            else:
                made.append((pid, now[1], now[2], now[3], VERSION, feats.to_bytes()))
        self._cannot_read(failed)
        self.seconds_features += time.perf_counter() - t0
        self.computed += len(made)
        self.cache.put(made)

    def _forget_features(self) -> None:
        """Keep at most ``HELD`` photos' features in memory (those that
        cannot be read stay known as such)."""
        if len(self._features) > HELD:
            self._features = {i: f for i, f in self._features.items() if f is None}

    def __call__(self, a, b) -> np.ndarray:
        """Whether each pair (a[i], b[i]) of photo ids passes the check;
        a pair with an unreadable photo does not (unless its verdict was
        kept from an earlier run)."""
        return self._each(a, b, lambda v: v.accepted, bool)

    def loosely(self, a, b) -> np.ndarray:
        """Whether each pair passes on weaker evidence (:attr:`.check.Verdict.loosely`)."""
        return self._each(a, b, lambda v: v.loosely, bool)

    def strength(self, a, b) -> np.ndarray:
        """How strongly each pair is confirmed (:attr:`.check.Verdict.strength`; 0: not)."""
        return self._each(a, b, lambda v: v.strength, np.float64)

    def _each(self, a, b, measure, dtype) -> np.ndarray:
        """``measure(verdict)`` of each pair; 0 where it cannot be judged."""
        verdicts = self.judged(a, b)
        out = np.zeros(len(verdicts), dtype=dtype)
        at = [i for i, v in enumerate(verdicts) if v is not None]
        out[at] = [measure(verdicts[i]) for i in at]
        return out

    def unchecked(self, a, b) -> np.ndarray:
        """Whether each pair has a photo the check could not read (once asked)."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        cannot = self._cannot
        return (((a < len(cannot)) & cannot[np.minimum(a, len(cannot) - 1)])
                | ((b < len(cannot)) & cannot[np.minimum(b, len(cannot) - 1)])
                if len(cannot) else np.zeros(len(a), dtype=bool))

    def judged(self, a, b) -> list[check.Verdict | None]:
        """The verdict of each pair (a[i], b[i]) of photo ids, checked where
        none is known yet; None where a photo cannot be read."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        # Each file is looked at first, and the pairs of photos that cannot
        # be read are left out at once: a big library without files
        # (benchmarks/scale.py) has millions.
        self._survey(np.concatenate([lo, hi]))
        readable = ~self.unchecked(lo, hi)
        keys = list(zip(lo[readable].tolist(), hi[readable].tolist()))
        todo = [p for p in dict.fromkeys(keys) if p not in self.verdicts]
        todo = sorted(self._kept_verdicts(todo))
        for start in range(0, len(todo), PAIRS_AT_ONCE):
            self._check(todo[start:start + PAIRS_AT_ONCE])
        out: list[check.Verdict | None] = [None] * len(lo)
        for at, key in zip(np.flatnonzero(readable).tolist(), keys):
            out[at] = self.verdicts.get(key)
        return out

    def _check(self, pairs: list[tuple[int, int]]) -> None:
        """Check ``pairs`` (without a verdict yet) and keep their verdicts."""
        self.load([i for p in pairs for i in p])
        pairs = [p for p in pairs if self._features.get(p[0]) is not None
                 and self._features.get(p[1]) is not None]
        t0 = time.perf_counter()
        # Pairs go to the workers in runs: a pair takes under half a
        # millisecond, too little to be a task of its own.
        runs = [pairs[at:at + PAIRS_A_TASK] for at in range(0, len(pairs), PAIRS_A_TASK)]
        for run, verdicts in zip(runs, ordered_map(
                lambda run: [check.check(self._features[a], self._features[b]) for a, b in run],
                runs, self.threads, 4 * self.threads)):
            self.verdicts.update(zip(run, verdicts))
        self.seconds_pairs += time.perf_counter() - t0
        self.checked += len(pairs)
        self._look_closer([p for p in pairs if self.verdicts[p].closer_look is not None])
        self._keep_verdicts(pairs)
        self._forget_features()

    def _look_closer(self, pairs: list[tuple[int, int]]) -> None:
        """Decide whether ``pairs``, which the check could not tell, are one
        capture (``closer.py``)."""
        t0 = time.perf_counter()
        for pair, one in closer.one_captures(
                pairs, {p: self.verdicts[p].closer_look for p in pairs},
                {i: (self._facts[i][0], self._features[i].shape) for p in pairs for i in p},
                self.max_pixels, self.threads).items():
            self.verdicts[pair] = replace(self.verdicts[pair], one_capture=one, closer_look=None)
        self.seconds_closer += time.perf_counter() - t0
        self.looked_closer += len(pairs)

    def _survey(self, ids: np.ndarray) -> None:
        """Look at the files of the photos ``ids`` not looked at yet (see
        :meth:`_facts_of`), without a Python step per photo seen before."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and ids.max() >= len(self._looked):
            self._looked = np.concatenate(
                [self._looked, np.zeros(int(ids.max()) + 1 - len(self._looked), dtype=bool)])
        new = np.unique(ids[~self._looked[ids]])
        if len(new):
            self._facts_of(new.tolist())
            self._looked[new] = True

    def _facts_of(self, ids) -> dict[int, tuple[str, str, int, float] | None]:
        """{id: (path, hash, size, mtime)} of ``ids`` (see ``_stat``), each
        file looked at once per verifier."""
        new = sorted({int(i) for i in ids} - self._facts.keys())
        if new:
            facts = self._stat(new)
            self._facts.update(facts)
            # known at once: their pairs need no work (see ``judged``)
            self._cannot_read([i for i, fact in facts.items() if fact is None])
        return {int(i): self._facts[int(i)] for i in ids}

    def _cannot_read(self, ids: list[int]) -> None:
        """The photos ``ids`` cannot be read: in ``unreadable``, and marked
        by id for :meth:`unchecked`."""
        if not ids:
            return
        self.unreadable.update(ids)
        top = max(ids)
        if top >= len(self._cannot):
            self._cannot = np.concatenate(
                [self._cannot, np.zeros(top + 1 - len(self._cannot), dtype=bool)])
        self._cannot[ids] = True

    def _identity(self, pair: tuple[int, int]) -> tuple[str, str] | None:
        """The two files as a kept verdict knows them (hash, size and
        modification time), in order; None when one cannot be read or has
        no hash."""
        out = []
        for i in pair:
            facts = self._facts.get(i)
            if facts is None or not facts[1]:
                return None
            out.append(f"{facts[1]}/{facts[2]}/{facts[3]!r}")
        x, y = out
        return (x, y) if x <= y else (y, x)

    def _kept_verdicts(self, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Take the kept verdicts of ``pairs`` (id pairs, in order) into
        ``verdicts``; return the pairs without one."""
        if not pairs:
            return pairs
        self._facts_of([i for p in pairs for i in p])
        by_files: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for p in pairs:
            files = self._identity(p)
            if files is not None:
                by_files.setdefault(files, []).append(p)
        los = sorted({lo for lo, _ in by_files})
        with self.lib.transaction() as tx:
            for start in range(0, len(los), _CHUNK):
                chunk = los[start:start + _CHUNK]
                for lo, hi, *measures in tx.query(
                        f"SELECT lo, hi, inliers, matches, spread, scale, likeness, one_capture "
                        f"FROM {PAIRS} WHERE version = ? AND "
                        f"lo IN ({','.join('?' * len(chunk))})", [PAIR_VERSION, *chunk]):
                    for p in by_files.get((lo, hi), ()):
                        self.verdicts[p] = _verdict(*measures)
        return [p for p in pairs if p not in self.verdicts]

    def _keep_verdicts(self, pairs: list[tuple[int, int]]) -> None:
        rows = {f: self.verdicts[p] for p in pairs if (f := self._identity(p)) is not None}
        if rows:
            with self.lib.transaction() as tx:
                tx.mutate_many(f"INSERT OR REPLACE INTO {PAIRS} (lo, hi, version, inliers, "
                               "matches, spread, scale, likeness, one_capture) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [(lo, hi, PAIR_VERSION, v.inliers, v.matches, v.spread, v.scale,
                                 v.likeness, int(v.one_capture))
                                for (lo, hi), v in rows.items()])

    def evidence(self, x: int, y: int) -> check.Verdict | None:
        """The pair's verdict, None when it was not checked."""
        return self.verdicts.get(_key(int(x), int(y)))

    def summary(self) -> None:
        """One line when some photos could not be read for the check (and
        its cost, with ``beet -v``)."""
        if self.computed or self.checked:
            log.debug("similar: second check: {} photos' features in {:.1f} s "
                      "({:.1f} ms per photo), {} pairs in {:.1f} s ({:.1f} ms per pair), "
                      "{} accepted; a finer look at {} pairs in {:.1f} s", self.computed,
                      self.seconds_features, 1000 * self.seconds_features / max(self.computed, 1),
                      self.checked, self.seconds_pairs,
                      1000 * self.seconds_pairs / max(self.checked, 1),
                      sum(v.accepted for v in self.verdicts.values()), self.looked_closer,
                      self.seconds_closer)
        if self.unreadable:
            log.warning("similar: {} photos could not be read for the second check; "
                        "their pairs count only under the strict threshold",
                        len(self.unreadable))


def _verdict(inliers, matches, spread, scale, likeness, one_capture) -> check.Verdict:
    return check.Verdict(int(inliers), int(matches), float(spread), float(scale),
                         float(likeness), bool(one_capture))


def _key(x: int, y: int) -> tuple[int, int]:
    return (x, y) if x < y else (y, x)
