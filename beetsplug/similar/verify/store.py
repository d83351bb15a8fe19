"""The check run on a library's photos: features cached in its database.

Glue between the library (duck-typed: ``lib.transaction()``, no beets
import) and the pure check (``check.py``). A photo's features are
computed once, for photos that have candidate pairs only, and kept in
``similar_keypoints``; they are redone when the file's hash, size or
modification time is not the one they were computed for. A pair's verdict
is kept too (``similar_checked_pairs``, by the two files' hashes, sizes
and modification times), so a later command checks only new or changed
pairs: on a big library the pairs, not the photos, are most of the
check's work.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..imaging.decode import DEFAULT_MAX_PIXELS, open_upright
from ..imaging.errors import ImageError
from ..library.paths import from_db
from ..parallel import ordered_map, ordered_try_map
from . import check

log = logging.getLogger("beets")

TABLE = "similar_keypoints"
_CHUNK = 900  # SQLite host parameters per statement


PAIRS = "similar_checked_pairs"


def _ensure_table(lib) -> None:
    if getattr(lib, "_similar_keypoints_ready", False):
        return
    with lib.transaction() as tx:
        tx.script(f"CREATE TABLE IF NOT EXISTS {TABLE} (photo_id INTEGER PRIMARY KEY, "
                  "hash TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL, "
                  "version TEXT NOT NULL, blob BLOB NOT NULL);"
                  f"CREATE TABLE IF NOT EXISTS {PAIRS} (lo TEXT NOT NULL, hi TEXT NOT NULL, "
                  "version TEXT NOT NULL, inliers INTEGER NOT NULL, "
                  "PRIMARY KEY (lo, hi)) WITHOUT ROWID;")
    lib._similar_keypoints_ready = True


# Features made with other parameters are redone.
VERSION = f"sift{check.FEATURES}@{check.SIDE}"
# A verdict depends on the features and on every parameter of the rule.
PAIR_VERSION = (f"{VERSION}/ratio{check.RATIO}/homography{check.TOLERANCE}/"
                f"{check.MIN_INLIERS}/{check.MIN_SHARE}")


def photo_features(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> check.Features:
    """The check's features of the photo at ``path`` (raises ImageError)."""
    img = open_upright(path, check.SIDE, max_pixels)
    return check.features(np.asarray(img, dtype=np.uint8))


@dataclass
class Verifier:
    """Checks pairs of photos (by id) of ``lib``, remembering each pair's
    inlier count (``inliers``) for the evidence that commands print."""

    lib: object
    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int = 2
    inliers: dict[tuple[int, int], int] = field(default_factory=dict)
    unreadable: set[int] = field(default_factory=set)
    seconds_features: float = 0.0
    seconds_pairs: float = 0.0
    computed: int = 0  # photos whose features were computed (not cached)
    checked: int = 0  # pairs checked

    def __post_init__(self) -> None:
        _ensure_table(self.lib)
        self._features: dict[int, check.Features | None] = {}
        self._facts: dict[int, tuple[str, str, int, float] | None] = {}

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
        cached: dict[int, tuple] = {}
        with self.lib.transaction() as tx:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                for pid, digest, size, mtime, version, blob in tx.query(
                        f"SELECT photo_id, hash, size, mtime, version, blob FROM {TABLE} "
                        f"WHERE photo_id IN ({','.join('?' * len(chunk))})", chunk):
                    cached[pid] = (digest, size, mtime, version, blob)
        todo = []
        for pid in ids:
            now, was = facts[pid], cached.get(pid)
            if now is None:
                self._features[pid] = None
                self.unreadable.add(pid)
            elif was and was[:4] == (now[1], now[2], now[3], VERSION):
                self._features[pid] = check.Features.from_bytes(was[4])
            else:
                todo.append((pid, now))
        if not todo:
            return
        t0 = time.perf_counter()
        made = []
        for (pid, now), feats, error in ordered_try_map(
                lambda item: photo_features(item[1][0], self.max_pixels), todo,
                self.threads, 4 * self.threads, catch=(ImageError, OSError)):
            self._features[pid] = feats
            if error is not None:
                self.unreadable.add(pid)
            else:
                made.append((pid, now[1], now[2], now[3], VERSION, feats.to_bytes()))
        self.seconds_features += time.perf_counter() - t0
        self.computed += len(made)
        with self.lib.transaction() as tx:
            for row in made:
                tx.mutate(f"INSERT OR REPLACE INTO {TABLE} (photo_id, hash, size, mtime, "
                          "version, blob) VALUES (?, ?, ?, ?, ?, ?)", row)

    def __call__(self, a, b) -> np.ndarray:
        """Whether each pair (a[i], b[i]) of photo ids passes the check;
        a pair with an unreadable photo does not (unless its verdict was
        kept from an earlier run)."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        pairs = [(int(x), int(y)) for x, y in zip(a, b)]
        todo = [p for p in dict.fromkeys(map(_key, *zip(*pairs))) if p not in self.inliers] \
            if pairs else []
        todo = self._kept_verdicts(todo)
        self.load([i for p in todo for i in p])
        todo = [p for p in todo if self._features.get(p[0]) is not None
                and self._features.get(p[1]) is not None]
        t0 = time.perf_counter()
        made = []
        for (x, y), verdict in zip(todo, ordered_map(
                lambda p: check.check(self._features[p[0]], self._features[p[1]]), todo,
                self.threads, 4 * self.threads)):
            self.inliers[(x, y)] = verdict.inliers if verdict.accepted else -verdict.inliers
            made.append((x, y))
        self.seconds_pairs += time.perf_counter() - t0
        self.checked += len(todo)
        self._keep_verdicts(made)
        return np.array([self.inliers.get(_key(x, y), -1) > 0 for x, y in pairs], dtype=bool)

    def _facts_of(self, ids) -> dict[int, tuple[str, str, int, float] | None]:
        """{id: (path, hash, size, mtime)} of ``ids`` (see ``_stat``), each
        file looked at once per verifier."""
        new = sorted({int(i) for i in ids} - self._facts.keys())
        if new:
            self._facts.update(self._stat(new))
        return {int(i): self._facts[int(i)] for i in ids}

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
        ``inliers``; return the pairs without one."""
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
                for lo, hi, inliers in tx.query(
                        f"SELECT lo, hi, inliers FROM {PAIRS} WHERE version = ? AND "
                        f"lo IN ({','.join('?' * len(chunk))})", [PAIR_VERSION, *chunk]):
                    for p in by_files.get((lo, hi), ()):
                        self.inliers[p] = inliers
        return [p for p in pairs if p not in self.inliers]

    def _keep_verdicts(self, pairs: list[tuple[int, int]]) -> None:
        rows = {f: self.inliers[p] for p in pairs if (f := self._identity(p)) is not None}
        if rows:
            with self.lib.transaction() as tx:
                tx.mutate_many(f"INSERT OR REPLACE INTO {PAIRS} (lo, hi, version, inliers) "
                               "VALUES (?, ?, ?, ?)",
                               [(lo, hi, PAIR_VERSION, n) for (lo, hi), n in rows.items()])

    def evidence(self, x: int, y: int) -> int | None:
        """The inliers of the pair's check (negative: refused), None when
        it was not checked."""
        return self.inliers.get(_key(int(x), int(y)))

    def summary(self) -> None:
        """One line when some photos could not be read for the check (and
        its cost, with ``beet -v``)."""
        if self.computed or self.checked:
            log.debug("similar: second check: {} photos' features in {:.1f} s "
                      "({:.1f} ms per photo), {} pairs in {:.1f} s ({:.1f} ms per pair), "
                      "{} accepted", self.computed, self.seconds_features,
                      1000 * self.seconds_features / max(self.computed, 1), self.checked,
                      self.seconds_pairs, 1000 * self.seconds_pairs / max(self.checked, 1),
                      sum(v > 0 for v in self.inliers.values()))
        if self.unreadable:
            log.warning("similar: {} photos could not be read for the second check; "
                        "their pairs count only under the strict threshold",
                        len(self.unreadable))


def _key(x: int, y: int) -> tuple[int, int]:
    return (x, y) if x < y else (y, x)
