"""What calibration says when a figure means trouble, and which change
would help: every change named is measured on the calibration's own
sample first, and named only when it finds more.

Pure. The figures: without the second check, the share of augmented
copies under the strict threshold (``recall``); with it, the share the
network proposes to the check (``proposed``), which is what decides how
many near-duplicates can be grouped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..numbers import plain
from .store import Calibration

LOW_RECALL = 0.05  # without the check: almost none found
LOW_PROPOSED = 0.5  # with it: fewer than half proposed
BETTER = 0.05  # a change must find this much more to be named


@dataclass(frozen=True)
class Settings:
    """What the figures depend on: ``similar.false_matches`` (``partners``),
    ``similar.verify`` (``checked``) and ``similar.verify_candidates``
    (``candidates``; each photo's nearest are its rounding)."""

    partners: float
    n: int  # photos in the library
    checked: bool
    candidates: float

    @property
    def nearest(self) -> int:
        return max(1, round(self.candidates))


def found(calibration: Calibration, depth: int, at: Settings) -> float:
    """The figure that decides, for the layer of ``depth`` at ``at``."""
    layer = calibration.at(depth)
    if not at.checked:
        return layer.recall(layer.threshold(at.partners, at.n))
    return layer.proposed(at.nearest, at.candidates, at.n)


def troubles(calibration: Calibration, at: Settings, weights: str) -> list[str]:
    """Sentences for the figures that mean trouble, each with the changes
    measured to help."""
    best = calibration.at(calibration.chosen)
    untrained = weights == "none"
    lines = []
    figure = found(calibration, calibration.chosen, at)
    if not at.checked and figure < LOW_RECALL:
        lines.append(f"recall {figure:.2f}: at this threshold the network finds almost none "
                     "of the augmented copies, so few near-duplicates will be grouped; "
                     + _helps(calibration, at, figure, untrained))
    elif at.checked and figure < LOW_PROPOSED:
        lines.append(f"proposed {figure:.2f}: the network puts only that share of the "
                     "augmented copies among the pairs the second check looks at, so many "
                     "near-duplicates will not be grouped; "
                     + _helps(calibration, at, figure, untrained))
    elif best.auc < 0.8:
        lines.append(f"AUC {best.auc:.2f}: this network tells near-duplicates from other "
                     "photos poorly" + ("; it is untrained (weights: none)" if untrained else ""))
    elif untrained:
        lines.append("weights: none is an untrained network, for tests and demos: its "
                     "figures say little about real photos")
    if calibration.crossed:
        lines.append("the sample is mostly one shoot (one camera within an hour): photos "
                     "were measured against the augmented copies of the others, their "
                     "next shots left out")
    return lines


def _helps(calibration: Calibration, at: Settings, figure: float, untrained: bool) -> str:
    """The changes that find at least ``BETTER`` more, as measured here."""
    tried = []
    if not at.checked:
        tried = [[(f"similar.false_matches: {plain(at.partners * k)} finds",
                   replace(at, partners=at.partners * k)) for k in (10, 100)],
                 [("similar.verify: yes proposes", replace(at, checked=True))]]
    else:
        tried = [[(f"similar.verify_candidates: {plain(at.candidates * k)} proposes",
                   replace(at, candidates=at.candidates * k)) for k in (2, 4)]]
    helps = []
    for kind in tried:
        for said, other in kind:  # the smallest change of its kind that helps
            better = found(calibration, calibration.chosen, other)
            if better >= figure + BETTER:
                helps.append(f"{said} {better:.2f}")
                break
    depths = [(found(calibration, f.depth, at), f.depth) for f in calibration.layers
              if f.depth != calibration.chosen]
    if depths and max(depths)[0] >= figure + BETTER:
        better, depth = max(depths)
        helps.append(f"similar.depth: {depth} {'proposes' if at.checked else 'finds'}"
                     f" {better:.2f}")
    if helps:
        return "measured on this sample, " + "; ".join(helps)
    return ("no setting measured on this sample does better"
            + ("; the network is untrained (weights: none): use similar.weights: imagenet "
               "or a weights file" if untrained else ""))
