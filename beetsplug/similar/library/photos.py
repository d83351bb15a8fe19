"""Library operations on photos: query and import.

Thin glue between the pure scanner and the beets database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beets import dbcore
from beets.exceptions import UserError

from .. import interrupts
from ..imaging.decode import ImageError
from ..imaging.scan import read_records, walk_files
from ..imaging.shots import SIDECARS, shots
from ..keep import score
from ..keep.score import FORMATS
from . import companions
from .models import Photo, ensure_schema

if TYPE_CHECKING:
    from beets.library import Library


def photos(lib: Library, query: str | Sequence[str] = (), sort: str = "path+"):
    """Photos matching a beets query, sorted by ``sort`` unless the query sorts."""
    ensure_schema(lib)
    default_sort = dbcore.sort_from_strings(Photo, [sort]) if sort else None
    try:
        return lib._fetch(Photo, list(query) if not isinstance(query, str) else query,
                          default_sort)
    except dbcore.InvalidQueryError as exc:
        raise UserError(f"invalid query: {exc}") from None


def unchanged(photo: Photo, path: str) -> bool:
    """True when the file still has the size and mtime the library stored."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_size == photo.size and st.st_mtime == photo.mtime


def update_from_record(photo: Photo, record: dict) -> None:
    """Refresh a known photo from a new reading; its imported name stays."""
    photo.update({k: v for k, v in record.items() if k != "origname"})


def import_roots(lib: Library) -> list[str]:
    """The folders given to ``similar-import`` so far (resolved)."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        return [os.fsdecode(row[0]) for row in tx.query("SELECT path FROM similar_roots")]


def _remember_roots(lib: Library, paths: Sequence[str]) -> None:
    folders = {p if os.path.isdir(p) else os.path.dirname(p)
               for p in map(os.path.realpath, paths)}
    with lib.transaction() as tx:
        tx.mutate_many("INSERT OR IGNORE INTO similar_roots (path) VALUES (?)",
                       [(os.fsencode(f),) for f in sorted(folders)])


def _same_file(path: str, candidates) -> Photo | None:
    """The photo among ``candidates`` whose file ``path`` is (hard link)."""
    for photo in candidates:
        try:
            if os.path.samefile(path, photo.path):
                return photo
        except OSError:
            continue
    return None


@dataclass
class ImportReport:
    added: list[Photo] = field(default_factory=list)
    updated: list[Photo] = field(default_factory=list)
    unchanged: int = 0
    errors: list[ImageError] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)
    # photos that were rows of their own and are now companions of another
    joined: list[Photo] = field(default_factory=list)
    # (path, photo already imported): another name (hard link) of its file
    aliases: list[tuple[str, Photo]] = field(default_factory=list)


def import_paths(
    lib: Library,
    paths: Sequence[str],
    max_pixels: int,
    threads: int = 4,
    sidecars: Sequence[str] = SIDECARS,
    formats: Sequence[str] = FORMATS,
    on_error: Callable[[ImageError], None] = lambda e: None,
    on_photo: Callable[[Photo, bool], None] = lambda p, new: None,
) -> ImportReport:
    """Add or refresh every image under ``paths``.

    A file already in the library with the same size and mtime is left
    alone; one that changed is re-read. Bad files are reported through
    ``on_error`` and skipped; the run goes on. One file gets one row:
    symbolic links are followed to the file they point at (see
    :func:`walk_files`), and a hard link to a photo already in the library
    is recorded in ``aliases``, not added. Files that belong to a photo
    (sidecars, the JPEG of a RAW+JPEG pair, a Live Photo's video; see
    :mod:`..imaging.shots`) are recorded as its companions, also for photos
    that did not change, and a row such a file had of its own is removed.
    """
    ensure_schema(lib)
    for p in paths:
        if not os.path.exists(p):
            raise UserError(f"no such file or folder: {p}")
    _remember_roots(lib, paths)
    report = ImportReport()
    found, report.not_images = shots(walk_files(paths), sidecars)
    images = [shot.photo for shot in found]
    shot_of = {shot.photo: shot for shot in found}

    known: dict[str, Photo] = {}
    by_hash: dict[str, list[Photo]] = {}
    for photo in photos(lib, sort=""):
        known[os.fsdecode(photo.path)] = photo
        by_hash.setdefault(photo.hash, []).append(photo)

    todo = []
    unchanged_photos: list[Photo] = []
    for path in images:
        photo = known.get(path)
        if photo is not None and unchanged(photo, path):
            report.unchanged += 1
            unchanged_photos.append(photo)
        else:
            todo.append(path)

    batch: list[tuple[Photo, bool]] = []

    def with_companions(photo: Photo) -> None:
        shot = shot_of[os.fsdecode(photo.path)]
        photo.formats, photo.has_raw = companions.formats(
            shot.photo, [p for p, _ in shot.companions])
        photo.edited = int(any(kind == "sidecar" for _, kind in shot.companions))
        photo.quality = score.parts(photo, formats).quality

    def flush() -> None:
        with interrupts.deferred(), lib.transaction() as tx:
            for photo, new in batch:
                with_companions(photo)
                photo.add(lib) if new else photo.store()
                companions.store(tx, photo.id, shot_of[os.fsdecode(photo.path)].companions)
        for photo, new in batch:
            on_photo(photo, new)
        batch.clear()

    for path, record, error in read_records(todo, max_pixels, threads):
        if error is not None:
            report.errors.append(error)
            on_error(error)
            continue
        photo = known.get(path)
        if photo is None:
            same = _same_file(path, by_hash.get(record["hash"], ()))
            if same is not None:
                report.aliases.append((path, same))
                continue
            photo = Photo(lib, **record)
            by_hash.setdefault(photo.hash, []).append(photo)
            report.added.append(photo)
            batch.append((photo, True))
        else:
            update_from_record(photo, record)
            report.updated.append(photo)
            batch.append((photo, False))
        if len(batch) >= 200:
            flush()
    flush()
    _refresh_companions(lib, unchanged_photos, shot_of, with_companions)
    taken_over = {p for shot in found for p, _ in shot.companions}
    report.joined = [known[p] for p in sorted(taken_over) if p in known]
    for photo in report.joined:
        photo.remove()
    return report


def _refresh_companions(lib: Library, unchanged: list[Photo], shot_of, with_companions) -> None:
    """Companions come and go (an editor writes a sidecar) while the photo
    stays the same: record them for unchanged photos too, where they changed."""
    stored = companions.of(lib, [p.id for p in unchanged])
    with interrupts.deferred(), lib.transaction() as tx:
        for photo in unchanged:
            now = shot_of[os.fsdecode(photo.path)].companions
            if now != [(c.path, c.kind) for c in stored.get(photo.id, [])]:
                with_companions(photo)
                photo.store()
                companions.store(tx, photo.id, now)
