"""How long ``similar-calibrate`` takes on real photos, and what it chooses.

    python benchmarks/calibration_time.py                 # InceptionV3 from nsfwjs
    python benchmarks/calibration_time.py --unrelated 250 --runs 2
    python benchmarks/calibration_time.py --no-near       # the unrelated photos alone

The real near-duplicates of ``../shared/photos/near`` and the first
``--unrelated`` photos of ``../shared/photos/unrelated`` are imported
where they are (nothing is copied) into a new library, then
``similar-calibrate`` runs ``--runs`` times, its stderr a pipe (as in a
log). Printed: each run's seconds, the progress lines it wrote, and its
table with the strict distance for ``--for`` photos (the same library
size for every run, so that calibrations of different libraries compare).
The machine may be shared: compare the times of one run with each other.
Set ``SIMILAR_SHARED_PHOTOS`` where the photos are not beside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

SHARED = os.environ.get("SIMILAR_SHARED_PHOTOS") or os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "photos"))


def beet(beetsdir: str, *args: str) -> tuple[str, str, float]:
    env = dict(os.environ, BEETSDIR=beetsdir, HOME=beetsdir, TF_CPP_MIN_LOG_LEVEL="3")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "beets", *args], env=env, text=True,
                          capture_output=True)
    if proc.returncode:
        raise SystemExit(f"beet {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout, proc.stderr, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="inception_v3")
    parser.add_argument("--weights", default="nsfwjs", help="nsfwjs or a weights file")
    parser.add_argument("--unrelated", type=int, default=500,
                        help="unrelated photos beside the near-duplicates (at most 500)")
    parser.add_argument("--no-near", action="store_true", help="leave the near-duplicates out")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--for", dest="size", type=int, default=1279,
                        help="library size of the strict distance printed (default 1279)")
    args = parser.parse_args()
    weights = args.weights
    if weights == "nsfwjs":
        import nsfwjs_weights

        weights = nsfwjs_weights.cached(args.model)
    near, unrelated = os.path.join(SHARED, "near"), os.path.join(SHARED, "unrelated")
    if not os.path.isdir(near) or not os.path.isdir(unrelated):
        raise SystemExit(f"no photos in {near} and {unrelated}; set SIMILAR_SHARED_PHOTOS")
    work = tempfile.mkdtemp(prefix="similar-calibration-time-")
    listed = os.path.join(work, "unrelated")  # links, so that --unrelated can take fewer
    os.makedirs(listed)
    for name in sorted(os.listdir(unrelated))[:args.unrelated]:
        os.symlink(os.path.join(unrelated, name), os.path.join(listed, name))
    with open(os.path.join(work, "config.yaml"), "w") as f:
        f.write(f"directory: {work}/music\nlibrary: {work}/library.db\nplugins: similar\n"
                f"create_backup_before_migrations: no\n"
                f"similar: {{model: {args.model}, weights: '{weights}'}}\n")
    beet(work, "similar-import", *([] if args.no_near else [near]), listed)
    with sqlite3.connect(os.path.join(work, "library.db")) as con:
        photos = con.execute("SELECT COUNT(*) FROM similar_photos").fetchone()[0]
    print(f"{photos} photos; model {args.model}, weights {os.path.basename(weights)}",
          flush=True)
    for run in range(1, args.runs + 1):
        with sqlite3.connect(os.path.join(work, "library.db")) as con:
            con.execute("DELETE FROM similar_calibrations")  # measured anew each run
        out, err, seconds = beet(work, "similar-calibrate")
        load = os.getloadavg()[0]
        print(f"\nrun {run}: similar-calibrate {seconds:.1f} s (load average {load:.1f})")
        for line in err.splitlines():
            print(f"  stderr: {line}")
        for line in out.splitlines():
            print(f"  {line}")
        print(f"  for {args.size} photos: {strict(work, args.size)}", flush=True)
    shutil.rmtree(work)


def strict(work: str, size: int, false_matches: float = 0.01) -> str:
    """The stored calibration's choice and strict distance for ``size`` photos."""
    from beetsplug.similar.calibration.measure import LayerFigures

    with sqlite3.connect(os.path.join(work, "library.db")) as con:
        sample, chosen, figures = con.execute(
            "SELECT sample, chosen, figures FROM similar_calibrations "
            "ORDER BY id DESC LIMIT 1").fetchone()
    layers = {f.depth: f for f in map(LayerFigures.of, json.loads(figures)["layers"])}
    best = layers[chosen]
    t = best.threshold(false_matches, size)
    return (f"{sample} photos measured, depth {chosen} ({best.layer}), strict distance "
            f"{t:.4f}, recall {best.recall(t):.2f}, copy distance {best.copy_distance:.4f}, "
            f"AUC " + " ".join(f"{f.layer} {f.auc:.4f}" for f in layers.values()))


if __name__ == "__main__":
    main()
