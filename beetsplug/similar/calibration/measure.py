"""How well a layer tells near-duplicates from unrelated photos.

Pure: NumPy and SciPy. For each photo of a sample there is an augmented
copy of it (a *positive* pair) and every other photo of the sample (the
*negative* pairs). From the cosine distances of both:

* separation: the AUC, the chance that a positive pair is closer than a
  negative one (1.0: always);
* the tail: the lower tail of the negative distances (see :mod:`.tail`),
  from which a threshold is made for a library's size at run time; pairs
  that may really be near-duplicates of each other (same bytes, or the
  same camera within an hour) are not counted as negatives;
* recall at a threshold: the share of positive pairs under it (the
  positive distances are kept);
* copy distance: the distance under which 95 % of *light* copies fall
  (re-saved, resized, lightly cropped: see ``augment.light``), the scale of
  "the same picture" that tells a ``copy`` group from other near-duplicates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .tail import Tail, fit


@dataclass(frozen=True)
class LayerFigures:
    depth: int
    layer: str
    dim: int
    auc: float
    copy_distance: float
    tail: Tail
    positive: tuple[float, ...]  # distances of the augmented copies, sorted

    def as_dict(self) -> dict:
        return {**asdict(self), "tail": self.tail.as_dict(), "positive": list(self.positive)}

    @classmethod
    def of(cls, data: dict) -> LayerFigures:
        return cls(**{**data, "tail": Tail.of(data["tail"]),
                      "positive": tuple(data["positive"])})

    def threshold(self, partners_per_photo: float, n: int) -> float:
        """The distance for ``partners_per_photo`` wrong partners per photo
        in a library of ``n`` photos."""
        return self.tail.distance_at(partners_per_photo, n)

    def recall(self, threshold: float) -> float:
        """The share of augmented copies under ``threshold``."""
        return float(np.searchsorted(self.positive, threshold) / max(len(self.positive), 1))

    def proposed(self, nearest: int, candidates_per_photo: float, n: int) -> float:
        """The share of augmented copies the network proposes to the second
        check in a library of ``n`` photos: under the distance at
        ``candidates_per_photo`` unrelated partners per photo, or among the
        photo's ``nearest`` nearest (fewer unrelated photos than that
        expected closer, by the tail)."""
        if not self.positive:
            return 0.0
        under = self.threshold(candidates_per_photo, n)
        closer = [(max(n, 2) - 1) * self.tail.probability(d) for d in self.positive]
        return float(np.mean([d < under or c < nearest
                              for d, c in zip(self.positive, closer)]))


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def copy_distances(originals: np.ndarray, copies: np.ndarray) -> np.ndarray:
    """Cosine distance from each photo to its copy."""
    return np.maximum(1.0 - np.einsum("ij,ij->i", unit_rows(originals), unit_rows(copies)), 0.0)


def pair_distances(originals: np.ndarray, copies: np.ndarray,
                   related: np.ndarray | None = None,
                   crossed: np.ndarray | None = None,
                   copied: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) cosine distances: each photo with its copy, and
    every two different photos of the sample, except the pairs marked in
    ``related`` (a mask over the pairs ``i < j`` in ``np.triu_indices`` order).
    ``copies`` are of the photos at rows ``copied`` (default: all). The
    pairs marked in ``crossed`` (same order) count as negatives the other
    way: each photo against the augmented copy of the other, where it has one."""
    copied = np.arange(len(originals)) if copied is None else np.asarray(copied)
    positive = copy_distances(originals[copied], copies)
    o = unit_rows(originals)
    iu = np.triu_indices(len(o), k=1)
    negative = 1.0 - (o @ o.T)[iu]
    if related is not None:
        negative = negative[~related]
    if crossed is not None and crossed.any():
        cross = np.full((len(o), len(o)), np.nan)  # [i, j]: photo i, copy of j
        cross[:, copied] = 1.0 - o @ unit_rows(copies).T
        i, j = iu[0][crossed], iu[1][crossed]
        both = np.concatenate([cross[i, j], cross[j, i]])
        negative = np.concatenate([negative, both[~np.isnan(both)]])
    return positive, np.maximum(negative, 0.0)


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(positive distance < negative distance), ties counting half."""
    from scipy.stats import rankdata  # 1-3 s to import: not on every beet command

    ranks = rankdata(np.concatenate([positive, negative]))
    neg_ranks = ranks[len(positive):].sum()
    n_neg, n_pos = len(negative), len(positive)
    return float((neg_ranks - n_neg * (n_neg + 1) / 2) / (n_pos * n_neg))


def figures(depth: int, layer: str, originals: np.ndarray, copies: np.ndarray,
            related: np.ndarray | None = None, light: np.ndarray | None = None,
            crossed: np.ndarray | None = None, copied: np.ndarray | None = None
            ) -> LayerFigures:
    """``copies`` and ``light`` are of the photos at rows ``copied``
    (default: all). Raises TailError when there are too few negative pairs."""
    positive, negative = pair_distances(originals, copies, related, crossed, copied)
    light_copies = positive if light is None else copy_distances(
        originals if copied is None else originals[copied], light)
    tail = fit(negative)  # first: too few negatives raise
    return LayerFigures(
        depth=depth, layer=layer, dim=int(originals.shape[1]),
        auc=auc(positive, negative),
        copy_distance=float(np.quantile(light_copies, 0.95)),
        tail=tail,
        positive=tuple(float(round(d, 6)) for d in np.sort(positive)),
    )


AUC_TIE = 0.01  # AUCs closer than this are one: the noise of 100 augmented copies


def best(layers: list[LayerFigures], partners_per_photo: float, n: int) -> LayerFigures:
    """Of the layers that separate best (AUC within ``AUC_TIE`` of the
    best), the one with more recall at the threshold for ``n`` photos,
    then the later one."""
    top = max(f.auc for f in layers)
    return max((f for f in layers if f.auc >= top - AUC_TIE), key=lambda f: (
        round(f.recall(f.threshold(partners_per_photo, n)), 3), -f.depth))
