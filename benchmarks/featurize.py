"""Featurize throughput: end to end against the bare model, on 12 MP JPEGs.

    python benchmarks/featurize.py [--model xception] [--images 48] [--batch 16]

Prints images/s for (1) the bare model on already-decoded inputs, (2) the
decode+model pipeline, (3) `beet similar-featurize` on a temporary library
(decode, model and database writes), and the ratios. Weights are random
(`none`): the arithmetic is the same as with ImageNet weights.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from beetsplug.similar import samples  # noqa: E402
from beetsplug.similar.features.extractor import FeatureExtractor  # noqa: E402
from beetsplug.similar.features.pipeline import featurize  # noqa: E402
from beetsplug.similar.imaging.decode import load_for_model  # noqa: E402


def make_jpegs(folder: str, n: int, size=(4000, 3000)) -> list[str]:
    """n distinct 12 MP JPEGs (a few scenes, re-encoded at varied quality)."""
    paths = []
    bases = [samples.scene(s, size) for s in range(4)]
    for i in range(n):
        path = os.path.join(folder, f"big_{i:03d}.jpg")
        samples.save_photo(bases[i % 4], path, seed=i, quality=85 + i % 10)
        paths.append(path)
    return paths


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="xception")
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        paths = make_jpegs(os.path.join(tmp, "photos"), args.images)
        print(f"made {len(paths)} 12 MP JPEGs in {time.perf_counter() - t:.1f}s")

        ex = FeatureExtractor(args.model, args.depth, "none")
        decoded = np.stack([load_for_model(p, ex.size) for p in paths])
        ex.extract(decoded[: args.batch])  # warm up (graph tracing)

        def bare_pass() -> float:
            t = time.perf_counter()
            for start in range(0, len(decoded), args.batch):
                ex.extract(decoded[start:start + args.batch])
            return rate(len(decoded), time.perf_counter() - t)

        bare = max(bare_pass() for _ in range(3))  # best of 3: a shared VM is noisy

        t = time.perf_counter()
        for start in range(0, min(len(paths), 32)):
            load_for_model(paths[start], ex.size)
        decode_one = rate(min(len(paths), 32), time.perf_counter() - t)

        def pipeline_pass() -> float:
            t = time.perf_counter()
            n = sum(len(b) for b in featurize(((i, p) for i, p in enumerate(paths)), ex,
                                              batch_size=args.batch, threads=args.threads))
            return rate(n, time.perf_counter() - t)

        pipeline = max(pipeline_pass() for _ in range(2))

        beetsdir = os.path.join(tmp, "beets")
        os.makedirs(beetsdir)
        with open(os.path.join(beetsdir, "config.yaml"), "w") as f:
            f.write(textwrap.dedent(f"""\
                directory: {tmp}/music
                library: {beetsdir}/library.db
                plugins: similar
                create_backup_before_migrations: no
                similar: {{model: {args.model}, depth: {args.depth}, weights: none,
                           batch_size: {args.batch}, threads: {args.threads}}}
                """))
        env = dict(os.environ, BEETSDIR=beetsdir)
        beet = [sys.executable, "-m", "beets"]
        subprocess.run(beet + ["similar-import", os.path.join(tmp, "photos")], env=env,
                       check=True, capture_output=True)
        # The command reports its own rate, model loading excluded.
        proc = subprocess.run(beet + ["similar-featurize", "--force"], env=env,
                              check=True, capture_output=True, text=True)
        command = float(re.search(r" at ([0-9.]+)/s", proc.stdout).group(1))

    print(f"model {args.model} depth {args.depth}, batch {args.batch}, "
          f"{args.threads} decode threads, {os.cpu_count()} cores")
    print(f"  decode alone, 1 thread : {decode_one:7.1f} images/s")
    print(f"  bare model             : {bare:7.1f} images/s")
    cores = os.cpu_count() or 1
    # All cores busy on decode and model: the most any pipeline can do here.
    ceiling = cores / (1 / decode_one + cores / bare)
    print(f"  ceiling, all cores busy: {ceiling:7.1f} images/s  "
          f"= {100 * ceiling / bare:5.1f}% of bare (decode + model CPU time)")
    print(f"  pipeline (decode+model): {pipeline:7.1f} images/s  "
          f"= {100 * pipeline / bare:5.1f}% of bare")
    print(f"  beet similar-featurize : {command:7.1f} images/s  "
          f"= {100 * command / bare:5.1f}% of bare (with database writes)")


if __name__ == "__main__":
    main()
