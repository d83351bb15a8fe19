"""File names from ranks: the rename template, sanitised as beets does."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from beets import util
from beets.exceptions import UserError

from ..library.companions import Companion, suffix
from .planner import Step, plan_units

if TYPE_CHECKING:
    from ..library.models import Photo


def target_name(photo: Photo, rank: int, width: int, fmt: str | None, replacements) -> str:
    """The file name a rank gives, from the rename template, sanitised as
    beets sanitises paths (``replace:`` config included). Without a
    template: the imported name, exactly. A name with nothing before the
    extension, or starting with a dot (a hidden file), is an empty string."""
    if fmt is None:
        return photo.origname
    view = photo.copy()
    view.rank = rank
    view.rankpad = str(rank).zfill(width)
    name = view.evaluate_template(fmt, for_path=True)
    ext = os.path.splitext(photo.origname)[1] or os.fsdecode(os.path.splitext(photo.path)[1])
    stem = name[: -len(ext)] if ext and name.lower().endswith(ext.lower()) else name
    stem = os.path.basename(util.sanitize_path(stem, replacements))
    if not stem.strip() or stem.startswith("."):
        return ""
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
    ``fmt`` is None) in its own folder; its companions take the same stem.
    Raises UserError, before any step is planned, when the template gives
    a photo an empty or hidden name (a field it names is empty)."""
    width = width or max(4, len(str(len(ranked))))
    companions_of = companions_of or {}
    named = [(photo, target_name(photo, rank, width, fmt, replacements))
             for photo, rank in ranked]
    empty = [photo for photo, name in named if not name]
    if empty:
        others = len(empty) - 1
        more = f" (and {others} other photo{'s' * (others != 1)})" if others else ""
        raise UserError(
            f"similar.rename_format {fmt!r} gives "
            f"{util.displayable_path(os.path.basename(os.fsdecode(empty[0].path)))}{more} "
            "an empty or hidden name (a field it uses is empty); nothing renamed: "
            "add $origname or $rankpad to it, such as '$rankpad-$origname'")
    units = []
    for photo, name in named:
        src = os.fsdecode(photo.path)
        stem = os.path.splitext(name)[0]
        units.append((photo.id, [(src, os.path.join(os.path.dirname(src), name))] + [
            (c.path, os.path.join(os.path.dirname(c.path), stem + suffix(c.path, src)))
            for c in companions_of.get(photo.id, ())]))
    return plan_units(units, on_taken=on_taken)
