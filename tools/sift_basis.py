"""Make the check's descriptor basis (``beetsplug/similar/verify/sift_basis.npy``).

    python tools/sift_basis.py

RootSIFT descriptors (L1-normalised SIFT, square-rooted: comparing them by
Euclidean distance is the Hellinger kernel) of the ten real photos shipped
for the tests (``tests/data/photos``, CC0 and public domain), every one
SIFT finds at OpenCV's defaults on the picture as the check sees it
(at ``check.SIDE``, contrast equalised); their mean and
first ``check.DIMS`` principal axes are saved, one row each. A new basis
changes every photo's features: bump ``check.BASIS`` (it is part of
``check.FEATURES_VERSION``).
"""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from beetsplug.similar.verify import check  # noqa: E402

PHOTOS = os.path.join(HERE, "..", "tests", "data", "photos")


def main() -> None:
    sift = cv2.SIFT_create()  # every feature, not only the strongest
    found = []
    for name in sorted(os.listdir(PHOTOS)):
        if name.endswith(".jpg"):
            img = Image.open(os.path.join(PHOTOS, name)).convert("L")
            img.thumbnail((check.SIDE, check.SIDE), Image.Resampling.BOX)
            grey = check.equalised(np.asarray(img))
            _, desc = sift.detectAndCompute(grey, None)
            found.append(check.root_sift(desc))
    rows = np.concatenate(found)
    mean = rows.mean(axis=0)
    _, values, axes = np.linalg.svd(rows - mean, full_matrices=False)
    kept = float((values[:check.DIMS] ** 2).sum() / (values ** 2).sum())
    np.save(check.BASIS_FILE, np.vstack([mean, axes[:check.DIMS]]).astype(np.float32))
    print(f"{len(rows)} descriptors of {len(found)} photos; {check.DIMS} axes keep "
          f"{kept:.2f} of the variance; saved {check.BASIS_FILE}")


if __name__ == "__main__":
    main()
