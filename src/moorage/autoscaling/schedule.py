"""Scheduled actions' ``Schedule``: ``at(...)``, ``rate(...)`` and ``cron(...)``.

:func:`parse_schedule` validates an expression (and its ``Timezone``) as
``PutScheduledAction`` does; :meth:`Schedule.next_run` says when it runs
next. Pure: times are epoch seconds, the caller brings the clock.

- ``at(yyyy-mm-ddThh:mm:ss)``: once, at that wall-clock time of the time zone
  (UTC by default). A time already past when the action is created runs at
  the scheduler's next tick.
- ``rate(N unit)``: every N minutes, hours or days (``minute``/``minutes``,
  ...); from ``StartTime`` when it is given (that instant included), else
  from the action's creation (one interval after it). The time zone plays no
  part.
- ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``: six fields as
  in EventBridge: ``*``, ``?`` (day-of-month or day-of-week), values, ranges
  ``a-b``, steps ``a/n`` and ``*/n``, lists ``a,b``; months ``1-12`` or
  ``JAN-DEC``, days of the week ``1-7`` (Sunday = 1) or ``SUN-SAT``, years
  1970-2199. A day-of-month and a day-of-week that both restrict the day are
  refused, as are ``L``, ``W`` and ``#`` (moorage does not implement them).
  Wall-clock times of the time zone, daylight saving time included. With a
  ``StartTime``, that instant is a run too, as the user guide says.

``StartTime`` and ``EndTime`` bound every kind: nothing runs before the start
or after the end.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum

from moorage.errors import ValidationError

_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_RATE = re.compile(r"rate\((\d{1,9}) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\(([^()]*)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_YEARS = (1970, 2199)


class ScheduleKind(StrEnum):
    AT = "at"
    RATE = "rate"
    CRON = "cron"


@dataclass(frozen=True)
class CronFields:
    """The sets of values a cron expression matches (``None``: any)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday
    years: frozenset[int]

    def matches_day(self, day: dt.date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days is not None and day.day not in self.days:
            return False
        # date.isoweekday(): Monday = 1 ... Sunday = 7; cron: Sunday = 1.
        weekday = day.isoweekday() % 7 + 1
        return self.weekdays is None or weekday in self.weekdays


@dataclass(frozen=True)
class Schedule:
    kind: ScheduleKind
    zone: dt.tzinfo
    at: float = 0.0
    interval: int = 0
    cron: CronFields | None = None

    def next_run(
        self,
        after: float | None,
        *,
        created: float,
        start: float | None = None,
        end: float | None = None,
    ) -> float | None:
        """The first run later than ``after`` (the first run at all when None); None: no more."""
        found = self._candidate(after, created, start)
        if found is None or (end is not None and found > end):
            return None
        return found

    def _candidate(self, after: float | None, created: float, start: float | None) -> float | None:
        if self.kind is ScheduleKind.AT:
            if after is not None and self.at <= after:
                return None
            return max(self.at, start) if start is not None and self.at < start else self.at
        if start is not None and (after is None or after < start):
            return start
        if self.kind is ScheduleKind.RATE:
            origin = start if start is not None else created
            base = after if after is not None else origin
            steps = max(1, int((base - origin) // self.interval) + 1)
            return origin + steps * self.interval
        assert self.cron is not None
        return _next_cron(self.cron, self.zone, after if after is not None else created)


def parse_schedule(expression: str, timezone: str | None = None) -> Schedule:
    """The schedule ``expression`` describes, or a ``ValidationException`` saying why not."""
    zone = parse_timezone(timezone)
    match = _AT.fullmatch(expression)
    if match is not None:
        try:
            local = dt.datetime.fromisoformat(match.group(1))
        except ValueError:
            raise ValidationError(f"The at expression {expression} is not a valid time.") from None
        return Schedule(ScheduleKind.AT, zone, at=local.replace(tzinfo=zone).timestamp())
    match = _RATE.fullmatch(expression)
    if match is not None:
        value = int(match.group(1))
        if value < 1:
            raise ValidationError(f"The rate expression {expression} must have a positive value.")
        seconds = value * _UNIT_SECONDS[match.group(2).rstrip("s")]
        return Schedule(ScheduleKind.RATE, zone, interval=seconds)
    match = _CRON.fullmatch(expression)
    if match is not None:
        return Schedule(ScheduleKind.CRON, zone, cron=_parse_cron(match.group(1)))
    raise ValidationError(
        f"Unsupported schedule expression {expression[:200]!r}: use at(yyyy-mm-ddThh:mm:ss), "
        "rate(value unit) or cron(Minutes Hours Day-of-month Month Day-of-week Year)."
    )


@functools.cache
def _zone_names() -> frozenset[str]:
    # The IANA names the tz database installed here knows (not "localtime" and the like).
    return frozenset(zoneinfo.available_timezones() - {"localtime", "posixrules", "Factory"})


def parse_timezone(name: str | None) -> dt.tzinfo:
    if name is None:
        return dt.UTC
    try:
        if name not in _zone_names():
            raise ValueError(name)
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            f"Unsupported time zone {name[:100]!r}: use the canonical name of an IANA time zone "
            "(such as Etc/GMT+9 or Pacific/Tahiti)."
        ) from None


# -- cron ----------------------------------------------------------------------


def _parse_cron(text: str) -> CronFields:
    fields = text.split()
    if len(fields) != 6:
        raise ValidationError(
            f"The cron expression cron({text[:200]}) must have six fields: Minutes Hours "
            f"Day-of-month Month Day-of-week Year (it has {len(fields)})."
        )
    minute, hour, dom, month, dow, year = fields
    if dom == "?" and dow == "?":
        raise ValidationError(
            "A cron expression cannot have ? in both Day-of-month and Day-of-week."
        )
    days = None if dom in ("*", "?") else _field(dom, "Day-of-month", 1, 31, {})
    weekdays = None if dow in ("*", "?") else _field(dow, "Day-of-week", 1, 7, _WEEKDAYS)
    if days is not None and weekdays is not None:
        raise ValidationError(
            "A cron expression cannot restrict both Day-of-month and Day-of-week: use ? in one "
            "of them."
        )
    return CronFields(
        minutes=_field(minute, "Minutes", 0, 59, {}),
        hours=_field(hour, "Hours", 0, 23, {}),
        days=days,
        months=_field(month, "Month", 1, 12, _MONTHS),
        weekdays=weekdays,
        years=_field(year, "Year", *_YEARS, {}),
    )


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        values.update(_part(part, name, low, high, names))
    return frozenset(values)


def _part(part: str, name: str, low: int, high: int, names: dict[str, int]) -> range:
    bad = ValidationError(
        f"Invalid cron field {name}: {part[:50]!r} (use *, a value from {low} to {high}, a "
        "range a-b, a step a/n or */n, or a list of them; L, W and # are not supported)."
    )
    head, _, step_text = part.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise bad
        step = int(step_text)
    if head == "*":
        first, last = low, high
    elif "-" in head:
        left, _, right = head.partition("-")
        first, last = _value(left, names, bad), _value(right, names, bad)
    else:
        first = _value(head, names, bad)
        last = high if step_text else first
    if not low <= first <= last <= high:
        raise bad
    return range(first, last + 1, step)


def _value(text: str, names: dict[str, int], bad: ValidationError) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit() or len(text) > 4:
        raise bad
    return int(text)


def _next_cron(fields: CronFields, zone: dt.tzinfo, after: float) -> float | None:
    """The first minute matching ``fields`` (wall-clock time of ``zone``) later than ``after``."""
    local = dt.datetime.fromtimestamp(after, zone)
    day = local.date()
    last_year = max(fields.years)
    hours, minutes = sorted(fields.hours), sorted(fields.minutes)
    while day.year <= last_year:
        if day.year not in fields.years:
            day = dt.date(day.year + 1, 1, 1)
            continue
        if day.month not in fields.months:
            day = _first_of_next_month(day)
            continue
        if fields.matches_day(day):
            for hour in hours:
                for minute in minutes:
                    moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    stamp = moment.timestamp()
                    if stamp > after:
                        return stamp
        day += dt.timedelta(days=1)
    return None


def _first_of_next_month(day: dt.date) -> dt.date:
    if day.month == 12:
        return dt.date(day.year + 1, 1, 1)
    return dt.date(day.year, day.month + 1, 1)
