"""Real near-duplicate groups among real unrelated photos, as a user meets them.

    python benchmarks/near.py                       # InceptionV3 from nsfwjs
    python benchmarks/near.py --model mobilenet_v2 --unrelated 250

The real groups of ``../shared/photos/near`` (``groups.json`` maps each
``<source>/<file>`` to its ``<source>/<group>``: exposure brackets, pans,
focus stacks, frames of a moving camera, viewpoint changes; SOURCES.md)
and the real photos of ``../shared/photos/unrelated`` as the background
are imported where they are (nothing is copied), calibrated and
featurized once, as a user does, then ``similar-dupes`` runs on copies of
that library with ``verify: no`` and with the defaults (``verify: yes``),
the check's features not computed yet. It prints:

* pair precision and recall, wrong pairs per photo and the largest group;
* recall per kind of group (bracket, pan, focus, frames, viewpoint) and
  the groups that split or mix;
* the kinds found (a ``copy`` here is always wrong: no group is one capture);
* the cost of the check: its features and pairs (``beet -v``), and the
  first run (import, featurize, similar-dupes) with the check against
  without it;
* with ``--loosen``, the same grouping with a check loosened until it
  confirms wrong pairs, with and without the guard against a chain
  through one bad link (``grouping/confirmed.py``), in this process.

The machine may be shared: compare the times of one run with each other.
Set ``SIMILAR_SHARED_PHOTOS`` where the photos are not beside the repository.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

SHARED = os.environ.get("SIMILAR_SHARED_PHOTOS") or os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "photos"))
KINDS = (("hdr", "bracket"), ("tonemapping", "bracket"), ("pano", "pan"),
         ("stitching", "pan"), ("focus", "focus"), ("alike", "frames"),
         ("hpatches", "viewpoint"))
FORMAT = "@@$path@@$inliers@@"


def kind_of(group: str) -> str:
    """The kind of a real group, by its source (see SOURCES.md)."""
    source = group.split("/")[0]
    return next((kind for word, kind in KINDS if word in source), "other")


def beet(beetsdir: str, *args: str, extra: str | None = None) -> tuple[str, str, float]:
    """Run ``beet``; (stdout, stderr, seconds)."""
    env = dict(os.environ, BEETSDIR=beetsdir, HOME=beetsdir, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "beets"] + (["-c", extra] if extra else []) + list(args)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, text=True, capture_output=True)
    if proc.returncode:
        raise SystemExit(f"beet {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout, proc.stderr, time.perf_counter() - t0


def write_config(beetsdir: str, similar: str) -> None:
    os.makedirs(beetsdir, exist_ok=True)
    with open(os.path.join(beetsdir, "config.yaml"), "w") as f:
        f.write(f"directory: {beetsdir}/music\nlibrary: {beetsdir}/library.db\n"
                f"plugins: similar\ncreate_backup_before_migrations: no\n{similar}")


def printed_groups(out: str) -> list[tuple[str, list[str]]]:
    """(kind, paths) of each group similar-dupes printed."""
    blocks = re.split(r"^group \d+: ", out, flags=re.M)[1:]
    return [(block.split(",")[0], re.findall(r"@@(.*?)@@", block)) for block in blocks]


class Truth:
    def __init__(self, near: str) -> None:
        with open(os.path.join(near, "groups.json")) as f:
            by_file = json.load(f)
        self.group = {os.path.join(near, name): group for name, group in by_file.items()}
        members = collections.defaultdict(list)
        for path, group in self.group.items():
            members[group].append(path)
        self.members = dict(members)
        self.pairs = {frozenset(p) for paths in members.values()
                      for p in itertools.combinations(paths, 2)}

    def report(self, groups: list[tuple[str, list[str]]], photos: int) -> list[str]:
        found = {frozenset(p) for _, paths in groups for p in itertools.combinations(paths, 2)}
        right = found & self.pairs
        wrong = len(found) - len(right)
        lines = [f"pairs {len(found)}, right {len(right)} of {len(self.pairs)}: recall "
                 f"{len(right) / len(self.pairs):.3f}, precision "
                 f"{len(right) / max(len(found), 1):.3f}, wrong pairs {wrong} "
                 f"({wrong / photos:.4f} per photo), largest group "
                 f"{max((len(p) for _, p in groups), default=0)}"]
        by_kind = collections.defaultdict(lambda: [0, 0])
        for pair in self.pairs:
            kind = kind_of(self.group[next(iter(pair))])
            by_kind[kind][0] += pair in found
            by_kind[kind][1] += 1
        lines.append("recall by kind: " + ", ".join(
            f"{kind} {got}/{total} ({got / total:.2f})"
            for kind, (got, total) in sorted(by_kind.items())))
        kinds = collections.Counter(kind for kind, _ in groups)
        copies = [paths for kind, paths in groups if kind == "copy"]
        lines.append("kinds found: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                     + f"; copy groups holding two captures: {len(copies)} (none is one capture)")
        where = {path: n for n, (_, paths) in enumerate(groups) for path in paths}
        for group, paths in sorted(self.members.items()):
            parts = collections.Counter(where.get(p, -1) for p in paths)
            if len(parts) > 1:
                lines.append(f"  split: {group} ({kind_of(group)}): "
                             + ", ".join(f"{n} alone" if at < 0 else f"{n} together"
                                         for at, n in parts.items()))
        for kind, paths in groups:
            labels = {self.group.get(p) for p in paths}
            if len(labels) > 1:
                lines.append(f"  mixed ({kind}): " + ", ".join(
                    os.path.relpath(p, SHARED) for p in paths))
        return lines


def loosened(beetsdir: str, candidate: float, truth: Truth, photos: int) -> list[str]:
    """Group again in this process with a check loosened until it confirms
    wrong pairs, with and without the guard (its verdicts' measures are
    the ones the run above kept)."""
    os.environ["BEETSDIR"] = beetsdir
    from beets import config

    config.read(user=True, defaults=True)
    from beets.library import Library

    from beetsplug.similar.dupes import job
    from beetsplug.similar.grouping import confirmed
    from beetsplug.similar.grouping.rule import NearCheck
    from beetsplug.similar.library.selection import select
    from beetsplug.similar.verify import check
    from beetsplug.similar.verify.store import Verifier

    lib = Library(os.path.join(beetsdir, "library.db"))
    with sqlite3.connect(os.path.join(beetsdir, "library.db")) as con:
        key = con.execute("SELECT model FROM similar_features LIMIT 1").fetchone()[0]
        paths = {i: os.fsdecode(p) for i, p in con.execute("SELECT id, path FROM similar_photos")}
    lines = []
    saved = (check.MIN_INLIERS, check.MIN_SHARE, check.MIN_SPREAD, check.MIN_LIKENESS,
             confirmed.WEAK_CUT)
    for loose in ((12, 0.15, 0.0, 0.45), (10, 0.1, 0.0, 0.4)):
        for guard in (True, False):
            (check.MIN_INLIERS, check.MIN_SHARE, check.MIN_SPREAD,
             check.MIN_LIKENESS) = loose
            confirmed.WEAK_CUT = saved[4] if guard else 0.0
            sel = select(lib)
            groups, _ = job.duplicate_groups(lib, sel, key, 1e-9,
                                             check=NearCheck(candidate, Verifier(lib)))
            shown = [(g.kind, [paths[int(sel.ids[r])] for r in g.rows]) for g in groups]
            lines.append(f"check at {loose[0]} inliers, share {loose[1]}, no spread, "
                         f"likeness {loose[3]}, guard {'on' if guard else 'off'}: "
                         + truth.report(shown, photos)[0])
    (check.MIN_INLIERS, check.MIN_SHARE, check.MIN_SPREAD, check.MIN_LIKENESS,
     confirmed.WEAK_CUT) = saved
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="inception_v3")
    parser.add_argument("--weights", default="nsfwjs", help="nsfwjs or a weights file")
    parser.add_argument("--unrelated", type=int, default=500,
                        help="unrelated photos around the groups (at most 500)")
    parser.add_argument("--work", help="keep the libraries here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: reuse its featurized library")
    parser.add_argument("--loosen", action="store_true",
                        help="also group with a loosened check, with and without the guard")
    args = parser.parse_args()
    near, unrelated = os.path.join(SHARED, "near"), os.path.join(SHARED, "unrelated")
    if not os.path.isdir(near) or not os.path.isdir(unrelated):
        raise SystemExit(f"no photos in {near} and {unrelated}; set SIMILAR_SHARED_PHOTOS")
    weights = args.weights
    if weights == "nsfwjs":
        import nsfwjs_weights

        weights = nsfwjs_weights.cached(args.model)
    truth = Truth(near)
    background = sorted(os.listdir(unrelated))[:args.unrelated]
    work = args.work or tempfile.mkdtemp(prefix="similar-near-")
    config = (f"similar: {{model: {args.model}, weights: '{weights}', threads: 2}}\n")
    full = os.path.join(work, "full")
    photos = len(truth.group) + len(background)
    print(f"{len(truth.group)} photos in {len(truth.members)} real groups "
          f"({len(truth.pairs)} pairs), {len(background)} unrelated; model {args.model}, "
          f"weights {os.path.basename(weights)}")
    first = 0.0
    if not (args.reuse and os.path.exists(os.path.join(full, "library.db"))):
        write_config(full, config)
        listed = os.path.join(work, "unrelated")
        os.makedirs(listed, exist_ok=True)  # links, so that --unrelated can take fewer
        for name in background:
            if not os.path.lexists(os.path.join(listed, name)):
                os.symlink(os.path.join(unrelated, name), os.path.join(listed, name))
        _, _, imported = beet(full, "similar-import", near, listed)
        _, _, featurized = beet(full, "similar-featurize")
        first = imported + featurized
        print(f"import {imported:.0f} s, calibrate and featurize {featurized:.0f} s")
    runs, seconds_of = {}, {}
    for name, extra in (("verify: no", "similar: {verify: no}\n"), ("defaults", None)):
        beetsdir = os.path.join(work, name.replace(": ", "_"))
        write_config(beetsdir, config)
        shutil.copy(os.path.join(full, "library.db"), os.path.join(beetsdir, "library.db"))
        if extra is None:  # the check's features, made by featurize (verify/cache.py)
            shutil.copytree(os.path.join(full, "similar-cache"),
                            os.path.join(beetsdir, "similar-cache"), dirs_exist_ok=True)
        with sqlite3.connect(os.path.join(beetsdir, "library.db")) as con:  # a first run
            con.execute("DROP TABLE IF EXISTS similar_pair_verdicts")
        overlay = None
        if extra:
            overlay = os.path.join(work, "overlay.yaml")
            with open(overlay, "w") as f:
                f.write(extra)
        out, err, seconds = beet(beetsdir, "-v", "similar-dupes", "-f", FORMAT, extra=overlay)
        seconds_of[name] = seconds
        summary = out.strip().splitlines()[-1]
        cost = re.search(r"second check: .*", err)
        print(f"\n{name}: similar-dupes {seconds:.1f} s"
              + (f"; first run (import, featurize, similar-dupes) {first + seconds:.0f} s"
                 if first else ""))
        print(f"  {summary}")
        if cost:
            print(f"  {cost.group(0)}")
        found = re.search(r"pairs under ([0-9.]+)", summary)
        runs[name] = (beetsdir, float(found.group(1)) if found else 0.0)
        for line in truth.report(printed_groups(out), photos):
            print(f"  {line}")
        sys.stdout.flush()
    if first:
        ratio = (first + seconds_of["defaults"]) / (first + seconds_of["verify: no"])
        print(f"\nfirst run with the check: {ratio:.2f} x the same with verify: no")
    if args.loosen:
        print("\nthe guard against a chain through one bad link, with a loosened check:")
        for line in loosened(*runs["defaults"], truth, photos):
            print(f"  {line}")
    if not args.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
