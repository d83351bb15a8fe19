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
from ..imaging.decode import ImageError, is_image_name
from ..imaging.scan import beside, read_records, walk_files
from ..imaging.shots import SIDECARS, Shot, shots
from ..keep import score
from ..keep.score import FORMATS
from . import companions, reconcile
from .models import Photo, ensure_schema, parse_sort

if TYPE_CHECKING:
    from beets.library import Library


def photos(lib: Library, query: str | Sequence[str] = (), sort: str = "path+"):
    """Photos matching a beets query, sorted by ``sort`` unless the query sorts."""
    ensure_schema(lib)
    default_sort = parse_sort(sort)
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
    merged: dict[int, int] = field(default_factory=dict)  # joined row id -> its shot's id
    # (path, photo already imported): another name (hard link) of its file
    aliases: list[tuple[str, Photo]] = field(default_factory=list)
    # (old path, photo): a file that moved; its row followed it
    moved: list[tuple[str, Photo]] = field(default_factory=list)
    # rows under the imported folders whose file is gone (forgotten if asked)
    missing: list[Photo] = field(default_factory=list)
    forgotten: int = 0
    # (path, what it is): FIFOs, sockets, devices; never opened
    odd: list[tuple[str, str]] = field(default_factory=list)
    # photos not in the library under hidden names or folders, passed over
    hidden: list[str] = field(default_factory=list)


def find_shots(paths: Sequence[str], sidecars: Sequence[str],
               skipped: Callable[[str, str], None], hidden: bool = False,
               passed_over: Callable[[str], None] = lambda path: None,
               ) -> tuple[list[Shot], list[str]]:
    """The shots under ``paths`` and the files that are none. A file given
    by itself brings its shot as its folder would: its companions beside
    it, or, for a companion (a sidecar, the JPEG of a RAW+JPEG pair), the
    photo it belongs to. Hidden files and folders count only with
    ``hidden``; else they go to ``passed_over``."""
    folders = [p for p in paths if os.path.isdir(p)]
    files = [p for p in paths if not os.path.isdir(p)]
    found, others = shots(walk_files(folders, skipped, hidden, passed_over), sidecars)
    if files:
        wanted = set(walk_files(files, skipped))
        stems = {os.path.splitext(os.path.basename(w))[0] for w in wanted}

        def near_skipped(path: str, why: str) -> None:  # only odd files of these shots
            if any(os.path.basename(path).startswith(stem) for stem in stems):
                skipped(path, why)

        near, near_others = shots(beside(wanted, near_skipped, hidden), sidecars)
        have = {s.photo for s in found}
        found += [s for s in near if s.photo not in have and wanted & set(s.files())]
        others = sorted(set(others) | (set(near_others) & wanted))
        found.sort(key=lambda s: s.photo)
    return found, others


def import_paths(
    lib: Library,
    paths: Sequence[str],
    max_pixels: int,
    threads: int = 4,
    sidecars: Sequence[str] = SIDECARS,
    formats: Sequence[str] = FORMATS,
    on_error: Callable[[ImageError], None] = lambda e: None,
    on_photo: Callable[[Photo, bool], None] = lambda p, new: None,
    forget_missing: bool = False,
    hidden: bool = False,
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
    that did not change, and a row such a file had of its own is merged
    into the photo's (see :mod:`.reconcile`). A file whose row's path is
    gone (moved, renamed folder) moves that row. Rows under the imported
    folders whose file is gone are reported in ``missing``, and removed
    with ``forget_missing``. Hidden files and folders (a leading dot) are
    imported only with ``hidden``; else the photos among them that are not
    in the library are reported in ``hidden``.
    """
    ensure_schema(lib)
    for p in paths:
        if not os.path.exists(p):
            raise UserError(f"no such file or folder: {p}")
    _remember_roots(lib, paths)
    report = ImportReport()
    passed_over: list[str] = []
    found, report.not_images = find_shots(paths, sidecars,
                                          lambda path, why: report.odd.append((path, why)),
                                          hidden, passed_over.append)
    images = [shot.photo for shot in found]
    shot_of = {shot.photo: shot for shot in found}

    known: dict[str, Photo] = {}
    by_hash: dict[str, list[Photo]] = {}
    by_id: dict[int, Photo] = {}
    for photo in photos(lib, sort=""):
        known[os.fsdecode(photo.path)] = photo
        by_hash.setdefault(photo.hash, []).append(photo)
        by_id[photo.id] = photo
    owner_of = companions.owners(lib)
    report.hidden = [p for p in passed_over if is_image_name(p) and p not in known]

    def a_companion(path: str) -> bool:
        """Known as another photo's companion, and that photo is there."""
        owner = by_id.get(owner_of.get(path, -1))
        return (owner is not None and os.fsdecode(owner.path) != path
                and os.path.exists(os.fsdecode(owner.path)))

    todo = []
    unchanged_photos: list[Photo] = []
    for path in images:
        photo = known.get(path)
        if photo is not None and unchanged(photo, path):
            report.unchanged += 1
            unchanged_photos.append(photo)
        elif photo is None and a_companion(path):
            continue  # never a photo row of its own
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

    claimed: set[int] = set()
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
            ghost = reconcile.moved_from(record, by_hash.get(record["hash"], ()), claimed)
            if ghost is not None:
                report.moved.append((os.fsdecode(ghost.path), ghost))
                update_from_record(ghost, record)
                batch.append((ghost, False))
            else:
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
    _join(lib, report, found, known)
    roots = [os.path.realpath(p) for p in paths if os.path.isdir(p)]
    gone = {p.id for p in report.joined}
    report.missing = reconcile.missing((p for p in known.values() if p.id not in gone), roots)
    if forget_missing:
        with interrupts.deferred():
            for photo in report.missing:
                photo.remove()
        report.forgotten = len(report.missing)
    return report


def _join(lib: Library, report: ImportReport, found: list[Shot], known: dict[str, Photo]) -> None:
    """Rows whose file is now a companion of another photo merge into it."""
    owner_path = {p: shot.photo for shot in found for p, _ in shot.companions}
    rows = {os.fsdecode(p.path): p for p in [*known.values(), *report.added]}
    with interrupts.deferred():
        for path in sorted(owner_path):
            old, owner = known.get(path), rows.get(owner_path[path])
            if old is None or os.fsdecode(old.path) != path:
                continue
            if owner is None or owner.id is None:
                continue  # its photo could not be read: it stays a photo
            report.merged[old.id] = owner.id
            report.joined.append(old)
            reconcile.merge_into(lib, old, owner)

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
