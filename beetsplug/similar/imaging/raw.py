"""RAW photos: what a camera's own files hold, read with rawpy (LibRaw).

Pure: rawpy, Pillow and NumPy. Size, orientation and camera come from
LibRaw; date taken and camera from the EXIF of the TIFF structure most
RAW formats share (DNG, CR2, NEF, ARW, PEF, SRW, ORF), else from the EXIF
of the embedded preview. Pixels come from the embedded preview when it is
large enough for the use (fast: a JPEG decode), else from a half-size
demosaic. Without rawpy, a RAW file is an :class:`ImageError` that says
what to install.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageOps

from . import quiet
from .errors import ImageError
from .files import check_regular

try:
    import rawpy

    RAW_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the environment
    rawpy = None
    RAW_SUPPORTED = False

RAW_EXTENSIONS = frozenset({".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2",
                            ".dng", ".pef", ".srw"})

# LibRaw's flip -> EXIF orientation.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


def is_raw_name(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in RAW_EXTENSIONS


def _need_rawpy(path: str) -> None:
    if not RAW_SUPPORTED:
        raise ImageError(path, "a RAW photo, and rawpy is not installed",
                         "pip install 'beets-similar[raw]'")


def _open(path: str):
    _need_rawpy(path)
    check_regular(path)  # LibRaw would wait forever on a FIFO
    try:
        return rawpy.imread(path)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        if not os.path.lexists(path):  # LibRaw says "Input/output error"
            raise ImageError(path, "file vanished", "run the command again") from None
        raise ImageError(path, f"not a RAW file LibRaw can read ({exc})",
                         "re-copy it from the camera") from None


def _preview(raw) -> Image.Image | None:
    """The embedded preview as an image, or None when there is none."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, ValueError):
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            img = Image.open(io.BytesIO(thumb.data))
            img.load()
            return img
        return Image.fromarray(np.asarray(thumb.data, dtype=np.uint8))
    except Exception:  # a broken preview: the RAW data still decodes
        return None


def _exif(path: str, preview: Image.Image | None) -> Image.Exif:
    """EXIF from the file's TIFF structure, else from the preview."""
    exif = Image.Exif()
    with open(path, "rb") as f:
        head = f.read(4)
        if head in (b"II*\x00", b"MM\x00*"):
            f.seek(0)
            try:
                exif.load(f.read())
                return exif
            except Exception:
                exif = Image.Exif()
    if preview is not None:
        try:
            return preview.getexif()
        except Exception:
            pass
    return exif


def _quietly(path: str, work):
    """``work()`` with LibRaw's messages kept off the terminal: when LibRaw
    printed a problem (``Unexpected end of file``), whether or not it went
    on, the file is damaged: one line of ours, with LibRaw's words."""
    error = None
    with quiet.libraw(path) as said:
        try:
            result = work()
        except ImageError as exc:
            error = exc
    if said:
        raise ImageError(path, f"corrupt or truncated RAW (LibRaw: {said[0].lower()})",
                         "re-copy it from the camera")
    if error is not None:
        raise error
    return result


def read(path: str) -> tuple[dict, Image.Exif]:
    """({width, height, orientation, format}, EXIF) of a RAW file, checking
    that LibRaw can unpack it."""
    shape, preview = _quietly(path, lambda: _read(path))
    return shape, _exif(path, preview)


def _read(path: str) -> tuple[dict, Image.Image | None]:
    with _open(path) as raw:
        sizes = raw.sizes
        try:
            raw.raw_image_visible  # unpacks: a truncated file fails here
        except (rawpy.LibRawError, ValueError) as exc:
            raise ImageError(path, f"corrupt or truncated RAW ({exc})",
                             "re-copy it from the camera") from None
        preview = _preview(raw)
    width, height = sizes.width, sizes.height
    orientation = _FLIP_TO_ORIENTATION.get(sizes.flip, 1)
    if orientation in (6, 8):
        width, height = height, width
    fmt = os.path.splitext(path)[1].lstrip(".").upper()
    return {"width": width, "height": height, "orientation": orientation, "format": fmt}, preview


def open_upright(path: str, cover: int) -> Image.Image:
    """An upright RGB image of the RAW photo, at least ``cover`` pixels on
    its short side where the photo has them: the embedded preview when it
    is that large, else LibRaw's half-size demosaic."""
    return _quietly(path, lambda: _upright(path, cover))


def _upright(path: str, cover: int) -> Image.Image:
    with _open(path) as raw:
        flip = raw.sizes.flip
        preview = _preview(raw)
        if preview is not None and min(preview.size) >= cover:
            img = ImageOps.exif_transpose(preview) if preview.getexif().get(0x0112) \
                else _flipped(preview, flip)
            return img.convert("RGB")
        try:
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
        except (rawpy.LibRawError, ValueError, MemoryError) as exc:
            raise ImageError(path, f"corrupt or truncated RAW ({exc})",
                             "re-copy it from the camera") from None
    return Image.fromarray(rgb)  # LibRaw has applied the orientation


def _flipped(img: Image.Image, flip: int) -> Image.Image:
    transpose = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90,
                 6: Image.Transpose.ROTATE_270}.get(flip)
    return img.transpose(transpose) if transpose else img
