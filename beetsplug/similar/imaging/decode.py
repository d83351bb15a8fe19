"""Decode photos for the model and read what the library stores about them.

Pure: needs Pillow and NumPy, not beets or TensorFlow. Every failure is an
:class:`ImageError` whose message fits on one line and says what to do.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import raw
from .errors import ImageError
from .files import check_regular
from .pixels import PIXELS, TRANSPOSE, reduced

try:  # HEIC/HEIF support is optional (pip install pillow-heif).
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the environment
    HEIF_SUPPORTED = False

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".gif", ".bmp"}
    | ({".heic", ".heif"} if HEIF_SUPPORTED else set())
    | raw.RAW_EXTENSIONS  # without rawpy: one line saying what to install
)

# EXIF tags (numbers from the EXIF 2.3 specification).
_ORIENTATION = 0x0112
_MAKE = 0x010F
_MODEL = 0x0110
_DATETIME = 0x0132
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_SUBSEC_ORIGINAL = 0x9291
_GPS_IFD = 0x8825

_HASH_CHUNK = 1 << 20

# Pillow warns past MAX_IMAGE_PIXELS and refuses past twice that.
DEFAULT_MAX_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)
# Our own max_pixels check decides, right after the header is read and
# before any pixel is decoded, so Pillow's warning is noise. Filtered for
# good: ``catch_warnings`` around each open is not thread-safe (one
# thread's exit restores the filters while another is opening), which let
# the warning through when several threads decode.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)



@dataclass(frozen=True)
class PhotoInfo:
    """What import stores about a photo file."""

    width: int  # as displayed, after EXIF orientation
    height: int
    orientation: int  # EXIF orientation tag, 1 when absent
    format: str  # Pillow's format name: JPEG, PNG, ...
    taken: datetime | None  # EXIF DateTimeOriginal (or DateTime)
    make: str
    model: str
    frames: int
    gps: bool = False  # the EXIF has a position


def is_image_name(path: str) -> bool:
    """True when the file name has an extension we import."""
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def content_hash(path: str) -> str:
    """SHA-256 of the file's bytes, hex: equal for exact copies only."""
    check_regular(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def open_image(path: str) -> Image.Image:
    """Open an image lazily, turning every failure into an ImageError."""
    try:
        check_regular(path)
        if os.path.getsize(path) == 0:
            raise ImageError(path, "empty file (0 bytes)", "re-copy it from the source")
        # Our own max_pixels check (check_size) decides; Pillow's hard
        # limit (twice its warning size) still raises here.
        return Image.open(path)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(path, "file vanished", "run the command again") from None
    except PermissionError:
        raise ImageError(path, "permission denied", "check the file's permissions") from None
    except IsADirectoryError:
        raise ImageError(path, "is a directory") from None
    except Image.DecompressionBombError:
        raise ImageError(path, "image too large (possible decompression bomb)",
                         "raise similar.max_pixels if it is genuine") from None
    except UnidentifiedImageError:
        raise ImageError(path, "not an image Pillow can read", "remove it or convert it") from None
    except OSError as exc:
        raise ImageError(path, f"cannot read: {exc}") from None


def check_size(path: str, img: Image.Image, max_pixels: int) -> None:
    if img.width * img.height > max_pixels:
        raise ImageError(
            path,
            f"image too large ({img.width}x{img.height} pixels)",
            "raise similar.max_pixels if it is genuine",
        )


def _parse_exif_date(value: object) -> datetime | None:
    """The date of an EXIF date string; None when there is none, or when
    it cannot be a time stamp in every time zone (``0001:01:01``, a
    camera's unset clock, is year 0 east of UTC; ``9999:12:31`` is past
    the last one): such a photo's date is unknown."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip().strip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d"):
        try:
            parsed = datetime.strptime(value[: len("0000:00:00 00:00:00")], fmt)
        except ValueError:
            continue
        return parsed if datetime.min.year < parsed.year < datetime.max.year else None
    return None


def _clean_text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip().strip("\x00").strip() if value is not None else ""


def read_info(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoInfo:
    """Read size and EXIF, and check that the pixels decode.

    The check decodes at reduced size (JPEG draft mode), so it is fast
    but still catches truncated and corrupt files.
    """
    if raw.is_raw_name(path):
        shape, exif = raw.read(path)
        if shape["width"] * shape["height"] > max_pixels:
            raise ImageError(path, f"image too large ({shape['width']}x{shape['height']} "
                             "pixels)", "raise similar.max_pixels if it is genuine")
        return _info(exif, frames=1, **shape)
    with open_image(path) as img:
        check_size(path, img, max_pixels)
        width, height = img.size
        fmt = img.format or ""
        frames = getattr(img, "n_frames", 1)
        _decode_check(path, img)  # first: a PNG's getexif() decodes it all
        try:
            exif = img.getexif()
        except Exception:  # broken EXIF must not cost the photo
            exif = Image.Exif()
        orientation = _orientation(exif)
        if orientation in (5, 6, 7, 8):  # rotated by 90 degrees
            width, height = height, width
    return _info(exif, width=width, height=height, orientation=orientation, format=fmt,
                 frames=frames)


def _orientation(exif) -> int:
    value = exif.get(_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _info(exif, **fields) -> PhotoInfo:
    """PhotoInfo from the EXIF and the fields read from the pixels."""
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        sub = {}
    taken = (
        _parse_exif_date(sub.get(_DATETIME_ORIGINAL))
        or _parse_exif_date(exif.get(_DATETIME_ORIGINAL))  # some write it in IFD0
        or _parse_exif_date(sub.get(_DATETIME_DIGITIZED))
        or _parse_exif_date(exif.get(_DATETIME))
    )
    if taken is not None:  # bursts are told apart by fractions of a second
        fraction = _clean_text(sub.get(_SUBSEC_ORIGINAL) or exif.get(_SUBSEC_ORIGINAL))
        if fraction.isdigit():
            taken = taken.replace(microsecond=int((fraction + "000000")[:6]))
    try:
        gps = bool(exif.get_ifd(_GPS_IFD))
    except Exception:
        gps = False
    return PhotoInfo(taken=taken, make=_clean_text(exif.get(_MAKE)),
                     model=_clean_text(exif.get(_MODEL)), gps=gps, **fields)


def _decode_check(path: str, img: Image.Image) -> None:
    """Decode the pixels (cheaply where the format allows) or raise."""
    try:
        if img.format == "JPEG":
            img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
        with PIXELS.hold(img.width * img.height):
            img.load()
    except Exception as exc:
        raise ImageError(path, f"corrupt or truncated image ({exc})",
                         "re-copy it from the source") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: alpha over white, 16-bit scaled down."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else arr * 0
        return Image.fromarray(arr.astype(np.uint8)).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def open_upright(path: str, cover: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode a photo to an upright RGB image at least ``cover`` pixels on
    each side where the photo has them: EXIF orientation applied, first
    frame of an animation. Large photos are decoded reduced (JPEG draft
    mode: the smallest DCT scale that still covers it) or shrunk right
    after decoding (PNG, TIFF), under :data:`PIXELS`, so memory stays
    bounded; RAW photos from their embedded preview where it is large
    enough."""
    if raw.is_raw_name(path):
        return raw.open_upright(path, cover)
    with open_image(path) as img:
        check_size(path, img, max_pixels)
        try:
            if img.format == "JPEG":
                img.draft("RGB", (cover, cover))  # rotated orientations swap axes: cover both
            img.seek(0)
            with PIXELS.hold(img.width * img.height):
                img.load()
                orientation = _orientation(img.getexif())  # a PNG's decodes: after load
                small = reduced(img, cover)
            if small is img:  # closing the file closes this image: keep a copy
                small = img.copy()
            if orientation in TRANSPOSE:
                small = small.transpose(TRANSPOSE[orientation])
            return _to_rgb(small)
        except ImageError:
            raise
        except Exception as exc:
            raise ImageError(path, f"corrupt or truncated image ({exc})",
                             "re-copy it from the source") from None


def to_model_input(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Squash to ``size`` (width, height) as Keras' ``load_img(target_size=...)``
    does; uint8 RGB array."""
    resized = img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(resized, dtype=np.uint8)


def load_for_model(
    path: str,
    size: tuple[int, int],
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode a photo to a ``size`` (width, height) uint8 RGB array, upright."""
    return to_model_input(open_upright(path, max(size), max_pixels), size)
