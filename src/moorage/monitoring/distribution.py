"""Value distributions: the log-bucketed sketch and rank-based statistics.

A bucket of :mod:`moorage.monitoring.buckets` keeps its first raw values
exactly and, past a cap, a :class:`Sketch`: a histogram whose bin ``i`` holds
the values in ``(g^(i-1), g^i]`` with ``g = 1.0202``. Every value reported
from a bin is within 1 % of any value that fell in it (the relative-error
guarantee of DDSketch), so a percentile read from a sketch is within 1 % of a
value of the right rank. Bins are stored densely in an ``array('d')`` from the
lowest to the highest used bin, at most :data:`MAX_BINS` of them (a range of
10^17 between the smallest and the largest value; beyond that the lowest bins
are folded together).

:class:`Ranked` is what :mod:`moorage.monitoring.statistics` reads: values in
ascending order with their weights, exact or from a sketch. Ranks follow
CloudWatch's percentile definition as moorage reads it: ``pX`` is the
nearest-rank value (the smallest value with at least X % of the weight at or
below it); ``TM(a%:b%)`` and friends drop ``floor(n·a/100)`` of the weight
from the bottom and ``floor(n·(100-b)/100)`` from the top.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator

# Relative accuracy of a sketch: 1 %.
ACCURACY = 0.01
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
MAX_BINS = 2048
# Float noise in rank arithmetic (0.07 * 100 is 7.000000000000001).
_EPS = 1e-9


def bin_index(value: float) -> int:
    """The sketch bin of a positive value."""
    return math.ceil(math.log(value) * INV_LOG_GAMMA)


def bin_value(index: int) -> float:
    """The value a bin reports: within :data:`ACCURACY` of everything in it."""
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


class Sketch:
    """A mergeable histogram of non-negative values with 1 % relative error."""

    __slots__ = ("counts", "offset", "zeros")

    def __init__(self) -> None:
        self.offset = 0
        self.counts = array("d")
        self.zeros = 0.0

    @property
    def total(self) -> float:
        return self.zeros + sum(self.counts)

    def add(self, value: float, weight: float = 1.0) -> None:
        if value <= 0.0:
            # Negative values never reach a sketch (percentiles are not
            # defined for them); what is left is zero.
            self.zeros += weight
            return
        self.add_bin(bin_index(value), weight)

    def add_bin(self, index: int, weight: float) -> None:
        counts = self.counts
        j = index - self.offset
        if 0 <= j < len(counts):
            counts[j] += weight
        elif not counts:
            self.offset = index
            counts.append(weight)
        elif j < 0:
            if len(counts) - j > MAX_BINS:
                # Too far below everything else: fold into the lowest bin.
                counts[0] += weight
                return
            self.counts = array("d", bytes(8 * -j)) + counts
            self.offset = index
            self.counts[0] += weight
        else:
            counts.extend(array("d", bytes(8 * (j - len(counts) + 1))))
            counts[j] += weight
            if len(counts) > MAX_BINS:
                self._fold_low(len(counts) - MAX_BINS)

    def _fold_low(self, excess: int) -> None:
        counts = self.counts
        folded = sum(counts[: excess + 1])
        self.counts = counts[excess:]
        self.counts[0] = folded
        self.offset += excess

    def merge(self, other: Sketch) -> None:
        self.zeros += other.zeros
        for j, weight in enumerate(other.counts):
            if weight:
                self.add_bin(other.offset + j, weight)

    def items(self, low: float, high: float) -> Iterator[tuple[float, float]]:
        """``(value, weight)`` ascending; values clamped into ``[low, high]``."""
        if self.zeros:
            yield min(max(0.0, low), high), self.zeros
        for j, weight in enumerate(self.counts):
            if weight:
                yield min(max(bin_value(self.offset + j), low), high), weight

    def nbytes(self) -> int:
        """Approximate memory held, for the documentation's estimates."""
        return 64 + self.counts.itemsize * len(self.counts)


class Ranked:
    """Values in ascending order with weights: the input of rank statistics."""

    __slots__ = ("exact", "total", "values", "weights")

    def __init__(
        self, values: list[float], weights: list[float] | None = None, *, exact: bool = True
    ) -> None:
        self.values = values
        # None means every weight is 1 (raw values): the common, exact case.
        self.weights = weights
        self.total = float(len(values)) if weights is None else math.fsum(weights)
        self.exact = exact

    @classmethod
    def from_raw(cls, values: Iterable[float]) -> Ranked:
        return cls(sorted(values))

    @classmethod
    def from_sketch(cls, sketch: Sketch, low: float, high: float) -> Ranked:
        values: list[float] = []
        weights: list[float] = []
        for value, weight in sketch.items(low, high):
            values.append(value)
            weights.append(weight)
        return cls(values, weights, exact=False)

    def pairs(self) -> Iterator[tuple[float, float]]:
        if self.weights is None:
            for value in self.values:
                yield value, 1.0
        else:
            yield from zip(self.values, self.weights, strict=True)

    def percentile(self, p: float) -> float | None:
        """Nearest-rank ``p``-th percentile, ``0 <= p <= 100``."""
        if not self.values or self.total <= 0:
            return None
        rank = max(math.ceil(p * self.total / 100.0 - _EPS), 1)
        if self.weights is None:
            return self.values[min(rank, len(self.values)) - 1]
        seen = 0.0
        for value, weight in self.pairs():
            seen += weight
            if seen >= rank - _EPS:
                return value
        return self.values[-1]

    def trimmed(self, low_pct: float, high_pct: float) -> tuple[list[tuple[float, float]], float]:
        """The ``(value, weight)`` pairs kept by ``TM(low%:high%)``, and the dropped weight.

        ``floor(n·low/100)`` of the weight is dropped from the bottom and
        ``floor(n·(100-high)/100)`` from the top.
        """
        n = self.total
        drop_low = math.floor(n * low_pct / 100.0 + _EPS)
        drop_high = math.floor(n * (100.0 - high_pct) / 100.0 + _EPS)
        keep_from, keep_to = float(drop_low), n - drop_high
        kept: list[tuple[float, float]] = []
        seen = 0.0
        for value, weight in self.pairs():
            start, seen = seen, seen + weight
            overlap = min(seen, keep_to) - max(start, keep_from)
            if overlap > _EPS:
                kept.append((value, overlap))
        return kept, n - sum(w for _, w in kept)

    def winsorized_mean(self, low_pct: float, high_pct: float) -> float | None:
        """Mean with values beyond the bounds replaced by the bound values."""
        kept, _ = self.trimmed(low_pct, high_pct)
        if not kept or self.total <= 0:
            return None
        n = self.total
        drop_low = math.floor(n * low_pct / 100.0 + _EPS)
        drop_high = math.floor(n * (100.0 - high_pct) / 100.0 + _EPS)
        inner = math.fsum(v * w for v, w in kept)
        return (inner + drop_low * kept[0][0] + drop_high * kept[-1][0]) / n

    def between(self, low: float | None, high: float | None) -> list[tuple[float, float]]:
        """Pairs with ``low < value <= high`` (absolute bounds; None is open)."""
        return [
            (v, w)
            for v, w in self.pairs()
            if (low is None or v > low) and (high is None or v <= high)
        ]
