"""What the second check costs per photo, on one core: its features, their
size, and a pair.

    python benchmarks/check_cost.py             # ../shared/photos, else tests/data/photos
    python benchmarks/check_cost.py --photos 100

Each photo is decoded first as the check decodes it (upright, at
``check.SIDE``), outside the timing; then, single-threaded, in CPU time:

* ``features()`` per photo, and ``to_bytes()`` per photo (the cache);
* ``check()`` on pairs of unrelated photos (most candidate pairs: the
  network's nearest of a photo are mostly other photos), and on the
  pairs of the real near-duplicate groups (``near/groups.json``), which
  all reach the homography;
* per photo: the features and ``--pairs`` pairs (about 7 per photo in
  ``benchmarks/near.py``), one in twenty a real pair.

The machine may be shared: compare figures of one run, or with ``uptime``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from beetsplug.similar.imaging.decode import open_upright  # noqa: E402
from beetsplug.similar.verify import check  # noqa: E402

SHARED = os.environ.get("SIMILAR_SHARED_PHOTOS") or os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "photos"))
SHIPPED = os.path.join(HERE, "..", "tests", "data", "photos")


def cpu_ms(work, items) -> tuple[float, list]:
    """Mean CPU milliseconds of ``work`` per item, and the results, with
    BLAS on one thread, as the plugin's workers run it (parallel.py)."""
    t0 = time.process_time()
    with threadpool_limits(1, user_api="blas"):
        out = [work(item) for item in items]
    return 1000 * (time.process_time() - t0) / max(len(items), 1), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=200, help="unrelated photos (default 200)")
    parser.add_argument("--pairs", type=float, default=7.0, help="pairs checked per photo")
    args = parser.parse_args()
    near, unrelated = os.path.join(SHARED, "near"), os.path.join(SHARED, "unrelated")
    groups: dict[str, list[str]] = {}
    if os.path.isdir(unrelated):
        paths = [os.path.join(unrelated, n) for n in sorted(os.listdir(unrelated))]
        paths = paths[::max(1, len(paths) // args.photos)][:args.photos]
        with open(os.path.join(near, "groups.json")) as f:
            for name, group in json.load(f).items():
                groups.setdefault(group, []).append(os.path.join(near, name))
    else:
        print(f"no photos in {unrelated}: the {len(os.listdir(SHIPPED)) - 1} shipped ones, "
              "no real groups")
        paths = [os.path.join(SHIPPED, n) for n in sorted(os.listdir(SHIPPED))
                 if n.endswith(".jpg")]
    real = [p for members in groups.values() for p in itertools.combinations(members, 2)]
    decoded = {p: np.asarray(open_upright(p, check.SIDE), dtype=np.uint8)
               for p in paths + sorted({p for pair in real for p in pair})}
    ms_features, made = cpu_ms(check.features, list(decoded.values()))
    feats = dict(zip(decoded, made))
    ms_bytes, blobs = cpu_ms(lambda f: f.to_bytes(), made)
    rng = random.Random(0)
    unrelated_pairs = [tuple(rng.sample(paths, 2)) for _ in range(5 * len(paths))]
    ms_unrelated, verdicts = cpu_ms(lambda p: check.check(feats[p[0]], feats[p[1]]),
                                    unrelated_pairs)
    ms_real, real_verdicts = cpu_ms(lambda p: check.check(feats[p[0]], feats[p[1]]), real)
    size = np.mean([len(b) for b in blobs])
    print(f"{len(decoded)} photos at {check.SIDE} px, one thread, CPU time")
    print(f"features: {ms_features:.1f} ms per photo, {np.mean([len(f) for f in made]):.0f} "
          f"keypoints, {size / 1024:.1f} KB per photo (to_bytes {ms_bytes:.2f} ms)")
    print(f"unrelated pairs: {ms_unrelated:.2f} ms per pair ({len(unrelated_pairs)} pairs, "
          f"{sum(v.matches >= check.LOOSE_INLIERS for v in verdicts)} reached the homography, "
          f"{sum(v.accepted for v in verdicts)} accepted)")
    if real:
        print(f"real near-duplicate pairs: {ms_real:.2f} ms per pair ({len(real)} pairs, "
              f"{sum(v.accepted for v in real_verdicts)} accepted)")
    pair = (19 * ms_unrelated + ms_real) / 20 if real else ms_unrelated
    print(f"per photo: {ms_features + args.pairs * pair:.1f} ms ({ms_features:.1f} of features, "
          f"{args.pairs:g} pairs at {pair:.2f} ms)")


if __name__ == "__main__":
    main()
