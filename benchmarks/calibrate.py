"""Calibration against known near-duplicate groups, as a user runs it.

Generates scenes with near-duplicates (resized, re-encoded, cropped,
brightened, rotated; same camera and time as their original), imports
them into a fresh library and runs the real commands with the defaults
(`depth: auto`, `threshold: auto`): similar-calibrate, similar-featurize,
similar-dupes, similar-order. Then it prints:

* the calibration table (which layer, which threshold);
* the threshold with the best pair F1 on the true groups, at the chosen
  layer, for comparison;
* pair and group precision/recall of `similar-dupes` with the defaults;
* the largest distance inside any group (never above the threshold);
* whether every group is contiguous in `similar-order`'s chain.

    python benchmarks/calibrate.py --model mobilenet_v3_small --weights none
    python benchmarks/calibrate.py --model inception_v3 --weights nsfwjs

`--weights nsfwjs` converts the really pretrained InceptionV3/MobileNetV2
of the npm package nsfwjs (tools/nsfwjs_weights.py; needs npm and node).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

from beetsplug.similar import samples  # noqa: E402


def beet(beetsdir: str, *args: str) -> str:
    env = dict(os.environ, BEETSDIR=beetsdir, HOME=beetsdir)
    proc = subprocess.run([sys.executable, "-m", "beets", *args], env=env, text=True,
                          capture_output=True)
    if proc.returncode:
        raise SystemExit(f"beet {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def pairs_of(groups) -> set[frozenset]:
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(g), 2)}


def precision_recall(found: set, truth: set) -> tuple[float, float]:
    hit = len(found & truth)
    return (hit / len(found) if found else 1.0), (hit / len(truth) if truth else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilenet_v3_small")
    parser.add_argument("--weights", default="none", help="none, imagenet, nsfwjs or a file")
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--per-scene", type=int, default=3)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args()

    weights = args.weights
    if weights == "nsfwjs":
        import nsfwjs_weights

        weights = nsfwjs_weights.cached(args.model)
    work = args.keep or tempfile.mkdtemp(prefix="similar-calibrate-")
    pics = os.path.join(work, "pics")
    w, h = map(int, args.size.split("x"))
    t0 = time.perf_counter()
    groups = samples.make_groups(pics, groups=args.scenes, per_group=args.per_scene, size=(w, h),
                                 start_seed=1000)
    truth_group = {os.path.basename(p): g for g, paths in groups.items() for p in paths}
    print(f"made {len(truth_group)} photos in {args.scenes} groups in "
          f"{time.perf_counter() - t0:.1f}s ({work})")
    with open(os.path.join(work, "config.yaml"), "w") as f:
        f.write(f"directory: {work}/music\nlibrary: {work}/library.db\nplugins: similar\n"
                f"create_backup_before_migrations: no\n"
                f"similar: {{model: {args.model}, weights: '{weights}'}}\n")

    beet(work, "similar-import", pics)
    t0 = time.perf_counter()
    table = beet(work, "similar-calibrate")
    print(f"similar-calibrate ({time.perf_counter() - t0:.1f}s):\n{table}", end="")
    beet(work, "similar-featurize")
    listing = beet(work, "similar-dupes", "-f", "$origname")
    threshold = float(re.search(r"cosine distance under ([0-9.e-]+)", listing).group(1))
    found = [[line[4:] for line in block.splitlines()]
             for block in re.findall(r"group \d+: \w+, \d+ photos[^\n]*\n((?:  .*\n)+)", listing)]
    truth = list(groups.values())
    truth = [[os.path.basename(p) for p in g] for g in truth]

    p_pairs, r_pairs = precision_recall(pairs_of(found), pairs_of(truth))
    pure = sum(len({truth_group[n] for n in g}) == 1 for g in found)
    whole = {frozenset(g) for g in found}
    complete = sum(frozenset(g) in whole for g in truth)
    print(f"similar-dupes, defaults: {len(found)} groups; pair precision {p_pairs:.2f}, "
          f"pair recall {r_pairs:.2f}; {pure}/{len(found)} groups hold one scene only, "
          f"{complete}/{len(truth)} scenes found whole")

    # The vectors of the chosen layer, for the largest in-group distance
    # and the best threshold the true groups allow.
    os.environ["BEETSDIR"] = work
    from beets import config
    from beets.library import Library

    config.read(user=True, defaults=True)
    from beetsplug.similar.library import vectors
    from beetsplug.similar.library.photos import photos

    lib = Library(os.path.join(work, "library.db"))
    everything = list(photos(lib))
    key = next(iter(vectors.models(lib)))
    ids, matrix = vectors.load(lib, key, [p.id for p in everything])
    name_of = {p.id: p.origname for p in everything}
    names = [name_of[i] for i in ids]
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    dist = 1.0 - unit @ unit.T
    row = {n: i for i, n in enumerate(names)}
    widest = max((dist[row[a], row[b]] for g in found for a, b in itertools.combinations(g, 2)),
                 default=0.0)
    print(f"largest distance inside a group: {widest:.4g} (threshold {threshold:.4g})")
    iu = np.triu_indices(len(names), k=1)
    same = np.array([truth_group[names[i]] == truth_group[names[j]] for i, j in zip(*iu)])
    d = dist[iu]
    best_f1, best_t = 0.0, 0.0
    for t in np.quantile(d, np.linspace(0.0005, 0.2, 400)):
        hit = (d < t)
        tp = (hit & same).sum()
        f1 = 2 * tp / (hit.sum() + same.sum()) if tp else 0.0
        if f1 > best_f1:
            best_f1, best_t = f1, t
    hit = d < threshold
    tp = (hit & same).sum()
    f1_cal = 2 * tp / (hit.sum() + same.sum()) if tp else 0.0
    print(f"{key}: calibrated threshold {threshold:.4g} (pair F1 {f1_cal:.2f}); best on the "
          f"true groups {best_t:.4g} (pair F1 {best_f1:.2f}); ratio {threshold / best_t:.2f}")

    beet(work, "similar-order", "--no-rename")
    rank = {p.origname: p.rank for p in photos(lib)}
    contiguous = sum(max(rank[n] for n in g) - min(rank[n] for n in g) == len(g) - 1
                     for g in found)
    adjacent = np.mean([any(abs(rank[n] - rank[m]) == 1 for m in g if m != n)
                        for g in truth for n in g])
    print(f"similar-order: {contiguous}/{len(found)} groups contiguous; {adjacent:.2f} of the "
          "photos have a true group-mate next to them")


if __name__ == "__main__":
    main()
