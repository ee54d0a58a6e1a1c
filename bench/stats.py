"""Order statistics over timings (nearest-rank percentiles: every reported value was observed)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``pct`` % of values at or below."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no values")
    return float(statistics.median(values))


def ratio(numerator: float, denominator: float) -> float:
    if denominator <= 0:
        raise ValueError(f"reference figure must be positive, got {denominator}")
    return numerator / denominator


def ms(nanoseconds: float) -> float:
    return nanoseconds / 1e6
