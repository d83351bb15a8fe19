"""Choose the near-duplicate threshold: precision and recall on generated photos.

    python benchmarks/threshold.py [--model xception] [--depth 1] [--weights imagenet] [--scenes 40]

Generates scenes with near-duplicates (resized, re-encoded, cropped,
brightened, rotated), featurizes them, and for a range of cosine-distance
thresholds prints the precision and recall of "distance under threshold"
as a same-scene test over all pairs, and of the groups `similar-dupes`
forms (pairs inside one group).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from beetsplug.similar import samples  # noqa: E402
from beetsplug.similar.dupes.groups import near_groups  # noqa: E402
from beetsplug.similar.features.extractor import FeatureExtractor  # noqa: E402
from beetsplug.similar.imaging.decode import load_for_model  # noqa: E402
from beetsplug.similar.order.chain import prepare  # noqa: E402


def scores(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = int((predicted & truth).sum())
    precision = tp / max(1, int(predicted.sum()))
    recall = tp / max(1, int(truth.sum()))
    return precision, recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="xception")
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--per-scene", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        groups = samples.make_groups(tmp, args.scenes, args.per_scene, size=(640, 480))
        paths = [p for g in sorted(groups) for p in groups[g]]
        labels = np.repeat(np.arange(args.scenes), args.per_scene)
        ex = FeatureExtractor(args.model, args.depth, args.weights)
        vecs = np.concatenate([
            ex.extract(np.stack([load_for_model(p, ex.size) for p in paths[i:i + 16]]))
            for i in range(0, len(paths), 16)])

    x = prepare(vecs, "cosine")
    cos_dist = 1.0 - x @ x.T
    upper = np.triu_indices(len(x), 1)
    dist = cos_dist[upper]
    same = (labels[:, None] == labels[None, :])[upper]
    print(f"{ex.key}: {len(paths)} photos, {int(same.sum())} near-duplicate pairs, "
          f"{int((~same).sum())} other pairs")
    print(f"near-duplicate distances: median {np.median(dist[same]):.4f}, "
          f"max {dist[same].max():.4f}; other pairs: min {dist[~same].min():.4f}, "
          f"median {np.median(dist[~same]):.4f}")
    print(f"{'threshold':>9} {'pair P':>7} {'pair R':>7} {'group P':>8} {'group R':>8}")
    best = (0.0, 0.0)
    for t in np.unique(np.round(np.quantile(dist[same], np.linspace(0.05, 1, 20)) * 1.05, 4)):
        pair_p, pair_r = scores(dist < t, same)
        member = np.full(len(x), -1)
        for g, rows in enumerate(near_groups(vecs, float(t), "cosine")):
            member[rows] = g
        in_group = ((member[:, None] == member[None, :]) & (member[:, None] >= 0))[upper]
        group_p, group_r = scores(in_group, same)
        f1 = 2 * group_p * group_r / max(1e-9, group_p + group_r)
        best = max(best, (f1, float(t)))
        print(f"{t:9.4f} {pair_p:7.3f} {pair_r:7.3f} {group_p:8.3f} {group_r:8.3f}")
    print(f"best group F1 {best[0]:.3f} at threshold {best[1]:.4f}")


if __name__ == "__main__":
    main()
