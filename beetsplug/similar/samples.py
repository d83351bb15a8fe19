"""Generate example photos: scenes, near-duplicate variants and bad files.

Used by the demo, the tests and the benchmarks. Pure: Pillow and NumPy.
Every scene is drawn from a seed, so the same call makes the same file.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

CAMERAS = [("Canon", "Canon EOS 5D Mark IV"), ("NIKON CORPORATION", "NIKON D750"),
           ("FUJIFILM", "X-T4"), ("Apple", "iPhone 12")]

VARIANTS = ("copy", "resized", "reencoded", "cropped", "brighter", "rotated")


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A random but smooth picture: a gradient sky and coloured shapes."""
    rng = np.random.default_rng(seed)
    w, h = size
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    grad = (top * (1 - t) + bottom * t).astype(np.uint8)
    img = Image.fromarray(np.broadcast_to(grad, (h, w, 3)).copy(), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 14))):
        x0, y0 = rng.integers(-w // 4, w), rng.integers(-h // 4, h)
        x1 = x0 + int(rng.integers(w // 10, w // 2))
        y1 = y0 + int(rng.integers(h // 10, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = rng.integers(0, 3)
        if shape == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour)
    noise = rng.normal(0, 6, (h, w, 3))
    arr = np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB").filter(ImageFilter.GaussianBlur(1))


def exif_for(seed: int, orientation: int = 1, when: datetime | None = None,
             camera: tuple[str, str] | None = None, gps: bool = False) -> Image.Exif:
    """EXIF with camera, date taken (to the millisecond) and orientation."""
    make, model = camera or CAMERAS[seed % len(CAMERAS)]
    when = when or datetime(2019, 1, 1) + timedelta(days=seed % 1500, seconds=seed * 37 % 86400)
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0112] = orientation
    exif[0x0132] = when.strftime("%Y:%m:%d %H:%M:%S")
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    sub[0x9291] = f"{when.microsecond // 1000:03d}"  # SubSecTimeOriginal
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    return exif


def variant(img: Image.Image, kind: str, seed: int = 0) -> Image.Image:
    """A near-duplicate of ``img``: how a burst, retake or re-save differs."""
    rng = np.random.default_rng(seed)
    w, h = img.size
    if kind in ("copy", "reencoded"):
        return img.copy()
    if kind == "resized":
        return img.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS)
    if kind == "cropped":
        dx, dy = int(w * rng.uniform(0.03, 0.1)), int(h * rng.uniform(0.03, 0.1))
        return img.crop((dx, dy, w - dx // 2, h - dy // 2))
    if kind == "brighter":
        return ImageEnhance.Brightness(img).enhance(float(rng.uniform(1.1, 1.25)))
    if kind == "rotated":
        return img.rotate(float(rng.uniform(-4, 4)), resample=Image.Resampling.BILINEAR,
                          expand=False, fillcolor=(128, 128, 128))
    raise ValueError(f"unknown variant {kind!r}")


def save_photo(img: Image.Image, path: str, seed: int, quality: int = 92,
               orientation: int = 1, **exif_fields) -> str:
    """Save as JPEG/PNG/... by extension, with EXIF where the format has it
    (``exif_fields``: see :func:`exif_for`)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    ext = os.path.splitext(path)[1].lower()
    exif = exif_for(seed, orientation, **exif_fields)
    if ext in (".jpg", ".jpeg"):
        img.save(path, "JPEG", quality=quality, exif=exif)
    elif ext in (".png", ".webp", ".tif", ".tiff"):
        img.save(path, exif=exif)
    else:
        img.save(path)
    return path


def make_groups(folder: str, groups: int, per_group: int = 3, size=(640, 480),
                ext: str = ".jpg", start_seed: int = 0) -> dict[int, list[str]]:
    """Write ``groups`` scenes, each with ``per_group - 1`` near-duplicates.

    Names are shuffled (``photo_0000.jpg`` ...) so that groups are not
    already adjacent. Returns {group: [paths]}.
    """
    rng = np.random.default_rng(start_seed + 99)
    total = groups * per_group
    names = rng.permutation(total)
    out: dict[int, list[str]] = {}
    k = 0
    for g in range(groups):
        seed = start_seed + g
        base = scene(seed, size)
        for v in range(per_group):
            kind = None if v == 0 else VARIANTS[1 + (g + v) % (len(VARIANTS) - 1)]
            img = base if kind is None else variant(base, kind, seed * 31 + v)
            quality = 80 if kind == "reencoded" else 92
            path = os.path.join(folder, f"photo_{names[k]:04d}{ext}")
            save_photo(img, path, seed, quality=quality)
            out.setdefault(g, []).append(path)
            k += 1
    return out


def write_bad_files(folder: str, source_jpeg: str) -> dict[str, str]:
    """Write one file of each kind of bad input; returns {kind: path}."""
    os.makedirs(folder, exist_ok=True)
    data = open(source_jpeg, "rb").read()
    paths = {
        "truncated": os.path.join(folder, "truncated.jpg"),
        "empty": os.path.join(folder, "empty.jpg"),
        "not_image": os.path.join(folder, "notes.jpg"),
        "garbage_png": os.path.join(folder, "garbage.png"),
    }
    with open(paths["truncated"], "wb") as f:
        f.write(data[: len(data) // 2])
    open(paths["empty"], "wb").close()
    with open(paths["not_image"], "w") as f:
        f.write("this is a text file with an image name\n")
    with open(paths["garbage_png"], "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    return paths


# XYZ (D65) to linear sRGB: a DNG's ColorMatrix1 for a "camera" whose raw
# channels are linear sRGB, so LibRaw develops it back to the picture.
_XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


def save_dng(img: Image.Image, path: str, seed: int, orientation: int = 1,
             when: datetime | None = None) -> str:
    """Write a real DNG (an RGGB Bayer mosaic of ``img``, 12 bits) with
    camera, date taken and orientation, as a camera would. Needs pidng."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import (
        CalibrationIlluminant,
        CFAPattern,
        DNGVersion,
        PhotometricInterpretation,
    )

    rgb = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    h, w = (d - d % 2 for d in linear.shape[:2])
    mosaic = np.empty((h, w))
    mosaic[0::2, 0::2] = linear[0:h:2, 0:w:2, 0]
    mosaic[0::2, 1::2] = linear[0:h:2, 1:w:2, 1]
    mosaic[1::2, 0::2] = linear[1:h:2, 0:w:2, 1]
    mosaic[1::2, 1::2] = linear[1:h:2, 1:w:2, 2]
    make, model = CAMERAS[seed % len(CAMERAS)]
    when = when or datetime(2019, 1, 1) + timedelta(days=seed % 1500, seconds=seed * 37 % 86400)
    tags = DNGTags()
    for tag, value in [
        (Tag.ImageWidth, w), (Tag.ImageLength, h), (Tag.TileWidth, w), (Tag.TileLength, h),
        (Tag.Orientation, orientation),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1), (Tag.BitsPerSample, 12), (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB), (Tag.BlackLevel, 0), (Tag.WhiteLevel, 4095),
        (Tag.ColorMatrix1, [[round(v * 10000), 10000] for row in _XYZ_TO_SRGB for v in row]),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, make), (Tag.Model, model),
        (Tag.DateTimeOriginal, when.strftime("%Y:%m:%d %H:%M:%S")),
        (Tag.DNGVersion, DNGVersion.V1_4), (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ]:
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    stem = path[: -len(".dng")] if path.lower().endswith(".dng") else path
    writer.convert(np.round(mosaic * 4095).astype(np.uint16), filename=stem)
    if stem + ".dng" != path:
        os.replace(stem + ".dng", path)
    return path
