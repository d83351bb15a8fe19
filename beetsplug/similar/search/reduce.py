"""Reduce vectors to a few dimensions without holding them all.

The projection is the PCA of unit rows, fitted on a sample; every row is
then projected as it streams by. Its axes are orthonormal, so distances
shrink under it and never grow: two photos apart in the reduced space
are at least as far apart in the full one. Near-duplicate candidates can
therefore be ruled out there safely, and confirmed on the full vectors.
"""

from __future__ import annotations

import numpy as np

DIMS = 64


def unit_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows scaled to length 1, their lengths before); zero rows stay zero."""
    norms = np.linalg.norm(rows, axis=1).astype(np.float32)
    return rows / np.where(norms > 0, norms, 1)[:, None], norms


class Reduction:
    """The main axes of unit rows (PCA), fitted on ``sample``."""

    def __init__(self, sample: np.ndarray, dims: int = DIMS, seed: int = 0) -> None:
        unit, _ = unit_rows(np.asarray(sample, dtype=np.float32))
        dims = min(dims, unit.shape[1], len(unit))
        if dims >= unit.shape[1]:  # nothing to reduce: the unit rows themselves
            self.axes = np.eye(unit.shape[1], dtype=np.float32)
            self.mean = np.zeros(unit.shape[1], dtype=np.float32)
        else:
            from sklearn.decomposition import PCA

            pca = PCA(n_components=dims, svd_solver="randomized", random_state=seed).fit(unit)
            self.axes = pca.components_.astype(np.float32)
            self.mean = pca.mean_.astype(np.float32)
        # The projection of the mean: what brings reduced rows back to
        # the projection of the unit rows themselves (see ``metric_rows``).
        self.offset = self.axes @ self.mean

    @classmethod
    def of(cls, axes: np.ndarray, mean: np.ndarray) -> Reduction:
        """The reduction with these ``axes`` (rows) and ``mean``, as fitted before."""
        reduction = cls.__new__(cls)
        reduction.axes = np.asarray(axes, dtype=np.float32)
        reduction.mean = np.asarray(mean, dtype=np.float32)
        reduction.offset = reduction.axes @ reduction.mean
        return reduction

    @property
    def dims(self) -> int:
        return len(self.axes)

    def project(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(reduced unit rows, lengths of ``rows``), float32: ``W (x/|x| - m)``
        computed as ``W x / |x| - W m``, without a normalised copy of ``rows``."""
        rows = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(rows, axis=1).astype(np.float32)
        reduced = rows @ self.axes.T
        reduced /= np.where(norms > 0, norms, 1)[:, None]
        reduced -= self.offset
        return reduced, norms

    def metric_rows(self, reduced: np.ndarray, norms: np.ndarray, metric: str) -> np.ndarray:
        """Reduced rows in which ``metric`` holds: as they are for cosine
        (unit rows), scaled back to their lengths for euclidean."""
        if metric == "cosine":
            return reduced
        return (reduced + self.offset) * norms[:, None]
