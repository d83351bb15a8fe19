"""Run the whole job on generated example photos in a temporary library.

    python -m beetsplug.similar.demo [--model mobilenet_v3_small] [--weights auto] [--keep DIR]

Generates 8 scenes with near-duplicates (resized, re-encoded, cropped,
brightened, rotated copies, in shuffled order), an exact copy and four bad
files (truncated, empty, text, garbage PNG), then runs the real ``beet``
commands against a library of its own: import (calibrating and featurizing
on import), list, list exact copies, the calibration, the duplicate groups,
order with a dry run, order, list by rank, undo. Import leaves the photos
where they are; nothing outside the temporary folder is touched.

``--weights auto`` uses the ImageNet weights (downloaded once by Keras)
and, where they cannot be had (an offline machine), says so and goes on
with untrained weights: every step still runs for real, but the order
then reflects colours and shapes more than content.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

from . import samples


def _beet(beetsdir: str, *args: str) -> None:
    print(f"\n$ beet {' '.join(args)}", flush=True)
    env = dict(os.environ, BEETSDIR=beetsdir, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-m", "beets", *args], env=env, check=True)


def _weights_available(model: str) -> bool:
    from .features.extractor import FeatureConfigError, FeatureExtractor

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras' "Downloading data from"
            FeatureExtractor(model, 1, "imagenet")
        return True
    except FeatureConfigError as exc:
        print(f"note: {exc}", file=sys.stderr)
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilenet_v3_small",
                        help="the network (default mobilenet_v3_small; xception is the "
                             "plugin's default, slower)")
    parser.add_argument("--weights", default="auto",
                        help="auto (ImageNet, else untrained), imagenet, none or a weights file")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args(argv)

    weights = args.weights
    if weights == "auto":
        weights = "imagenet" if _weights_available(args.model) else "none"
        if weights == "none":
            print("note: continuing with untrained weights (weights: none)", file=sys.stderr)

    work = args.keep or tempfile.mkdtemp(prefix="beets-similar-demo-")
    os.makedirs(work, exist_ok=True)
    photos = os.path.join(work, "photos")
    beetsdir = os.path.join(work, "beets")
    os.makedirs(beetsdir, exist_ok=True)
    try:
        groups = samples.make_groups(photos, groups=8, per_group=3, size=(640, 480))
        shutil.copyfile(groups[0][0], os.path.join(photos, "copy_of_first.jpg"))
        samples.write_bad_files(os.path.join(photos, "broken"), groups[0][0])
        with open(os.path.join(beetsdir, "config.yaml"), "w") as f:
            f.write(textwrap.dedent(f"""\
                directory: {os.path.join(work, 'music')}
                library: {os.path.join(beetsdir, 'library.db')}
                plugins: similar
                create_backup_before_migrations: no
                similar:
                    model: {args.model}
                    weights: {weights}
                    auto: yes
                """))
        print(f"example photos: {photos} (8 scenes x 3 near-duplicates, "
              "1 exact copy, 4 broken files)")
        _beet(beetsdir, "similar-import", photos)
        _beet(beetsdir, "similar-ls", "-f", "$filename ${width}x$height $camera $year-$month-$day")
        _beet(beetsdir, "similar-ls", "--copies", "-f", "$filename $hash")
        _beet(beetsdir, "similar-calibrate", "--show")
        _beet(beetsdir, "similar-dupes", "-f", "$filename ${width}x$height")
        _beet(beetsdir, "similar-order", "--dry-run")
        _beet(beetsdir, "similar-order")
        # Each scene has its own date: look-alikes now share a date and sit together.
        _beet(beetsdir, "similar-ls", "rank+", "-f", "$rank $filename $year-$month-$day")
        _beet(beetsdir, "similar-undo")
        print(f"\ndone; the library is in {beetsdir}" if args.keep else "\ndone")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
