"""Peak memory of decoding huge images for the model, as featurize does.

    python benchmarks/decode_memory.py [--images 4] [--megapixels 144] [--threads 2,4]
                                       [--code PATH] [--featurize]

Writes ``--images`` PNGs of ``--megapixels`` each (simple pictures: about
0.5 MB of file for 144 MP, so nothing but the decoded pixels is large),
then, in a fresh process per thread count, decodes them to model input on
that many threads with the pipeline's prefetch, and prints the peak
resident memory (ru_maxrss) and the time. ``--code`` runs the plugin
found at PATH instead (a checkout of older code, to compare). With
``--featurize`` it also runs ``beet similar-featurize`` on them (the model
adds its own memory) and prints that peak too.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

CHILD = """
import resource, sys, time
sys.path.insert(0, {code!r})  # before the installed copy
from beetsplug.similar.imaging.decode import load_for_model
from beetsplug.similar.keep.measure import measure
from beetsplug.similar.parallel import ordered_map
paths = {paths!r}
start = time.perf_counter()
for pixels in ordered_map(lambda p: measure(load_for_model(p, (224, 224))), paths,
                          workers={threads}, prefetch=3 * 16):
    pass
took = time.perf_counter() - start
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, took)
"""


def make_pngs(folder: str, n: int, megapixels: float) -> list[str]:
    from PIL import Image, ImageDraw

    side = int((megapixels * 1e6) ** 0.5)
    paths = []
    for i in range(n):
        img = Image.new("RGB", (side, side), (40 * i % 255, 120, 200))
        draw = ImageDraw.Draw(img)
        for k in range(6):  # a few shapes, different in each picture
            x, y = (k * 1777 + i * 911) % side, (k * 1301 + i * 577) % side
            draw.ellipse((x, y, x + side // 5, y + side // 7), fill=(255 - 30 * k, 20 * k, 90))
        path = os.path.join(folder, f"huge_{i}.png")
        img.save(path)
        paths.append(path)
        del img, draw
    return paths


def decode_peak(code: str, paths: list[str], threads: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", CHILD.format(code=os.path.abspath(code),
                                                              paths=paths,
                                                              threads=threads)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def featurize_peak(code: str, folder: str, threads: int) -> float:
    beetsdir = os.path.join(folder, f"beets{threads}")
    os.makedirs(beetsdir, exist_ok=True)
    with open(os.path.join(beetsdir, "config.yaml"), "w") as f:
        f.write(textwrap.dedent(f"""\
            library: {beetsdir}/library.db
            directory: {beetsdir}/music
            plugins: similar
            similar: {{weights: none, model: mobilenet_v3_small, threads: {threads}}}
            """))
    env = dict(os.environ, BEETSDIR=beetsdir, HOME=beetsdir, PYTHONPATH=os.path.abspath(code),
               TF_CPP_MIN_LOG_LEVEL="3")
    photos = [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".png")]
    # cwd: away from any source tree, so that PYTHONPATH decides the code run
    subprocess.run([sys.executable, "-m", "beets", "similar-import", *photos], env=env,
                   check=True, capture_output=True, cwd=folder)
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "beets",
                           "similar-featurize"], env=env, capture_output=True, text=True,
                          check=True, cwd=folder)
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--megapixels", type=float, default=144)
    ap.add_argument("--threads", default="2,4")
    ap.add_argument("--code", default=HERE, help="the plugin's source tree to measure")
    ap.add_argument("--featurize", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = make_pngs(folder, args.images, args.megapixels)
        size = sum(os.path.getsize(p) for p in paths) / len(paths) / 1e6
        print(f"{args.images} PNGs of {args.megapixels:.0f} MP, {size:.2f} MB each; "
              f"code: {os.path.abspath(args.code)}")
        for threads in map(int, args.threads.split(",")):
            peak, took = decode_peak(args.code, paths, threads)
            print(f"decode, {threads} threads: peak {peak:,.0f} MB, {took:.1f} s")
            if args.featurize:
                print(f"beet similar-featurize, {threads} threads: peak "
                      f"{featurize_peak(args.code, folder, threads):,.0f} MB")


if __name__ == "__main__":
    main()
