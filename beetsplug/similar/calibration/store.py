"""Calibrations in the library database (table ``similar_calibrations``),
one per backbone and weights; the latest counts. The ``figures`` column
holds JSON: the layers' figures and how the negatives were found;
calibrations from before the tail was measured (a JSON list) are not
used, so they are made again."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..library.models import ensure_schema
from .measure import LayerFigures

if TYPE_CHECKING:
    from beets.library import Library


@dataclass(frozen=True)
class Calibration:
    family: str  # backbone and weights: xception/imagenet
    made: float  # when (Unix time)
    sample: int  # photos measured
    chosen: int  # the best depth
    layers: tuple[LayerFigures, ...]
    crossed: bool = False  # one shoot: photos measured against others' augmented copies

    def at(self, depth: int) -> LayerFigures | None:
        return next((f for f in self.layers if f.depth == depth), None)


def save(lib: Library, calibration: Calibration) -> None:
    ensure_schema(lib)
    with lib.transaction() as tx:
        tx.mutate("INSERT INTO similar_calibrations (family, made, sample, fpr, chosen, figures) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  (calibration.family, calibration.made, calibration.sample, 0.0,
                   calibration.chosen,
                   json.dumps({"layers": [f.as_dict() for f in calibration.layers],
                               "crossed": calibration.crossed})))


def load(lib: Library, family: str) -> Calibration | None:
    """The latest calibration of ``family``, if any (and not of the old kind)."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT family, made, sample, fpr, chosen, figures FROM "
                        "similar_calibrations WHERE family=? ORDER BY id DESC LIMIT 1",
                        (family,))
    if not rows:
        return None
    family, made, sample, _, chosen, figures = rows[0]
    figures = json.loads(figures)
    if not isinstance(figures, dict):  # thresholds at a share of pairs: made again
        return None
    layers = tuple(LayerFigures.of(f) for f in figures["layers"])
    return Calibration(family, made, sample, chosen, layers, figures["crossed"])


def now() -> float:
    return time.time()
