"""How well calibration's tail fit extrapolates, on real unrelated photos.

All pairs of a folder of unrelated photos (500 photos: 124,750 pairs) give
the true share of pairs under a distance, down to about 1e-4. Samples of
60 to 200 of the photos (as calibration has) are fitted and the distance
extrapolated to a smaller pair probability; printed is the share of all
pairs really under it, divided by the one asked (1.00: exact; above 1:
more wrong matches than asked). Compared: the log-normal fit that
calibration uses (``calibration/tail.py``), a power law (Weibull) lower
tail and a GPD over the lowest 5 %.

    python benchmarks/calibration_tail.py --weights FILE [--model inception_v3]
        [--folder ../shared/photos/unrelated] [--depths 1,2,3,4,5]

Weights: ``tools/nsfwjs_weights.py`` makes the InceptionV3 file.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os

import numpy as np
from scipy import stats


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from beetsplug.similar.calibration.tail import fit  # noqa: E402


def power_fit(d: np.ndarray, share: float = 0.05):
    d, n = np.sort(d), len(d)
    k = max(20, int(share * n))
    lp = np.log((np.arange(1, k + 1) - 0.5) / n)
    slope, a = np.polyfit(np.log(np.maximum(d[:k], 1e-12)), lp, 1)
    return lambda p: float(np.exp((np.log(p) - a) / slope))


def gpd_fit(d: np.ndarray, share: float = 0.05):
    d, n = np.sort(d), len(d)
    k = max(20, int(share * n))
    u = d[k]
    xi, _, scale = stats.genpareto.fit(u - d[:k], floc=0)
    return lambda p: float(u - stats.genpareto.ppf(1 - p * n / k, xi, 0, scale))


def vectors(folder: str, model: str, weights: str, depths: tuple[int, ...]) -> dict:
    from beetsplug.similar.features.extractor import FeatureExtractor
    from beetsplug.similar.imaging.decode import open_upright, to_model_input

    tag = hashlib.sha256(repr((os.path.abspath(folder), weights, depths)).encode()).hexdigest()
    cache = f"/tmp/calibration_tail-{model}-{tag[:12]}.npz"
    if os.path.exists(cache):
        return dict(np.load(cache))
    files = sorted(glob.glob(os.path.join(folder, "*")))
    ex = FeatureExtractor(model, depths[0], weights, depths=depths)
    out: dict[int, list] = {d: [] for d in ex.depths}
    for s in range(0, len(files), 16):
        batch = np.stack([to_model_input(open_upright(f, 2 * max(ex.size)), ex.size)
                          for f in files[s:s + 16]])
        for d, v in ex.extract_all(batch).items():
            out[d].append(v)
    found = {ex.backbone.layer(d): np.concatenate(v) for d, v in out.items()}
    np.savez(cache, **found)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "shared", "photos", "unrelated"))
    ap.add_argument("--model", default="inception_v3")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--depths", default="1,2,3,4,5")
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    found = vectors(args.folder, args.model, args.weights,
                    tuple(int(d) for d in args.depths.split(",")))
    methods = {"log-normal (used)": lambda d: fit(d).quantile, "power law": power_fit,
               "GPD": gpd_fit}
    for layer, x in found.items():
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        n = len(x)
        full = np.sort((1 - x @ x.T)[np.triu_indices(n, 1)])
        print(f"{layer}: {n} photos, {len(full)} pairs; distance at 1e-3 "
              f"{np.quantile(full, 1e-3):.4f}, at 1e-4 {np.quantile(full, 1e-4):.4f}")
        for size, targets in ((60, (1e-3, 2e-4)), (100, (1e-3, 1e-4)), (200, (1e-4, 5e-5))):
            ratios: dict[str, list] = {m: [] for m in methods}
            for seed in range(args.trials):
                s = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
                d = (1 - x[s] @ x[s].T)[np.triu_indices(size, 1)]
                for name, make in methods.items():
                    q = make(d)
                    ratios[name].append([np.searchsorted(full, q(p)) / len(full) / p
                                         for p in targets])
            cells = "; ".join(
                f"{m} median {'/'.join(f'{v:.2f}' for v in np.median(r, axis=0))} "
                f"max {'/'.join(f'{v:.2f}' for v in np.max(r, axis=0))}"
                for m, r in ratios.items())
            print(f"  sample of {size} ({size * (size - 1) // 2} pairs), found/asked at "
                  f"{targets[0]:g}/{targets[1]:g}: {cells}")


if __name__ == "__main__":
    main()
