"""``similar-featurize``: pick the photos that need vectors, make, store.

Glue between the library and the pure pipeline.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..imaging.decode import ImageError
from ..imaging.scan import read_record
from ..keep import score
from ..library import vectors
from ..library.photos import unchanged, update_from_record
from ..progress import Progress
from ..verify.store import keep_features
from .extractor import FeatureExtractor
from .pipeline import featurize

if TYPE_CHECKING:
    from beets.library import Library

    from ..library.models import Photo


@dataclass(frozen=True)
class Settings:
    model: str
    depth: int
    weights: str
    batch_size: int
    threads: int
    dtype: str
    max_pixels: int
    formats: tuple[str, ...] = score.FORMATS  # best first, for the quality score


@dataclass
class Report:
    stored: int = 0
    skipped: int = 0  # already done and unchanged
    seconds: float = 0.0  # featurizing time, model loading excluded
    errors: list[ImageError] = field(default_factory=list)


def refresh_changed(photo: Photo, max_pixels: int) -> None:
    """Re-read a photo whose file changed since import; raises ImageError."""
    path = os.fsdecode(photo.path)
    if not os.path.lexists(path):
        raise ImageError(path, "file vanished",
                         "re-import its folder or remove it from the library")
    if not unchanged(photo, path):
        update_from_record(photo, read_record(path, max_pixels))
        photo.store()


def needing_work(photos: Sequence[Photo], stored: dict[int, str], force: bool,
                 max_pixels: int, report: Report,
                 on_error: Callable[[ImageError], None]) -> list[Photo]:
    todo = []
    for photo in photos:
        try:
            refresh_changed(photo, max_pixels)
        except ImageError as exc:
            report.errors.append(exc)
            on_error(exc)
            continue
        if not force and stored.get(photo.id) == photo.hash:
            report.skipped += 1
        else:
            todo.append(photo)
    return todo


def _store_measures(measured, formats) -> None:
    """Sharpness and exposure from the featurizing decode, and the quality
    they make with the other parts (run inside the vectors' transaction)."""
    for photo, m in measured:
        photo.sharpness, photo.exposure = round(m.sharpness, 4), round(m.exposure, 4)
        photo.quality = score.parts(photo, formats).quality
        photo.store()


def run(
    lib: Library,
    photos: Sequence[Photo],
    settings: Settings,
    get_extractor: Callable[[], FeatureExtractor],
    key: str,
    force: bool = False,
    on_error: Callable[[ImageError], None] = lambda e: None,
    local: bool = False,
) -> Report:
    """Featurize ``photos`` under model ``key``; store batch by batch.
    With ``local`` (the second check on), the same decode gives the
    check's features, kept in its cache.

    The model is only built when there is work. An interruption keeps
    every batch already stored.
    """
    report = Report()
    todo = needing_work(photos, vectors.stored_hashes(lib, key), force,
                        settings.max_pixels, report, on_error)
    if not todo:
        return report
    extractor = get_extractor()
    by_id = {p.id: p for p in todo}

    progress = Progress(len(todo), "featurize")
    started = time.perf_counter()

    def failed(photo_id: int, error: ImageError) -> None:
        report.errors.append(error)
        on_error(error)
        progress.update(1)

    try:
        for batch in featurize(
            ((p.id, os.fsdecode(p.path)) for p in todo),
            extractor,
            batch_size=settings.batch_size,
            threads=settings.threads,
            max_pixels=settings.max_pixels,
            on_error=failed,
            local=local,
        ):
            keep_features(lib, [(pid, by_id[pid].hash, found.size, found.mtime, found.features)
                                for pid, _, _, found in batch if found is not None])
            report.stored += vectors.save(
                lib, key,
                [(pid, by_id[pid].hash, vec) for pid, vec, _, _ in batch],
                settings.dtype,
                lambda: _store_measures([(by_id[pid], m) for pid, _, m, _ in batch],
                                        settings.formats),
            )
            progress.update(len(batch))
    finally:
        report.seconds = time.perf_counter() - started
        progress.close()
    return report
