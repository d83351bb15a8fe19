"""A library's first run, step by step, with the second check on and off.

Real photos (default: ../shared/photos/near and ../shared/photos/unrelated,
copied into a temporary folder, never into the package) go through what a
new user runs: ``similar-import``, ``similar-calibrate``,
``similar-featurize``, then ``similar-dupes`` twice, once in a library
with the defaults (the check on) and once with ``verify: no``. It prints
each step's time, the check's share of the total, the bytes per photo that
``library.db`` and ``similar-cache/`` grow by, and a projection of the
steps to 100,000 and 1,000,000 photos on this machine.

    python benchmarks/first_run.py                    # InceptionV3 from nsfwjs
    python benchmarks/first_run.py --model mobilenet_v2 --photos DIR --photos DIR2

The done-when of the first-run work: import + featurize + first
``similar-dupes`` with the check at most 1.25 x the same without it, and
``library.db`` at most 8 KB more per photo.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SIMILAR_SHARED_PHOTOS") or os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "photos"))
STEPS = ("import", "calibrate", "featurize", "dupes", "dupes again")
TOTAL = ("import", "featurize", "dupes")  # the steps the 1.25 x limit is about


def beet(beetsdir: str, *args: str) -> tuple[float, str, str]:
    env = dict(os.environ, BEETSDIR=beetsdir, HOME=beetsdir, TF_CPP_MIN_LOG_LEVEL="3")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "beets", *args], env=env, text=True,
                          capture_output=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"beet {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return seconds, proc.stdout, proc.stderr


def folder_bytes(path: str) -> int:
    if not os.path.isdir(path):
        return 0
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path)
               for f in files)


def run_library(work: str, photos: str, config: str, label: str) -> dict:
    """Every step in a new library; {step: seconds} and the sizes."""
    beetsdir = os.path.join(work, label)
    os.makedirs(beetsdir)
    with open(os.path.join(beetsdir, "config.yaml"), "w") as f:
        f.write(f"directory: {beetsdir}/music\nlibrary: {beetsdir}/library.db\n"
                f"plugins: similar\ncreate_backup_before_migrations: no\n{config}")
    db = os.path.join(beetsdir, "library.db")
    cache = os.path.join(beetsdir, "similar-cache")
    out: dict = {"label": label}
    out["import"], text, _ = beet(beetsdir, "similar-import", photos)
    out["photos"] = int(re.search(r"imported (\d+) new", text).group(1))
    out["db after import"] = os.path.getsize(db)
    out["calibrate"], _, _ = beet(beetsdir, "similar-calibrate")
    out["featurize"], _, _ = beet(beetsdir, "similar-featurize")
    out["dupes"], text, err = beet(beetsdir, "-v", "similar-dupes")
    out["summary"] = text.strip().splitlines()[-1] if text.strip() else ""
    check = re.search(r"second check: .*", err)
    out["check"] = check.group(0) if check else ""
    out["dupes again"], _, _ = beet(beetsdir, "similar-dupes")
    out["db"] = os.path.getsize(db)
    out["cache"] = folder_bytes(cache)
    print(f"{label}: " + ", ".join(f"{s} {out[s]:.1f} s" for s in STEPS), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", action="append", default=[],
                        help=f"a folder of real photos (default: {SHARED}/near and "
                             f"{SHARED}/unrelated)")
    parser.add_argument("--model", default="inception_v3")
    parser.add_argument("--weights", default="nsfwjs", help="nsfwjs or a weights file")
    parser.add_argument("--work", help="keep the libraries here (default: a temporary folder)")
    args = parser.parse_args()

    folders = args.photos or [os.path.join(SHARED, "near"), os.path.join(SHARED, "unrelated")]
    weights = args.weights
    if weights == "nsfwjs":
        import nsfwjs_weights

        weights = nsfwjs_weights.cached(args.model)
    work = args.work or tempfile.mkdtemp(prefix="similar-first-run-")
    photos = os.path.join(work, "photos")
    for n, folder in enumerate(folders):  # read once: the page cache is warm for both
        shutil.copytree(folder, os.path.join(photos, f"{n}-{os.path.basename(folder)}"),
                        ignore=shutil.ignore_patterns("*.json", "*.md"))
    similar = f"similar: {{model: {args.model}, weights: '{weights}'"
    print(f"model {args.model}, weights {os.path.basename(weights)}; photos from "
          f"{', '.join(folders)}", flush=True)
    off = run_library(work, photos, similar + ", verify: no}\n", "verify-no")
    on = run_library(work, photos, similar + "}\n", "defaults")
    n = on["photos"]

    print(f"\n{n} photos  {'step':<12} {'verify: no':>11} {'defaults':>9} {'ratio':>6}")
    for step in STEPS:
        print(f"{'':>{len(str(n)) + 8}}{step:<12} {off[step]:>10.1f}s {on[step]:>8.1f}s "
              f"{on[step] / max(off[step], 1e-9):>6.2f}")
    total_off, total_on = sum(off[s] for s in TOTAL), sum(on[s] for s in TOTAL)
    print(f"import + featurize + first dupes: {total_off:.1f} s without the check, "
          f"{total_on:.1f} s with it: {total_on / total_off:.2f} x (at most 1.25); the "
          f"check's share of the total {(total_on - total_off) / total_on:.0%}")
    print(f"calibration: {on['calibrate']:.1f} s (at most 60)")
    for lib in (off, on):
        grown = (lib["db"] - lib["db after import"]) / n
        print(f"{lib['label']}: library.db {lib['db'] / 1e6:.1f} MB, {grown / 1e3:.1f} KB "
              f"more per photo after import (at most 8); similar-cache/ "
              f"{lib['cache'] / 1e3 / n:.1f} KB per photo; {lib['summary']}")
    if on["check"]:
        print(f"defaults, with -v: {on['check']}")
    # A projection: the per-photo steps scale with the photos; the pairs
    # checked grow with the candidates, a fixed number per photo.
    for size in (100_000, 1_000_000):
        scale = size / n
        hours = {s: on[s] * scale / 3600 for s in TOTAL}
        print(f"projected to {size:,} photos: import {hours['import']:.1f} h, featurize "
              f"{hours['featurize']:.1f} h, first dupes {hours['dupes']:.1f} h (from "
              f"{n} photos; the big-library search itself is in docs/benchmarks.md); "
              f"library.db +{(on['db'] - on['db after import']) * scale / 1e9:.1f} GB, "
              f"similar-cache/ {on['cache'] * scale / 1e9:.1f} GB")
    if not args.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
