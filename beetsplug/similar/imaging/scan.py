"""Find photo files and read the record the library keeps for each.

Pure: no beets, no TensorFlow. Reading runs in worker threads; Pillow
and hashlib release the GIL, so two cores are kept busy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from ..parallel import ordered_try_map
from .decode import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    content_hash,
    read_info,
)
from .files import check_regular, odd_kind


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _apple_double(name: str) -> bool:
    """macOS's ``._IMG_1234.JPG`` beside a photo copied to a foreign disk:
    metadata, never a photo."""
    return name.startswith("._")


def _hidden_files(folder: str, passed_over: Callable[[str], None]) -> None:
    """Every file under a hidden folder, to ``passed_over``."""
    for below, _, files in os.walk(folder):
        for name in files:
            if not _apple_double(name):
                passed_over(os.path.join(below, name))


def walk_files(paths: Iterable[str],
               skipped: Callable[[str, str], None] = lambda path, why: None,
               hidden: bool = False,
               passed_over: Callable[[str], None] = lambda path: None) -> Iterator[str]:
    """Yield every regular file under ``paths`` (files or folders), sorted, once.

    Symbolic links are followed, to files and to folders, to the real path,
    which is yielded once however many links lead to it; a link back to a
    folder being walked (a loop) is not entered again. A broken link is
    yielded as it is (reading it then says so). Hidden files and folders
    (a leading dot) go to ``passed_over`` (each file of such a folder)
    unless ``hidden``; macOS's ``._`` files never come out. Folders we
    cannot enter are passed over. A FIFO, socket or device is never
    opened: it goes to ``skipped(path, what it is)``.
    """
    seen: set[str] = set()

    def resolved(path: str) -> str | None:
        real = os.path.realpath(path)
        if not os.path.exists(real):
            real = path  # a broken link
        if real in seen:
            return None
        seen.add(real)
        if (kind := odd_kind(real)) is not None:
            skipped(path, kind)
            return None
        return real

    for top in paths:
        top = os.path.abspath(top)
        if not os.path.isdir(top):
            if (real := resolved(top)) is not None:
                yield real
            continue
        entered = {os.path.realpath(top)}
        for folder, dirs, files in os.walk(top, followlinks=True):
            keep = []
            for d in sorted(dirs):
                real = os.path.realpath(os.path.join(folder, d))
                if real in entered:
                    continue  # a loop back to a folder already walked
                entered.add(real)
                if _hidden(d) and not hidden:
                    _hidden_files(os.path.join(folder, d), passed_over)
                else:
                    keep.append(d)
            dirs[:] = keep
            for name in sorted(files):
                if _apple_double(name):
                    continue
                if _hidden(name) and not hidden:
                    passed_over(os.path.join(folder, name))
                elif real := resolved(os.path.join(folder, name)):
                    yield real


def beside(files: Iterable[str],
           skipped: Callable[[str, str], None] = lambda path, why: None,
           hidden: bool = False) -> Iterator[str]:
    """Yield the regular files in the folders of ``files`` (not below
    them), the hidden ones only when ``hidden``, resolved as
    :func:`walk_files` does: where a file's companions are found."""
    folders = sorted({os.path.dirname(os.path.realpath(f)) for f in files})
    names = []
    for folder in folders:
        try:
            names += [os.path.join(folder, n) for n in os.listdir(folder)
                      if not _apple_double(n) and (hidden or not _hidden(n))]
        except OSError:
            continue
    yield from walk_files(sorted(p for p in names if not os.path.isdir(p)), skipped)


def read_record(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict:
    """The library fields for one photo file; raises ImageError."""
    try:
        check_regular(path)
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ImageError(path, f"broken symbolic link to {os.readlink(path)}",
                             "fix or remove the link") from None
        raise ImageError(path, "file vanished", "run the command again") from None
    except OSError as exc:
        raise ImageError(path, f"cannot stat: {exc.strerror}") from None
    info = read_info(path, max_pixels)
    try:
        digest = content_hash(path)
    except OSError as exc:
        raise ImageError(path, f"cannot read: {exc.strerror}") from None
    camera = info.model
    if info.make and not info.model.lower().startswith(info.make.split()[0].lower()):
        camera = f"{info.make} {info.model}".strip()
    taken = info.taken
    return {
        "path": path,
        "origname": os.path.basename(path),
        "size": st.st_size,
        "mtime": st.st_mtime,
        "hash": digest,
        "format": info.format,
        "width": info.width,
        "height": info.height,
        "orientation": info.orientation,
        "taken": taken.timestamp() if taken else 0.0,
        "year": taken.year if taken else 0,
        "month": taken.month if taken else 0,
        "day": taken.day if taken else 0,
        "gps": int(info.gps),
        "make": info.make,
        "model": info.model,
        "camera": camera,
    }


def read_records(
    paths: Iterable[str], max_pixels: int = DEFAULT_MAX_PIXELS, threads: int = 4
) -> Iterator[tuple[str, dict | None, ImageError | None]]:
    """Yield ``(path, record, None)`` or ``(path, None, error)`` in order."""
    return ordered_try_map(lambda p: read_record(p, max_pixels), paths,
                           workers=threads, prefetch=4 * threads, catch=ImageError)
