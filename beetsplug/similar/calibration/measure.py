"""How well a layer tells near-duplicates from unrelated photos.

Pure: NumPy and SciPy. For each photo of a sample there is an augmented
copy of it (a *positive* pair) and every other photo of the sample (the
*negative* pairs). From the cosine distances of both:

* separation: the AUC, the chance that a positive pair is closer than a
  negative one (1.0: always);
* threshold: the distance under which only ``fpr`` of negative pairs fall;
  pairs that may really be near-duplicates of each other (same bytes, or
  the same camera within an hour) are not counted as negatives, since a
  library dense with bursts would otherwise set the threshold among them;
* recall: the share of positive pairs under that threshold;
* copy distance: the distance under which 95 % of *light* copies fall
  (re-saved, resized, lightly cropped: see ``augment.light``), the scale of
  "the same picture" that tells a ``copy`` group from other near-duplicates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata


@dataclass(frozen=True)
class LayerFigures:
    depth: int
    layer: str
    dim: int
    auc: float
    threshold: float
    recall: float
    copy_distance: float

    def as_dict(self) -> dict:
        return asdict(self)


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def copy_distances(originals: np.ndarray, copies: np.ndarray) -> np.ndarray:
    """Cosine distance from each photo to its copy."""
    return np.maximum(1.0 - np.einsum("ij,ij->i", unit_rows(originals), unit_rows(copies)), 0.0)


def pair_distances(originals: np.ndarray, copies: np.ndarray,
                   related: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) cosine distances: each photo with its copy, and
    every two different photos of the sample, except the pairs marked in
    ``related`` (a mask over the pairs ``i < j`` in ``np.triu_indices`` order)."""
    positive = copy_distances(originals, copies)
    o = unit_rows(originals)
    sims = o @ o.T
    negative = 1.0 - sims[np.triu_indices(len(o), k=1)]
    if related is not None:
        negative = negative[~related]
    return positive, np.maximum(negative, 0.0)


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(positive distance < negative distance), ties counting half."""
    ranks = rankdata(np.concatenate([positive, negative]))
    neg_ranks = ranks[len(positive):].sum()
    n_neg, n_pos = len(negative), len(positive)
    return float((neg_ranks - n_neg * (n_neg + 1) / 2) / (n_pos * n_neg))


def figures(depth: int, layer: str, originals: np.ndarray, copies: np.ndarray,
            fpr: float, related: np.ndarray | None = None,
            light: np.ndarray | None = None) -> LayerFigures:
    positive, negative = pair_distances(originals, copies, related)
    light_copies = positive if light is None else copy_distances(originals, light)
    threshold = float(np.quantile(negative, fpr))
    return LayerFigures(
        depth=depth, layer=layer, dim=int(originals.shape[1]),
        auc=auc(positive, negative), threshold=threshold,
        recall=float(np.mean(positive < threshold)),
        copy_distance=float(np.quantile(light_copies, 0.95)),
    )


def best(layers: list[LayerFigures]) -> LayerFigures:
    """The layer that separates best (AUC), then the one with more recall,
    then the later one."""
    return max(layers, key=lambda f: (round(f.auc, 3), round(f.recall, 3), -f.depth))
