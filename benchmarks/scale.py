"""A library of N photos, as the commands meet it: time and memory.

    python benchmarks/scale.py [--sizes 100000 300000 1000000] [--dim 2048]
    python benchmarks/scale.py --sizes 100000 --keep DIR [--cold] [--grow 1000]

Writes N synthetic photos straight into a real library database (rows, and
float16 vectors as `similar-featurize` stores them: scenes on a low-rank
structure, each a burst of 1 to 6 near-identical shots), then runs the
commands as a user would and prints wall time and peak memory (RSS) of
each: `beet similar-featurize id:1` (photo 1 has no file: nothing to featurize; it only keeps
the neighbour graph, as at the end of every `similar-featurize`, from
50,000 photos), `beet similar-order --fast --no-rename` and
`beet similar-dupes`, and the burst adjacency of the chain: the share of
photos in a burst with a burst-mate next to them, also for the exact chain
(`similar-order --no-rename`) up to --exact-max photos. --cold deletes the
kept graph before each command instead: every command builds it, as on a
library featurized before the graph was kept. --grow N then adds N photos
(half of them a frame more of a burst, half new scenes) and runs both
commands again: the kept graph is brought up to date, not built. With
--keep, DIR keeps the library, `DIR/config.yaml`
(`BEETSDIR=DIR beet similar-order --fast ...`) and `DIR/groups.json`
(photo id -> burst id).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.special import ndtri

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

MODEL = "xception/block14_sepconv2_act/none-seed0"  # what the config below asks for
RANK = 32
CHUNK = 20_000


def bursts(n: int, seed: int = 0) -> np.ndarray:
    """Each photo's burst (scene) number: bursts of 1 to 6 shots."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=n)
    ends = np.cumsum(sizes)
    sizes = sizes[: int(np.searchsorted(ends, n)) + 1]
    sizes[-1] -= int(sizes.sum()) - n
    return np.repeat(np.arange(len(sizes)), sizes)


def vectors(burst: np.ndarray, dim: int, seed: int = 0):
    """(first row, float32 rows) chunks, whole bursts each, never all at once."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(RANK, dim)).astype(np.float32)
    start = 0
    while start < len(burst):
        stop = min(len(burst), start + CHUNK)
        while stop < len(burst) and burst[stop] == burst[stop - 1]:
            stop += 1
        scenes = np.unique(burst[start:stop])
        local = np.random.default_rng([seed, int(scenes[0])])
        centres = local.normal(size=(len(scenes), RANK)).astype(np.float32) @ basis
        centres += local.normal(scale=2.0, size=centres.shape).astype(np.float32)
        rows = centres[burst[start:stop] - scenes[0]]
        rows += local.normal(scale=0.6, size=rows.shape).astype(np.float32)
        yield start, np.maximum(rows, 0.0, out=rows)
        start = stop


def write_library(folder: str, n: int, dim: int) -> np.ndarray:
    """The config, the library database (via beets, then plain SQL for the
    rows) and groups.json; returns each photo's burst."""
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write(f"directory: {folder}/music\nlibrary: {folder}/library.db\nplugins: similar\n"
                "create_backup_before_migrations: no\n"
                "similar: {model: xception, weights: none, depth: 1, threshold: 0.02}\n")
    env = dict(os.environ, BEETSDIR=folder, HOME=folder)
    subprocess.run([sys.executable, "-m", "beets", "similar-fields"], env=env, check=True,
                   capture_output=True)  # creates the plugin's tables
    burst = bursts(n)
    db = sqlite3.connect(os.path.join(folder, "library.db"))
    t0 = time.time()
    for start, rows in vectors(burst, dim):
        ids = range(start + 1, start + 1 + len(rows))
        db.executemany(
            "INSERT INTO similar_photos (id, path, origname, size, mtime, hash, format, width, "
            "height, taken, camera, rank, added) VALUES (?, ?, ?, 1000, ?, ?, 'JPEG', 4000, "
            "3000, ?, 'Canon EOS R6', 0, ?)",
            [(i, f"{folder}/photos/IMG_{i:07d}.jpg".encode(), f"IMG_{i:07d}.jpg", t0,
              f"{i:064x}", 1.6e9 + 10 * i, t0) for i in ids])
        peak = np.abs(rows).max(axis=1, keepdims=True)
        blobs = (rows / peak).astype(np.float16)
        db.executemany(
            "INSERT INTO similar_features (photo_id, model, dim, dtype, scale, vector, hash) "
            "VALUES (?, ?, ?, 'float16', ?, ?, ?)",
            [(i, MODEL, dim, float(s), b.tobytes(), f"{i:064x}")
             for i, s, b in zip(ids, peak[:, 0], blobs)])
        db.commit()
    # A stored calibration, as a real library has (its photos are not on
    # disk here to calibrate on): the copy distance for similar-dupes.
    # The unrelated pairs' tail puts the strict distance near 0.02 at 1M photos.
    sigma = 0.5
    mu = math.log(0.02) - sigma * ndtri(1e-8)
    grid = [[p, math.exp(mu + sigma * ndtri(p))] for p in (0.01, 0.1, 0.5)]
    tail = {"pairs": 44850, "mu": mu, "sigma": sigma, "p_fit": 0.01, "grid": grid}
    figures = {"layers": [{"depth": 1, "layer": "block14_sepconv2_act", "dim": dim, "auc": 0.9,
                           "copy_distance": 0.005, "tail": tail, "positive": [0.005, 0.01]}],
               "crossed": False}
    db.execute("INSERT INTO similar_calibrations (family, made, sample, fpr, chosen, figures) "
               "VALUES ('xception/none-seed0', ?, 300, 0, 1, ?)", (t0, json.dumps(figures)))
    db.commit()
    db.close()
    with open(os.path.join(folder, "groups.json"), "w") as f:
        json.dump({str(i + 1): int(b) for i, b in enumerate(burst)}, f)
    return burst


def grow(folder: str, burst: np.ndarray, n: int, dim: int) -> np.ndarray:
    """Add ``n`` photos as an import does: half of them a frame more of a
    burst, half new scenes like the others (of one photo each); returns
    each photo's burst, the new ones too."""
    rng = np.random.default_rng(len(burst))
    db = sqlite3.connect(os.path.join(folder, "library.db"))
    top = len(burst)
    near = rng.choice(np.arange(1, top + 1), n // 2, replace=False)
    rows = []
    for pid in near.tolist():
        scale, blob = db.execute("SELECT scale, vector FROM similar_features "
                                 "WHERE photo_id = ? AND model = ?", (pid, MODEL)).fetchone()
        rows.append(np.frombuffer(blob, np.float16).astype(np.float32) * scale
                    + rng.normal(scale=0.6, size=dim).astype(np.float32))
    basis = np.random.default_rng(0).normal(size=(RANK, dim)).astype(np.float32)  # as vectors()
    scenes = rng.normal(size=(n - n // 2, RANK)).astype(np.float32) @ basis
    scenes += rng.normal(scale=2.0, size=scenes.shape).astype(np.float32)
    rows += list(scenes)
    t0 = time.time()
    for pid, row in enumerate(rows, start=top + 1):
        row = np.maximum(row, 0.0)
        peak = float(np.abs(row).max())
        db.execute("INSERT INTO similar_photos (id, path, origname, size, mtime, hash, format, "
                   "width, height, taken, camera, rank, added) VALUES (?, ?, ?, 1000, ?, ?, "
                   "'JPEG', 4000, 3000, ?, 'Canon EOS R6', 0, ?)",
                   (pid, f"{folder}/photos/NEW_{pid:07d}.jpg".encode(), f"NEW_{pid:07d}.jpg",
                    t0, f"{pid:064x}", 1.9e9 + 10 * pid, t0))
        db.execute("INSERT INTO similar_features (photo_id, model, dim, dtype, scale, vector, "
                   "hash) VALUES (?, ?, ?, 'float16', ?, ?, ?)",
                   (pid, MODEL, dim, peak, (row / peak).astype(np.float16).tobytes(),
                    f"{pid:064x}"))
    db.commit()
    db.close()
    new_scenes = burst.max() + 1 + np.arange(n - n // 2)
    burst = np.concatenate([burst, burst[near - 1], new_scenes])
    with open(os.path.join(folder, "groups.json"), "w") as f:
        json.dump({str(i + 1): int(b) for i, b in enumerate(burst)}, f)
    return burst


def timed(folder: str, *args: str) -> tuple[float, float, str]:
    """(seconds, peak MiB, output) of one `beet` run in its own process."""
    env = dict(os.environ, BEETSDIR=folder, HOME=folder)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "beets", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"beet {' '.join(args)} failed:\n{out}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, out


def adjacency(folder: str, burst: np.ndarray) -> float:
    db = sqlite3.connect(os.path.join(folder, "library.db"))
    order = np.array([r[0] for r in db.execute(
        "SELECT id FROM similar_photos WHERE rank > 0 ORDER BY rank")]) - 1
    db.close()
    b = burst[order]
    mate = np.zeros(len(b), dtype=bool)
    mate[:-1] |= b[:-1] == b[1:]
    mate[1:] |= b[1:] == b[:-1]
    in_burst = np.bincount(burst)[b] > 1
    return float(mate[in_burst].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--exact-max", type=int, default=20_000,
                        help="run the exact chain too up to this many photos")
    parser.add_argument("--cold", action="store_true",
                        help="delete the kept neighbour graph before each command: every "
                        "command builds it (by default similar-featurize keeps it, and the "
                        "commands load it, as for a user)")
    parser.add_argument("--grow", type=int, default=0, metavar="N",
                        help="then add N photos and run both commands again")
    parser.add_argument("--keep", metavar="DIR", help="write the library in DIR and keep it "
                        "(one size only)")
    args = parser.parse_args()
    if args.keep and len(args.sizes) != 1:
        raise SystemExit("--keep takes one size")
    print(f"{'photos':>9} {'write s':>8} {'keep s':>7} {'order s':>8} {'order MiB':>9} "
          f"{'adjacent':>8} {'exact':>8} {'dupes s':>8} {'dupes MiB':>9}")
    for n in args.sizes:
        folder = args.keep or tempfile.mkdtemp(prefix=f"similar-scale-{n}-")
        os.makedirs(folder, exist_ok=True)
        t0 = time.perf_counter()
        burst = write_library(folder, n, args.dim)
        written = time.perf_counter() - t0
        exact = "-"
        if n <= args.exact_max:
            timed(folder, "similar-order", "--no-rename")
            exact = f"{adjacency(folder, burst):.3f}"
        cache = os.path.join(folder, "similar-cache")
        subprocess.run(["rm", "-rf", cache])
        kept = "-"
        if not args.cold:
            kept = f"{timed(folder, 'similar-featurize', 'id:1')[0]:7.1f}"
        row = f"{n:>9} {written:8.1f} {kept:>7}"
        for grown in (0, args.grow) if args.grow else (0,):
            if grown:
                burst = grow(folder, burst, grown, args.dim)
                row = f"{f'+{grown}':>9} {'':>8} {'':>7}"
            if args.cold:
                subprocess.run(["rm", "-rf", cache])
            order_s, order_mib, _ = timed(folder, "similar-order", "--fast", "--no-rename")
            adjacent = adjacency(folder, burst)
            if args.cold:
                subprocess.run(["rm", "-rf", cache])
            dupes_s, dupes_mib, _ = timed(folder, "similar-dupes", "-f", "$id")
            print(f"{row} {order_s:8.1f} {order_mib:9.0f} {adjacent:8.3f} "
                  f"{exact if not grown else '-':>8} {dupes_s:8.1f} {dupes_mib:9.0f}", flush=True)
        if not args.keep:
            subprocess.run(["rm", "-rf", folder])


if __name__ == "__main__":
    main()
