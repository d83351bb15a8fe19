"""File names from ranks: the rename template, sanitised as beets does."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from beets import util

from ..library.companions import Companion, suffix
from .planner import Step, plan_units

if TYPE_CHECKING:
    from ..library.models import Photo


def target_name(photo: Photo, rank: int, width: int, fmt: str | None, replacements) -> str:
    """The file name a rank gives, from the rename template, sanitised as
    beets sanitises paths (``replace:`` config included). Without a
    template: the imported name, exactly."""
    if fmt is None:
        return photo.origname
    view = photo.copy()
    view.rank = rank
    view.rankpad = str(rank).zfill(width)
    name = view.evaluate_template(fmt, for_path=True)
    ext = os.path.splitext(photo.origname)[1] or os.fsdecode(os.path.splitext(photo.path)[1])
    stem = name[: -len(ext)] if ext and name.lower().endswith(ext.lower()) else name
    stem = os.path.basename(util.sanitize_path(stem, replacements))
    # The extension keeps its case: a sidecar named IMG.CR2.xmp must go on
    # matching its photo's name.
    return fit_name(stem, ext, util.get_max_filename_length())


def fit_name(stem: str, ext: str, limit: int) -> str:
    """``stem + ext`` cut to ``limit`` bytes on disk, whole characters only.
    Bytes that are not UTF-8 (surrogates) are kept, unlike beets'
    ``truncate_path``, so such a name survives exactly."""
    budget, kept = limit - len(os.fsencode(ext)), []
    for char in stem:
        budget -= len(os.fsencode(char))
        if budget < 0:
            break
        kept.append(char)
    return "".join(kept) + ext


def rename_steps(ranked: Sequence[tuple[Photo, int]], fmt: str | None, replacements,
                 companions_of: Mapping[int, Sequence[Companion]] | None = None,
                 width: int | None = None, on_taken=lambda key, name, instead: None
                 ) -> list[Step]:
    """Steps giving each photo its templated name (its imported name when
    ``fmt`` is None) in its own folder; its companions take the same stem."""
    width = width or max(4, len(str(len(ranked))))
    companions_of = companions_of or {}
    units = []
    for photo, rank in ranked:
        src = os.fsdecode(photo.path)
        name = target_name(photo, rank, width, fmt, replacements)
        stem = os.path.splitext(name)[0]
        units.append((photo.id, [(src, os.path.join(os.path.dirname(src), name))] + [
            (c.path, os.path.join(os.path.dirname(c.path), stem + suffix(c.path, src)))
            for c in companions_of.get(photo.id, ())]))
    return plan_units(units, on_taken=on_taken)
