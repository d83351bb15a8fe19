"""Which copies of real photos the check calls one capture, and which pairs
it gives the finer look.

    python benchmarks/one_capture.py            # 43 photos of ../shared/photos/unrelated
    python benchmarks/one_capture.py SIDE=320 TOLERANCE=2.0 ONE_ERROR=0.2

43 real photos (every 11th of ``../shared/photos/unrelated``, decoded at
640 px) and, of each, a copy: re-saved at quality 55, resized to 70, 60
and 50 %, cropped to 90 % and to 60 % (centre-right), 15 % brighter; and
two pairs that are not one capture: the focus moved from one half of the
picture to the other (a 2 px blur), and the whole picture blurred by 2
px. For each case: the pairs one capture at the check's size alone, with
the finer look (``verify/fine.py``), and how many it looked at. ``NAME=value``
arguments set the check's constants (``verify/check.py``) for a comparison.
The figures are in docs/precision.md.
"""

from __future__ import annotations

import collections
import io
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402
from PIL import Image, ImageEnhance, ImageFilter  # noqa: E402

from beetsplug.similar.imaging.decode import open_upright  # noqa: E402
from beetsplug.similar.verify import check, fine  # noqa: E402

SHARED = os.environ.get("SIMILAR_SHARED_PHOTOS") or os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "photos"))
CASES = ("re-saved at quality 55", "resized to 70 %", "resized to 60 %", "resized to 50 %",
         "cropped to 90 %", "cropped to 60 %", "15 % brighter",
         "focus moved from one half to the other", "the whole picture blurred by 2 px")


def jpeg(img: Image.Image, quality: int = 92) -> Image.Image:
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer)


def pair(original: Image.Image, case: str) -> tuple[Image.Image, Image.Image]:
    w, h = original.size
    if case == "re-saved at quality 55":
        return original, jpeg(original, 55)
    if case.startswith("resized"):
        f = int(case.split()[-2]) / 100
        return original, jpeg(original.resize((int(w * f), int(h * f)),
                                              Image.Resampling.LANCZOS), 90)
    if case == "cropped to 90 %":
        return original, jpeg(original.crop((int(w * .05), int(h * .05), int(w * .95),
                                             int(h * .95))), 90)
    if case == "cropped to 60 %":
        return original, jpeg(original.crop((int(w * .4), int(h * .2), w, int(h * .8))), 90)
    if case == "15 % brighter":
        return original, jpeg(ImageEnhance.Brightness(original).enhance(1.15), 90)
    soft = original.filter(ImageFilter.GaussianBlur(2))
    if case == "the whole picture blurred by 2 px":
        return original, jpeg(soft, 90)
    sharp, blurred, half = np.asarray(original), np.asarray(soft), original.height // 2
    return (jpeg(Image.fromarray(np.concatenate([sharp[:half], blurred[half:]]))),
            jpeg(Image.fromarray(np.concatenate([blurred[:half], sharp[half:]]))))


def judged(a: Image.Image, b: Image.Image) -> tuple[str, check.Verdict]:
    """'one' at the check's size, 'finer' by the finer look, 'looked' when
    the finer look said no, 'no' when it was not asked."""
    fa, fb = (check.features(np.asarray(p.convert("RGB"))) for p in (a, b))
    verdict = check.check(fa, fb)
    if verdict.one_capture:
        return "one", verdict
    if verdict.closer_look is None:
        return "no", verdict
    pictures = [np.asarray(p.convert("RGB")) for p in (a, b)]  # at most 640 px already
    same = fine.one_capture(*pictures, fa.shape, fb.shape, verdict.closer_look)
    return ("finer" if same else "looked"), verdict


def main() -> None:
    for setting in sys.argv[1:]:
        name, value = setting.split("=")
        setattr(check, name, type(getattr(check, name))(value))
    folder = os.path.join(SHARED, "unrelated")
    if not os.path.isdir(folder):
        raise SystemExit(f"no photos in {folder}: set SIMILAR_SHARED_PHOTOS")
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))[::11][:43]
    originals = [jpeg(open_upright(p, fine.SIDE), 95) for p in paths]
    print(f"{len(originals)} real photos; the check at {check.SIDE} px, the finer look at "
          f"{fine.SIDE} px")
    print(f"{'pairs':<40} {'one at ' + str(check.SIDE) + ' px':>14} {'with the finer look':>20} "
          f"{'looked at':>10} {'accepted':>9}")
    t0 = time.perf_counter()
    for case in CASES:
        seen: collections.Counter = collections.Counter()
        for original in originals:
            said, verdict = judged(*pair(original, case))
            seen[said] += 1
            seen["accepted"] += verdict.accepted
        print(f"{case:<40} {seen['one']:>14} {seen['one'] + seen['finer']:>20} "
              f"{seen['finer'] + seen['looked']:>10} {seen['accepted']:>9}", flush=True)
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
