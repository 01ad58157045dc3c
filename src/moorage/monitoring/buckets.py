"""Pre-aggregated data: one :class:`Bucket` per second (or minute) of a series.

The store (:mod:`moorage.monitoring.store`) keeps a bucket for every second
that received data, and rolls old seconds into minute buckets; a query merges
the buckets of a period into an :class:`Aggregate`, which
:mod:`moorage.monitoring.statistics` reads.

A bucket keeps the sample count, sum, minimum and maximum, and for
percentiles its first :data:`RAW_CAP` values exactly; past that it switches
to a :class:`~moorage.monitoring.distribution.Sketch` (1 % relative error).
As in CloudWatch, percentiles are not available for a bucket that received a
negative value, or a statistic set other than ``SampleCount == 1`` or
``Minimum == Maximum``; the bucket then drops its distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from math import ceil, log

from moorage.monitoring.distribution import INV_LOG_GAMMA, Ranked, Sketch

# Raw values kept per bucket before switching to a sketch.
RAW_CAP = 64


class Bucket:
    """Count, sum, min, max and the distribution of one second (or minute)."""

    __slots__ = ("count", "high", "low", "ranked", "raw", "sketch", "total")

    def __init__(self) -> None:
        self.count = 0.0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.raw: list[float] | None = []
        self.sketch: Sketch | None = None
        # False once percentiles became unavailable (negative values...).
        self.ranked = True

    def add(self, value: float) -> None:
        """One value (the hot path)."""
        self.count += 1.0
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        raw = self.raw
        if raw is not None:
            if value >= 0.0 and len(raw) < RAW_CAP:
                raw.append(value)
                return
        else:
            # Inlined Sketch.add for a value inside the bins already allocated.
            sketch = self.sketch
            if sketch is not None and value > 0.0:
                j = ceil(log(value) * INV_LOG_GAMMA) - sketch.offset
                counts = sketch.counts
                if 0 <= j < len(counts):
                    counts[j] += 1.0
                    return
        self._add_slow(value, 1.0)

    def add_weighted(self, value: float, weight: float) -> None:
        """``weight`` occurrences of ``value`` (``Values``/``Counts`` input)."""
        if weight <= 0.0:
            return
        self.count += weight
        self.total += value * weight
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        raw = self.raw
        whole = weight == int(weight)
        if raw is not None and value >= 0.0 and whole and len(raw) + weight <= RAW_CAP:
            raw.extend([value] * int(weight))
        else:
            self._add_slow(value, weight)

    def add_set(self, count: float, total: float, low: float, high: float) -> None:
        """A ``StatisticValues`` set."""
        if count <= 0.0:
            return
        # CloudWatch can only rank a set that is a repeated single value.
        if low == high and math.isclose(total, low * count, rel_tol=1e-9, abs_tol=1e-12):
            self.add_weighted(low, count)
            return
        self.count += count
        self.total += total
        self.low = min(self.low, low)
        self.high = max(self.high, high)
        self._unrank()

    def _add_slow(self, value: float, weight: float) -> None:
        if not self.ranked:
            return
        if value < 0.0:
            self._unrank()
            return
        sketch = self.sketch
        if sketch is None:
            sketch = self.sketch = Sketch()
            for v in self.raw or ():
                sketch.add(v)
            self.raw = None
        sketch.add(value, weight)

    def _unrank(self) -> None:
        self.ranked = False
        self.raw = None
        self.sketch = None

    def merge(self, other: Bucket) -> None:
        """Fold ``other`` into this bucket (rolling seconds into a minute)."""
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        if not (self.ranked and other.ranked):
            self._unrank()
            return
        if (
            self.raw is not None
            and other.raw is not None
            and len(self.raw) + len(other.raw) <= RAW_CAP
        ):
            self.raw.extend(other.raw)
            return
        if self.sketch is None:
            self.sketch = Sketch()
            for v in self.raw or ():
                self.sketch.add(v)
            self.raw = None
        if other.sketch is not None:
            self.sketch.merge(other.sketch)
        for v in other.raw or ():
            self.sketch.add(v)


class Aggregate:
    """The buckets of one period, merged on demand."""

    __slots__ = ("_buckets", "_ranked", "count", "high", "low", "total")

    def __init__(self, buckets: Sequence[Bucket]) -> None:
        self._buckets = buckets
        self.count = math.fsum(b.count for b in buckets)
        self.total = math.fsum(b.total for b in buckets)
        self.low = min((b.low for b in buckets), default=math.nan)
        self.high = max((b.high for b in buckets), default=math.nan)
        self._ranked: Ranked | bool | None = False  # False: not computed yet

    def ranked(self) -> Ranked | None:
        """The values in order, or None when percentiles are unavailable."""
        if self._ranked is False:
            self._ranked = self._rank()
        return self._ranked if isinstance(self._ranked, Ranked) else None

    def _rank(self) -> Ranked | None:
        buckets = self._buckets
        if not buckets or any(not b.ranked for b in buckets):
            return None
        if all(b.raw is not None for b in buckets):
            values: list[float] = []
            for b in buckets:
                values.extend(b.raw or ())
            return Ranked.from_raw(values)
        sketch = Sketch()
        for b in buckets:
            if b.sketch is not None:
                sketch.merge(b.sketch)
            for v in b.raw or ():
                sketch.add(v)
        return Ranked.from_sketch(sketch, self.low, self.high)
