"""Runs and undo on a library of N photos with sidecars: time and memory.

    python benchmarks/undo.py [--sizes 2000 20000] [--far /dev/shm]

Writes N small files (and a sidecar for every other one) under rank-prefixed
names, with their rows straight into a real library database, then runs
`beet similar-order --clear` (N renames, journaled) and `beet similar-undo`
(N renames back, with the look at what changed since the run) as a user
would, and prints wall time and peak memory (RSS) of each. Then moves
--move-count files one step at a time with the planner, to a folder on the
same disk and to one on --far (another filesystem: copy, fsync, check,
unlink), and prints files per second of each.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from beetsplug.similar.rename.planner import digest_of, file_id, perform  # noqa: E402

from scale import timed  # noqa: E402

BODY = 20_000  # bytes per photo file


def write_library(folder: str, n: int) -> None:
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write(f"directory: {folder}/music\nlibrary: {folder}/library.db\nplugins: similar\n"
                "create_backup_before_migrations: no\n"
                "similar: {model: mobilenet_v3_small, weights: none}\n")
    timed(folder, "similar-fields")  # creates the plugin's tables
    photos = os.path.join(folder, "photos")
    os.makedirs(photos)
    db = sqlite3.connect(os.path.join(folder, "library.db"))
    t0 = time.time()
    rows, sidecars = [], []
    for i in range(1, n + 1):
        name = f"IMG_{i:07d}.jpg"
        path = os.path.join(photos, f"{i:07d}-{name}")
        body = i.to_bytes(8, "little") * (BODY // 8)
        with open(path, "wb") as f:
            f.write(body)
        rows.append((i, path.encode(), name, BODY, t0, hashlib.sha256(body).hexdigest(),
                     1.6e9 + 10 * i, i, t0))
        if i % 2:
            side = path[:-4] + ".xmp"
            with open(side, "w") as f:
                f.write(f"edits {i}\n")
            sidecars.append((i, 1, side.encode(), "sidecar"))
    db.executemany(
        "INSERT INTO similar_photos (id, path, origname, size, mtime, hash, format, width, "
        "height, taken, camera, rank, added) VALUES (?, ?, ?, ?, ?, ?, 'JPEG', 40, 30, ?, "
        "'Canon EOS R6', ?, ?)", rows)
    db.executemany("INSERT INTO similar_companions (photo_id, part, path, kind) "
                   "VALUES (?, ?, ?, ?)", sidecars)
    db.commit()
    db.close()


def moves(folder: str, target: str, count: int) -> float:
    """Files per second moved by the planner from ``folder`` to ``target``."""
    os.makedirs(folder)
    os.makedirs(target)
    paths = []
    for i in range(count):
        path = os.path.join(folder, f"f{i}.jpg")
        with open(path, "wb") as f:
            f.write(os.urandom(BODY))
        paths.append(path)
    across = os.stat(folder).st_dev != os.stat(target).st_dev
    t0 = time.perf_counter()
    for path in paths:
        ident = file_id(path)
        digest = digest_of(path) if across else None  # what the walk records first
        perform(path, os.path.join(target, os.path.basename(path)), ident, (), None, digest)
    return count / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--far", default="/dev/shm")
    parser.add_argument("--move-count", type=int, default=500)
    args = parser.parse_args()
    print(f"{'photos':>8} {'files':>8} {'clear s':>8} {'MiB':>6} {'undo s':>8} {'MiB':>6}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            write_library(folder, n)
            files = n + (n + 1) // 2
            clear_s, clear_mb, out = timed(folder, "similar-order", "--clear")
            assert "renamed" in out, out
            undo_s, undo_mb, out = timed(folder, "similar-undo")
            assert f"put back {n} photos" in out, out
            print(f"{n:>8} {files:>8} {clear_s:>8.1f} {clear_mb:>6.0f} {undo_s:>8.1f} "
                  f"{undo_mb:>6.0f}")
    with tempfile.TemporaryDirectory() as here:
        near = moves(os.path.join(here, "a"), os.path.join(here, "b"), args.move_count)
        far = tempfile.mkdtemp(dir=args.far)
        try:
            across = moves(os.path.join(here, "c"), os.path.join(far, "d"), args.move_count)
        finally:
            shutil.rmtree(far)
    print(f"moves of {BODY // 1000} kB files: {near:.0f}/s on one disk (link, unlink), "
          f"{across:.0f}/s to {args.far} (copy, fsync, check, unlink)")


if __name__ == "__main__":
    main()
