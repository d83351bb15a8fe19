"""Group a folder's files into shots: one photo and its companions.

Pure: the standard library. Files beside a photo that share its name stem
(``IMG_1234.xmp``), or its full name plus an extension
(``IMG_1234.CR2.xmp``), belong to it:

* sidecars (``.xmp .pp3 .dop .aae .on1 .arp`` by default), edit histories
  of darktable, Lightroom, RawTherapee, DxO, Apple Photos, ON1, ACDSee;
* the other half of a pair: the JPEG (or HEIC, TIFF) of a RAW+JPEG shot,
  the video of a Live Photo (``.mov .mp4`` beside a HEIC or JPEG).

A shot is one photo in the library: its photo file is the RAW of a pair
(else the image), and the rest follow it everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .decode import is_image_name
from .raw import RAW_SUPPORTED, is_raw_name

SIDECARS = (".xmp", ".pp3", ".dop", ".aae", ".on1", ".arp")
VIDEOS = frozenset({".mov", ".mp4"})


@dataclass
class Shot:
    photo: str  # the file the library row is for
    companions: list[tuple[str, str]] = field(default_factory=list)  # (path, kind)

    def files(self) -> list[str]:
        return [self.photo, *(path for path, _ in self.companions)]


def _ext(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def shots(files: Iterable[str], sidecars: Sequence[str] = SIDECARS,
          pair_raws: bool = RAW_SUPPORTED) -> tuple[list[Shot], list[str]]:
    """(shots, files that are neither photos nor companions), both sorted.

    ``sidecars`` are extensions, matched case-insensitively. Without
    ``pair_raws`` (no rawpy to read them) a RAW file pairs with nothing, so
    its JPEG is still a photo of its own.
    """
    sidecars = {s.lower() if s.startswith(".") else f".{s.lower()}" for s in sidecars}
    by_folder: dict[str, list[str]] = {}
    for path in files:
        by_folder.setdefault(os.path.dirname(path), []).append(os.path.basename(path))
    out: list[Shot] = []
    others: list[str] = []
    for folder, names in sorted(by_folder.items()):
        folder_shots, folder_others = _folder(names, sidecars, pair_raws)
        out += [Shot(os.path.join(folder, s.photo),
                     [(os.path.join(folder, p), k) for p, k in s.companions])
                for s in folder_shots]
        others += [os.path.join(folder, n) for n in folder_others]
    return sorted(out, key=lambda s: s.photo), sorted(others)


def _folder(names: list[str], sidecars: set[str],
            pair_raws: bool) -> tuple[list[Shot], list[str]]:
    images = sorted(n for n in names if is_image_name(n))
    by_stem: dict[str, list[str]] = {}
    for name in images:
        by_stem.setdefault(os.path.splitext(name)[0], []).append(name)
    shot_of: dict[str, Shot] = {}  # file name -> the shot it is in
    result: list[Shot] = []
    for stem, group in sorted(by_stem.items()):
        raws = [n for n in group if is_raw_name(n)]
        plain = [n for n in group if not is_raw_name(n)]
        if raws and pair_raws:  # RAW+JPEG: the RAW is the photo, one other image its pair
            head = Shot(raws[0], [(n, "pair") for n in plain[:1]])
            singles = raws[1:] + plain[1:]
        else:
            ordered = plain + raws
            head, singles = Shot(ordered[0]), ordered[1:]
        for shot in [head, *(Shot(n) for n in singles)]:
            result.append(shot)
            for name in shot.files():
                shot_of[name] = shot
    used = set(shot_of)
    for name in sorted(names):  # videos and sidecars, by stem or by full name
        if name in used:
            continue
        ext = _ext(name)
        base = name[: -len(ext)] if ext else name
        if ext in sidecars and base in shot_of:
            owner = shot_of[base]  # IMG_1234.CR2.xmp
        elif ext in sidecars or ext in VIDEOS:
            owner = next((s for s in result if os.path.splitext(s.photo)[0] == base), None)
        else:
            owner = None
        if owner is None:
            continue
        owner.companions.append((name, "sidecar" if ext in sidecars else "pair"))
        used.add(name)
    return result, sorted(n for n in names if n not in used)
