"""Sending extras to the trash and undoing it, through the real command line.

    python benchmarks/trash.py [--groups 300] [--in-trash 0]

Makes ``groups`` photos, each with an exact copy (half of the copies with
an XMP sidecar, which the photo kept takes over), in a temporary folder
with a temporary home and freedesktop trash (``--in-trash`` unrelated
files already there, same names included). Prints the seconds of
``similar-dupes -e --trash`` and of ``similar-undo``, files per second,
and checks that every file is back byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from beetsplug.similar import samples  # noqa: E402

XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
       '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{}"/></rdf:RDF></x:xmpmeta>')


def beet(env: dict, *args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "beets", *args], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"beet {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    print("  " + proc.stdout.strip().splitlines()[-1])
    return time.perf_counter() - start


def tree(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=300)
    ap.add_argument("--in-trash", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos, data, beetsdir = tmp / "photos", tmp / "home/.local/share", tmp / "beets"
        for d in (photos, data / "Trash/files", data / "Trash/info", beetsdir):
            d.mkdir(parents=True)
        for i in range(args.groups):
            folder = photos / f"f{i % 10}"
            keep = samples.save_photo(samples.scene(i, (64, 48)), str(folder / f"p{i}.jpg"), i)
            os.utime(keep, (1e9, 1e9))
            (folder / f"p{i}-copy.jpg").write_bytes(Path(keep).read_bytes())
            if i % 2:
                (folder / f"p{i}-copy.xmp").write_text(XMP.format(i % 6))
        for i in range(args.in_trash):  # unrelated files, some with the same names
            name = f"p{i % max(args.groups, 1)}-copy{'' if i < args.groups else f' {i}'}.jpg"
            (data / "Trash/files" / name).write_bytes(b"x")
            (data / "Trash/info" / f"{name}.trashinfo").write_text(
                f"[Trash Info]\nPath=/elsewhere/{name}\nDeletionDate=2020-01-01T00:00:00\n")
        (beetsdir / "config.yaml").write_text(
            f"directory: {beetsdir}/music\nlibrary: {beetsdir}/library.db\nplugins: similar\n"
            "similar:\n  keep: [oldest]\n")
        env = dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(tmp / "home"),
                   XDG_DATA_HOME=str(data))
        before = tree(photos)
        beet(env, "similar-import", str(photos))
        listed = beet(env, "similar-dupes", "-e")  # the same command, acting on nothing
        base = beet(env, "similar-ls", "-f", "$id")  # start-up alone
        sent = beet(env, "similar-dupes", "-e", "--trash")
        undo = beet(env, "similar-undo")
        n = args.groups
        print(f"groups {n}: {n} photos trashed, {n // 2} sidecars taken over by the photo "
              f"kept; unrelated files in the trash {args.in_trash}")
        print(f"similar-dupes -e: {listed:.2f} s, with --trash: {sent:.2f} s "
              f"({n / max(sent - listed, 1e-9):.0f} photos/s for the trash part)")
        print(f"similar-undo: {undo:.2f} s, start-up {base:.2f} s "
              f"({n / max(undo - base, 1e-9):.0f} photos/s)")
        print("every file back byte for byte:", tree(photos) == before)


if __name__ == "__main__":
    main()
