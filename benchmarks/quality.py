"""What the quality score costs featurizing, on 12 MP JPEGs.

    python benchmarks/quality.py [--images 32]

The score's pixel measures (sharpness, exposure) run in the decoding
threads on the array already decoded for the network. This prints, per
photo and in CPU time: decoding it for the model, the network (bare, per
photo of a batch), and the measures; and the measures' share of the
featurizing work (decode + network), for a fast and a slow network.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
from featurize import make_jpegs  # noqa: E402

from beetsplug.similar.features.extractor import FeatureExtractor  # noqa: E402
from beetsplug.similar.imaging.decode import load_for_model  # noqa: E402
from beetsplug.similar.keep.measure import measure  # noqa: E402


def per_item(fn, items) -> float:
    """Seconds of CPU time per item, on one thread."""
    start = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - start) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_jpegs(os.path.join(tmp, "photos"), args.images)
        print(f"{len(paths)} 12 MP JPEGs")
        for model in ("mobilenet_v3_small", "xception"):
            ex = FeatureExtractor(model, 1, "none")
            decode = per_item(lambda p: load_for_model(p, ex.size), paths)
            pixels = [load_for_model(p, ex.size) for p in paths]
            measures = per_item(measure, pixels)
            batch = np.stack(pixels[:args.batch])
            ex.extract(batch)
            start = time.process_time()
            for _ in range(3):
                ex.extract(batch)
            network = (time.process_time() - start) / (3 * len(batch))
            share = measures / (decode + network)
            print(f"{model:20s} decode {decode * 1e3:6.2f} ms  network {network * 1e3:7.2f} ms"
                  f"  measures {measures * 1e3:5.2f} ms  = {share:6.2%} of featurizing")


if __name__ == "__main__":
    main()
