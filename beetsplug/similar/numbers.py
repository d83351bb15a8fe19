"""Figures for people: plain decimals, never ``1.579e-06``; pure."""

from __future__ import annotations

import math

import numpy as np


def plain(value: float, verbose: bool = False) -> str:
    """``value`` with four significant digits and no exponent
    (``0.00001953``, ``1234``); with ``verbose`` (``-v``), scientific
    notation where shorter."""
    value = float(value)
    if verbose:
        return f"{value:.4g}"
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    return np.format_float_positional(value, precision=4, fractional=False, trim="-")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 photo``, ``2 photos``: ``plural`` when adding an s will not do."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
