"""The lower tail of the distances between unrelated photos.

Pure: NumPy and SciPy. A library of N photos has N - 1 partners per
photo, so ``m`` wrong partners per photo on average is a pair probability
of ``m / (N - 1)``: at 100,000 photos and 0.01 wrong partners, 1 in 10
million pairs. No sample measures that, so the tail is measured where
the sample has enough pairs (empirical quantiles) and fitted below.

The fit: ``log(distance)`` against the normal quantile of the pair
probability, a straight line through the lowest quantiles of the sample
(a log-normal lower tail), drawn through the sample's own quantile where
the fit takes over. Measured against a GPD (peaks over threshold)
and a power law (Weibull) lower tail, see ``docs/calibration.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import ndtr, ndtri

FIT_SHARE = 0.05  # the lowest 5 % of the pairs make the fit
MIN_FIT = 20  # pairs at least in the fit
MIN_PAIRS = 30  # fewer unrelated pairs measure nothing
EMPIRICAL_COUNT = 20  # trust the sample's own quantile where >= 20 pairs fall below
GRID = 48  # empirical quantiles kept, log-spaced in probability


class TailError(ValueError):
    """Too few pairs to measure a tail."""


@dataclass(frozen=True)
class Tail:
    pairs: int  # unrelated pairs measured
    mu: float  # the fit: log d = mu + sigma * ndtri(p)
    sigma: float
    p_fit: float  # below this probability the fit is used
    grid: tuple[tuple[float, float], ...]  # (p, distance): the sample's quantiles

    def as_dict(self) -> dict:
        return {**asdict(self), "grid": [list(g) for g in self.grid]}

    @classmethod
    def of(cls, data: dict) -> Tail:
        return cls(data["pairs"], data["mu"], data["sigma"], data["p_fit"],
                   tuple(tuple(g) for g in data["grid"]))

    def quantile(self, p: float) -> float:
        """The distance under which an unrelated pair falls with probability ``p``."""
        p = float(min(max(p, 1e-300), 0.5))
        if p < self.p_fit:
            return float(np.exp(self.mu + self.sigma * ndtri(p)))
        ps, ds = np.array(self.grid).T
        return float(np.interp(np.log(p), np.log(ps), ds))

    def probability(self, distance: float) -> float:
        """The share of unrelated pairs under ``distance`` (inverse of :meth:`quantile`)."""
        ps, ds = np.array(self.grid).T
        if distance >= ds[0]:
            return float(np.exp(np.interp(distance, ds, np.log(ps))))
        if distance <= 0:
            return 0.0
        return float(ndtr((np.log(distance) - self.mu) / self.sigma))

    def distance_at(self, partners_per_photo: float, n: int) -> float:
        """The distance for ``partners_per_photo`` expected wrong partners
        per photo in a library of ``n`` photos."""
        return self.quantile(pair_probability(partners_per_photo, n))


def pair_probability(partners_per_photo: float, n: int) -> float:
    return partners_per_photo / max(int(n) - 1, 1)


def fit(distances: np.ndarray) -> Tail:
    """Measure the lower tail of ``distances`` (unrelated pairs)."""
    d = np.sort(np.asarray(distances, dtype=np.float64).ravel())
    n = len(d)
    if n < MIN_PAIRS:
        raise TailError(f"{n} unrelated pairs")
    k = max(MIN_FIT, int(FIT_SHARE * n))
    low = np.maximum(d[:k], 1e-12)  # a distance of 0: as near as can be told
    z = ndtri((np.arange(1, k + 1) - 0.5) / n)
    sigma = max(float(np.polyfit(z, np.log(low), 1)[0]), 1e-6)
    p_fit = EMPIRICAL_COUNT / n
    grid = tuple((float(p), float(np.quantile(d, p))) for p in np.geomspace(p_fit, 0.5, GRID))
    # The line's slope, through the sample's own quantile at p_fit: continuous there.
    mu = np.log(max(grid[0][1], 1e-12)) - sigma * ndtri(p_fit)
    return Tail(n, float(mu), sigma, float(p_fit), grid)
