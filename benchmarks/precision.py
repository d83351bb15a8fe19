"""Near-duplicate precision as unrelated real photos join the library.

Real photos (default: ../shared/photos/unrelated, one per ImageNet
class; add a folder with --unrelated DIR). Some of them are made into
families of near-duplicates (exposure brackets -2/+2 EV, burst frames
with a small pan, one of them shaken, a crop to 60 %, a blurred 2x
upscale, a re-save at quality 55, a blur, a 2.2x brighter copy: see
``beetsplug/similar/verify/variants.py``); the others are the unrelated
background: 0, 250 and 450 (all the rest) of them. The real commands run
as a user runs them (similar-import, similar-calibrate, similar-featurize
once on the whole library; similar-dupes on a copy of it at each size),
and it prints pair precision, recall and wrong pairs per photo for:

* the network alone at the calibrated threshold (``verify: no``),
* the network plus the second check (the default, ``verify: yes``),
* PHash at 10 bits (``imagehash``), the hash tools' reference;

and the second check's time per photo and per pair.

    python benchmarks/precision.py                  # InceptionV3 from nsfwjs
    python benchmarks/precision.py --levels 0,250 --families 20

The photos are copied into a temporary folder, never into the package.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

from PIL import Image, ImageOps  # noqa: E402

from beetsplug.similar.verify.variants import KINDS, variant  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_UNRELATED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "photos",
                                                  "unrelated"))
PER_FAMILY = 4  # variants besides the original


def beet(beetsdir: str, *args: str, extra: str | None = None) -> tuple[str, str]:
    env = dict(os.environ, BEETSDIR=beetsdir, HOME=beetsdir, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "beets"] + (["-c", extra] if extra else []) + list(args)
    proc = subprocess.run(cmd, env=env, text=True, capture_output=True)
    if proc.returncode:
        raise SystemExit(f"beet {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout, proc.stderr


def images(folder: str) -> list[str]:
    return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                  if n.lower().endswith((".jpg", ".jpeg", ".png")))


def make_families(sources: list[str], out: str) -> dict[str, int]:
    """Write each source and PER_FAMILY variants of it into ``out``:
    {file name: family}."""
    family = {}
    for f, path in enumerate(sources):
        img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        name = f"fam{f:03d}_original.jpg"
        img.save(os.path.join(out, name), quality=92)
        family[name] = f
        for j in range(PER_FAMILY):
            kind = KINDS[(f * PER_FAMILY + j) % len(KINDS)]
            made, quality = variant(img, kind)
            name = f"fam{f:03d}_{kind}.jpg"
            made.save(os.path.join(out, name), quality=quality)
            family[name] = f
    return family


GROUP = re.compile(r"^group \d+: \w+, \d+ photos", re.M)
MEMBER = re.compile(r"^  [* =] @@(.*?)@@(.*?)@@(.*?)@@", re.M)


def found_groups(out: str) -> list[list[tuple[str, str, str]]]:
    """(name, distance, inliers) of each group's members, as printed."""
    return [MEMBER.findall(block) for block in GROUP.split(out)[1:]]


def pair_figures(groups: list[list[str]], family: dict[str, int], photos: int):
    found = {frozenset(p) for g in groups for p in itertools.combinations(sorted(g), 2)}
    truth = {frozenset(p) for f in set(family.values())
             for p in itertools.combinations(sorted(n for n in family if family[n] == f), 2)}
    right = len(found & truth)
    wrong = len(found) - right
    precision = right / len(found) if found else 1.0
    recall = right / len(truth) if truth else 1.0
    return len(found), wrong, precision, recall, wrong / photos


def phash_groups(folder: str, names: list[str], bits: int = 10) -> list[list[str]]:
    """PHash pairs at most ``bits`` apart, each as a group of two."""
    import imagehash

    hashes = np.array([imagehash.phash(ImageOps.exif_transpose(Image.open(
        os.path.join(folder, n))).convert("RGB")).hash.reshape(-1) for n in names])
    packed = np.packbits(hashes, axis=1)
    out = []
    for i in range(len(names)):
        d = np.unpackbits(packed[i] ^ packed[i + 1:], axis=1).sum(axis=1)
        out += [[names[i], names[i + 1 + j]] for j in np.flatnonzero(d <= bits)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unrelated", action="append", default=[],
                        help=f"a folder of real unrelated photos (default {DEFAULT_UNRELATED})")
    parser.add_argument("--families", type=int, default=50,
                        help="photos made into near-duplicate families")
    parser.add_argument("--levels", default="0,250,450",
                        help="unrelated photos in the library at each step")
    parser.add_argument("--model", default="inception_v3")
    parser.add_argument("--weights", default="nsfwjs", help="nsfwjs or a weights file")
    parser.add_argument("--work", help="keep the library here (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: reuse its featurized library if there is one")
    parser.add_argument("--candidates", help="similar.verify_candidates values to compare, "
                        "such as 1,3,10 (default: the configured one)")
    args = parser.parse_args()

    folders = args.unrelated or [DEFAULT_UNRELATED]
    pool = [p for folder in folders for p in images(folder)]
    random.Random(args.seed).shuffle(pool)
    sources, background = pool[:args.families], pool[args.families:]
    levels = [int(v) for v in args.levels.split(",")]
    if max(levels) > len(background):
        raise SystemExit(f"only {len(background)} unrelated photos besides the families; "
                         "add a folder with --unrelated DIR or lower --levels")
    weights = args.weights
    if weights == "nsfwjs":
        import nsfwjs_weights

        weights = nsfwjs_weights.cached(args.model)

    work = args.work or tempfile.mkdtemp(prefix="similar-precision-")
    photos_dir = os.path.join(work, "photos")
    os.makedirs(photos_dir, exist_ok=True)
    family = make_families(sources, photos_dir)
    background = background[:max(levels)]
    for i, path in enumerate(background):
        shutil.copy(path, os.path.join(photos_dir, f"u{i:04d}_{os.path.basename(path)}"))
    full = os.path.join(work, "full")
    config = ("plugins: similar\ncreate_backup_before_migrations: no\n"
              f"similar: {{model: {args.model}, weights: '{weights}', threads: 2}}\n")
    write_config(full, config)
    network_only = os.path.join(work, "network_only.yaml")
    with open(network_only, "w") as f:
        f.write("similar: {verify: no}\n")
    fmt = "@@$origname@@$distance@@$inliers@@"

    print(f"{len(sources)} families of {PER_FAMILY + 1} photos "
          f"({len(family)} photos); model {args.model}, weights {os.path.basename(weights)}")
    # One library with every photo, calibrated and featurized once, as a
    # user does; each size is a copy of it without the unrelated photos
    # beyond that size (the calibration kept: it is one command).
    if not (args.reuse and os.path.exists(os.path.join(full, "library.db"))):
        t0 = time.perf_counter()
        beet(full, "similar-import", photos_dir)
        beet(full, "similar-calibrate")
        print(f"import and calibration of {len(family) + len(background)} photos: "
              f"{time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        beet(full, "similar-featurize")
        print(f"featurized in {time.perf_counter() - t0:.0f} s")
    checked = []
    for value in args.candidates.split(",") if args.candidates else []:
        overlay = os.path.join(work, f"candidates_{value}.yaml")
        with open(overlay, "w") as f:
            f.write(f"similar: {{verify_candidates: {value}}}\n")
        checked.append((f"+ check, {value} cand./photo", overlay))
    checked = checked or [("network + second check", None)]
    print(f"{'unrelated':>9} {'photos':>6} {'rule':<28} {'pairs':>6} {'wrong':>6} "
          f"{'precision':>9} {'recall':>6} {'wrong/photo':>11}")
    for level in levels:
        beetsdir = os.path.join(work, f"at{level}")
        write_config(beetsdir, config)
        shutil.copy(os.path.join(full, "library.db"), os.path.join(beetsdir, "library.db"))
        keep_only(os.path.join(beetsdir, "library.db"), level)
        names = sorted(family) + [f"u{i:04d}_{os.path.basename(p)}"
                                  for i, p in enumerate(background[:level])]
        rows = []
        out, _ = beet(beetsdir, "similar-dupes", "-f", fmt, extra=network_only)
        rows.append(("network alone", found_groups(out), out.strip().splitlines()[-1]))
        notes = []
        for label, overlay in checked:
            t0 = time.perf_counter()
            out, err = beet(beetsdir, "-v", "similar-dupes", "-f", fmt, extra=overlay)
            seconds = time.perf_counter() - t0
            rows.append((label, found_groups(out), out.strip().splitlines()[-1]))
            timing = re.search(r"second check: .*", err)
            inliers = [(family.get(m[0]) is not None
                        and family.get(m[0]) == family.get(g[0][0]), int(m[2]))
                       for g in rows[-1][1] for m in g[1:] if m[2]]
            notes += [f"{label}: {_thresholds(rows[-1][2])}",
                      f"  {timing.group(0) if timing else 'second check: nothing checked'} "
                      f"(similar-dupes took {seconds:.1f} s)",
                      "  inliers against the kept photo: right members "
                      f"{_spread([i for ok, i in inliers if ok])}; wrong members "
                      f"{_spread([i for ok, i in inliers if not ok])}"]
        rows.append(("PHash <= 10 bits", [[(a, "", ""), (b, "", "")] for a, b in
                                          phash_groups(photos_dir, names)], ""))
        for rule, groups, summary in rows:
            n, wrong, precision, recall, per_photo = pair_figures(
                [[m[0] for m in g] for g in groups], family, len(names))
            print(f"{level:>9} {len(names):>6} {rule:<28} {n:>6} {wrong:>6} "
                  f"{precision:>9.3f} {recall:>6.3f} {per_photo:>11.4f}")
        for note in [f"network alone: {_thresholds(rows[0][2])}"] + notes:
            print(f"{'':>16} {note}")
        sys.stdout.flush()
    if not args.work:
        shutil.rmtree(work)


def write_config(beetsdir: str, similar: str) -> None:
    os.makedirs(beetsdir, exist_ok=True)
    with open(os.path.join(beetsdir, "config.yaml"), "w") as f:
        f.write(f"directory: {beetsdir}/music\nlibrary: {beetsdir}/library.db\n{similar}")


def keep_only(db: str, level: int) -> None:
    """Forget the unrelated photos numbered ``level`` and above (and their
    vectors and features): the library as it was before they came."""
    import sqlite3

    con = sqlite3.connect(db)
    gone = [r[0] for r in con.execute("SELECT id, origname FROM similar_photos")
            if os.fsdecode(r[1]).startswith("u") and int(os.fsdecode(r[1])[1:5]) >= level]
    for table, column in (("similar_photos", "id"), ("similar_features", "photo_id"),
                          ("similar_photo_attributes", "entity_id")):
        con.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in gone])
    con.commit()
    con.close()


def _thresholds(summary: str) -> str:
    found = re.search(r"near-duplicates: .*", summary)
    return found.group(0) if found else summary


def _spread(values: list[int]) -> str:
    if not values:
        return "none"
    q = np.percentile(values, [0, 50, 100]).astype(int)
    return f"{len(values)}: min {q[0]}, median {q[1]}, max {q[2]}"


if __name__ == "__main__":
    main()
