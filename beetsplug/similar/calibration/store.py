"""Calibrations in the library database (table ``similar_calibrations``),
one per backbone and weights; the latest counts."""

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
    fpr: float
    chosen: int  # the best depth
    layers: tuple[LayerFigures, ...]

    def at(self, depth: int) -> LayerFigures | None:
        return next((f for f in self.layers if f.depth == depth), None)


def save(lib: Library, calibration: Calibration) -> None:
    ensure_schema(lib)
    with lib.transaction() as tx:
        tx.mutate("INSERT INTO similar_calibrations (family, made, sample, fpr, chosen, figures) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  (calibration.family, calibration.made, calibration.sample, calibration.fpr,
                   calibration.chosen, json.dumps([f.as_dict() for f in calibration.layers])))


def load(lib: Library, family: str) -> Calibration | None:
    """The latest calibration of ``family``, if any."""
    ensure_schema(lib)
    with lib.transaction() as tx:
        rows = tx.query("SELECT family, made, sample, fpr, chosen, figures FROM "
                        "similar_calibrations WHERE family=? ORDER BY id DESC LIMIT 1",
                        (family,))
    if not rows:
        return None
    family, made, sample, fpr, chosen, figures = rows[0]
    layers = tuple(LayerFigures(**f) for f in json.loads(figures))
    return Calibration(family, made, sample, fpr, chosen, layers)


def now() -> float:
    return time.time()
