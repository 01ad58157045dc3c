"""Periods, their alignment, and how CloudWatch writes times and numbers.

Used by the store (datapoint timestamps), GetMetricData (its grid of
periods) and alarm evaluation (its windows and reason strings).

Alignment, as CloudWatch documents it for ``StartTime``: with a period of
1, 5, 10, 20 or 30 seconds the start is rounded down to a multiple of the
period; otherwise to the minute when the start is less than 15 days old, to
5 minutes up to 63 days, to the hour beyond. Datapoints are then stamped
with the start of their period: ``start + k * Period``.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from moorage.monitoring.errors import InvalidParameterValue

HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
_DAY = 86_400


def is_valid_period(period: int) -> bool:
    """1, 5, 10, 20, 30, or a multiple of 60 (CloudWatch's ``Period`` values)."""
    return period in HIGH_RESOLUTION_PERIODS or (period >= 60 and period % 60 == 0)


def check_period(period: int, parameter: str = "Period") -> None:
    if not is_valid_period(period):
        raise InvalidParameterValue(
            f"The parameter {parameter} must be 1, 5, 10, 20, 30 or a multiple of 60, not {period}."
        )


def align_start(start: float, period: int, now: float) -> int:
    """``StartTime`` rounded down as CloudWatch documents it."""
    if period < 60:
        return math.floor(start / period) * period
    age = now - start
    step = 60 if age < 15 * _DAY else 300 if age < 63 * _DAY else 3600
    return math.floor(start / step) * step


def period_count(start: int, end: float, period: int) -> int:
    """How many periods start in ``[start, end)``."""
    if end <= start:
        return 0
    return math.ceil((end - start) / period)


def window_end(now: float, period: int) -> int:
    """The end of the last complete period an alarm looks at.

    Alarms with periods of a minute or more are evaluated every minute over
    sliding windows ending on the minute; high-resolution alarms every
    period.
    """
    step = 60 if period >= 60 else period
    return math.floor(now / step) * step


def iso_millis(ts: float) -> str:
    """``2024-04-16T08:42:00.000+0000``: how alarm reason data writes times."""
    moment = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def reason_date(ts: float) -> str:
    """``16/04/24 08:42:00``: how alarm state reasons write a datapoint's time."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%d/%m/%y %H:%M:%S")


def java_double(value: float) -> str:
    """A double as Java's ``Double.toString`` writes it (CloudWatch's reasons do).

    ``12.0``, ``0.5``, ``1.0E-4``, ``1.2345678E7``: plain between 10^-3 and
    10^7, scientific outside, always with a fractional digit.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    sign = "-" if value < 0 else ""
    if 1e-3 <= magnitude < 1e7:
        text = repr(magnitude)
        return sign + (text if "." in text else text + ".0")
    digits = Decimal(repr(magnitude)).normalize()
    exponent = digits.adjusted()
    mantissa = "".join(str(d) for d in digits.as_tuple().digits)
    fraction = mantissa[1:] or "0"
    return f"{sign}{mantissa[0]}.{fraction}E{exponent}"
