"""CloudWatch statistics: parsing ``Stat`` strings and computing them.

Standard statistics (``SampleCount``, ``Average``, ``Sum``, ``Minimum``,
``Maximum``) come from a period's count, sum, min and max. Extended
statistics need the period's distribution
(:meth:`~moorage.monitoring.buckets.Aggregate.ranked`):

- ``pNN`` / ``pNN.NN``: percentile (nearest rank);
- ``tmNN``, ``wmNN``, ``tcNN``, ``tsNN``: trimmed mean, winsorized mean,
  trimmed count, trimmed sum of the lowest NN % (``tm90`` drops the top 10 %);
- ``TM(a%:b%)``, ``WM(a%:b%)``, ``TC(a%:b%)``, ``TS(a%:b%)``, either bound
  optional; the same with absolute values ``TM(a:b)`` keep values with
  ``a < v <= b``;
- ``PR(a:b)``: percentage of values with ``a < v <= b``;
- ``IQM``: ``TM(25%:75%)``.

A statistic that has no value for a period (no data, percentiles
unavailable, nothing left after trimming) is None: the datapoint leaves it
out, as CloudWatch does.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from enum import StrEnum

from moorage.monitoring.buckets import Aggregate
from moorage.monitoring.distribution import Ranked
from moorage.monitoring.errors import InvalidParameterValue


class StatKind(StrEnum):
    SAMPLE_COUNT = "SampleCount"
    AVERAGE = "Average"
    SUM = "Sum"
    MINIMUM = "Minimum"
    MAXIMUM = "Maximum"
    PERCENTILE = "p"
    TRIMMED_MEAN = "TM"
    WINSORIZED_MEAN = "WM"
    TRIMMED_COUNT = "TC"
    TRIMMED_SUM = "TS"
    PERCENTILE_RANK = "PR"


STANDARD_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

_SHORT = re.compile(r"(?i)(p|tm|wm|tc|ts)(\d{1,3}(?:\.\d{1,10})?)")
_RANGE = re.compile(r"(?i)(TM|WM|TC|TS|PR)\(\s*([^:()]*?)\s*:\s*([^:()]*?)\s*\)")
_BOUND = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(%?)")


@dataclass(frozen=True)
class Statistic:
    """A parsed statistic. ``name`` is the text the caller gave."""

    name: str
    kind: StatKind
    lower: float | None = None
    upper: float | None = None
    # Bounds are percentages (``TM(10%:90%)``) or absolute values (``TM(1:5)``).
    percent: bool = True

    @property
    def is_standard(self) -> bool:
        return self.name in STANDARD_STATISTICS

    @property
    def is_percentile(self) -> bool:
        return self.kind is StatKind.PERCENTILE

    def compute(self, agg: Aggregate) -> float | None:
        """This statistic over one period's data, or None when it has no value."""
        if agg.count <= 0:
            return None
        kind = self.kind
        if kind is StatKind.SAMPLE_COUNT:
            return agg.count
        if kind is StatKind.SUM:
            return agg.total
        if kind is StatKind.AVERAGE:
            return agg.total / agg.count
        if kind is StatKind.MINIMUM:
            return agg.low
        if kind is StatKind.MAXIMUM:
            return agg.high
        ranked = agg.ranked()
        if ranked is None:
            return None
        if kind is StatKind.PERCENTILE and self.upper in (0.0, 100.0):
            # The extremes are known exactly even when the rest is sketched.
            return agg.low if self.upper == 0.0 else agg.high
        return self._extended(ranked)

    def _extended(self, ranked: Ranked) -> float | None:
        kind = self.kind
        if kind is StatKind.PERCENTILE:
            return ranked.percentile(self.upper if self.upper is not None else 100.0)
        if kind is StatKind.PERCENTILE_RANK:
            if ranked.total <= 0:
                return None
            inside = math.fsum(w for _, w in ranked.between(self.lower, self.upper))
            return 100.0 * inside / ranked.total
        if self.percent:
            low = self.lower if self.lower is not None else 0.0
            high = self.upper if self.upper is not None else 100.0
            if kind is StatKind.WINSORIZED_MEAN:
                return ranked.winsorized_mean(low, high)
            kept, _ = ranked.trimmed(low, high)
        else:
            if kind is StatKind.WINSORIZED_MEAN:
                return _winsorized_absolute(ranked, self.lower, self.upper)
            kept = ranked.between(self.lower, self.upper)
        weight = math.fsum(w for _, w in kept)
        if kind is StatKind.TRIMMED_COUNT:
            return weight
        total = math.fsum(v * w for v, w in kept)
        if kind is StatKind.TRIMMED_SUM:
            return total if kept else None
        return total / weight if weight > 0 else None


def _winsorized_absolute(ranked: Ranked, low: float | None, high: float | None) -> float | None:
    if ranked.total <= 0:
        return None
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    return math.fsum(min(max(v, lo), hi) * w for v, w in ranked.pairs()) / ranked.total


@functools.lru_cache(maxsize=1024)
def parse_statistic(text: str) -> Statistic:
    """Parse a ``Stat``/``Statistic``/``ExtendedStatistic`` value.

    Raises :class:`InvalidParameterValue` naming the value when it is not one.
    """
    if text in STANDARD_STATISTICS:
        return Statistic(text, StatKind(text))
    if text.upper() == "IQM":
        return Statistic(text, StatKind.TRIMMED_MEAN, 25.0, 75.0)
    short = _SHORT.fullmatch(text)
    if short:
        number = float(short.group(2))
        if not 0.0 <= number <= 100.0:
            raise _invalid(text)
        prefix = short.group(1).upper()
        kind = StatKind.PERCENTILE if prefix == "P" else StatKind(prefix)
        return Statistic(text, kind, None, number)
    ranged = _RANGE.fullmatch(text)
    if ranged:
        return _parse_range(text, StatKind(ranged.group(1).upper()), ranged[2], ranged[3])
    raise _invalid(text)


def _parse_range(text: str, kind: StatKind, low_text: str, high_text: str) -> Statistic:
    bounds: list[float | None] = []
    percents: set[bool] = set()
    for part in (low_text, high_text):
        if not part:
            bounds.append(None)
            continue
        match = _BOUND.fullmatch(part)
        if not match:
            raise _invalid(text)
        bounds.append(float(match.group(1)))
        percents.add(match.group(2) == "%")
    low, high = bounds
    if len(percents) > 1 or (low is None and high is None):
        raise _invalid(text)
    percent = percents.pop()
    if kind is StatKind.PERCENTILE_RANK and percent:
        raise _invalid(text)
    if percent and any(b is not None and not 0.0 <= b <= 100.0 for b in bounds):
        raise _invalid(text)
    if low is not None and high is not None and low > high:
        raise _invalid(text)
    return Statistic(text, kind, low, high, percent)


def _invalid(text: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"The value {text} for parameter Statistic is invalid: expected one of "
        "SampleCount, Average, Sum, Minimum, Maximum, pNN.NN, tmNN, wmNN, tcNN, tsNN, "
        "TM(a%:b%), WM(a%:b%), TC(a%:b%), TS(a%:b%), PR(a:b) or IQM."
    )
