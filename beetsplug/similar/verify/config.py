"""The second check as the commands configure it (``similar.verify``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .store import Verifier

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin
    from ..features.job import Settings
    from ..grouping.rule import NearCheck


def near_check(plugin: SimilarPlugin, lib: Library, opts, chosen: Settings) -> NearCheck | None:
    """The check ``similar-dupes``, ``similar-report`` and ``similar-order``
    share: None when ``similar.verify`` is off (the network alone)."""
    from ..commands import settings
    from ..grouping.rule import NearCheck

    candidate = settings.candidate_threshold(plugin, lib, opts, chosen)
    if candidate is None:
        return None
    verifier = Verifier(lib, settings.max_pixels(plugin), settings.threads(plugin))
    return NearCheck(candidate, verifier, settings.nearest_candidates(plugin))
