"""Scheduled actions' schedules: at(), rate(), cron(), time zones, start and end."""

from __future__ import annotations

import datetime as dt

import pytest

from moorage.autoscaling.schedule import parse_schedule
from moorage.errors import ValidationError


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def local(zone: str, *args: int) -> float:
    from zoneinfo import ZoneInfo

    return dt.datetime(*args, tzinfo=ZoneInfo(zone)).timestamp()


CREATED = utc(2026, 3, 2, 9, 30, 15)  # a Monday


def test_at_runs_once_at_its_time_in_utc_or_the_time_zone() -> None:
    schedule = parse_schedule("at(2026-03-02T10:00:00)")
    first = schedule.next_run(None, created=CREATED)
    assert first == utc(2026, 3, 2, 10, 0)
    assert schedule.next_run(first, created=CREATED) is None
    tokyo = parse_schedule("at(2026-03-02T19:00:00)", "Asia/Tokyo")
    assert tokyo.next_run(None, created=CREATED) == utc(2026, 3, 2, 10, 0)


def test_an_at_time_already_past_is_due_at_once() -> None:
    schedule = parse_schedule("at(2020-01-01T00:00:00)")
    assert schedule.next_run(None, created=CREATED) == utc(2020, 1, 1)


def test_rate_counts_from_creation_or_from_the_start_time() -> None:
    every_five = parse_schedule("rate(5 minutes)")
    first = every_five.next_run(None, created=CREATED)
    assert first == CREATED + 300
    assert every_five.next_run(first, created=CREATED) == CREATED + 600
    # Missed runs are not made up: the next one after a late tick.
    assert every_five.next_run(CREATED + 1000, created=CREATED) == CREATED + 1200
    start = utc(2026, 3, 3)
    assert every_five.next_run(None, created=CREATED, start=start) == start
    assert every_five.next_run(start, created=CREATED, start=start) == start + 300
    assert parse_schedule("rate(1 day)").next_run(None, created=CREATED) == CREATED + 86_400
    assert parse_schedule("rate(2 hours)").next_run(None, created=CREATED) == CREATED + 7200


def test_end_time_stops_a_recurring_schedule() -> None:
    hourly = parse_schedule("rate(1 hour)")
    end = CREATED + 2 * 3600 + 1
    runs = []
    after = None
    while (run := hourly.next_run(after, created=CREATED, end=end)) is not None:
        runs.append(run)
        after = run
    assert runs == [CREATED + 3600, CREATED + 7200]


def test_cron_fields_ranges_lists_steps_and_names() -> None:
    daily = parse_schedule("cron(0 10 * * ? *)")
    assert daily.next_run(None, created=CREATED) == utc(2026, 3, 2, 10, 0)
    assert daily.next_run(utc(2026, 3, 2, 10, 0), created=CREATED) == utc(2026, 3, 3, 10, 0)
    weekdays = parse_schedule("cron(0 18 ? * MON-FRI *)")
    friday = utc(2026, 3, 6, 18, 0)
    assert weekdays.next_run(friday, created=CREATED) == utc(2026, 3, 9, 18, 0)
    quarter = parse_schedule("cron(0/15 * * * ? *)")
    assert quarter.next_run(None, created=CREATED) == utc(2026, 3, 2, 9, 45)
    listed = parse_schedule("cron(5,35 8-9 1 JAN,MAR ? 2026-2027)")
    assert listed.next_run(None, created=CREATED) == utc(2027, 1, 1, 8, 5)
    sundays = parse_schedule("cron(30 6 ? * 1 *)")  # 1 = Sunday
    assert sundays.next_run(None, created=CREATED) == utc(2026, 3, 8, 6, 30)
    assert parse_schedule("cron(0 0 1 1 ? 2025)").next_run(None, created=CREATED) is None


def test_cron_follows_the_time_zone_across_daylight_saving_time() -> None:
    nine = parse_schedule("cron(0 9 * * ? *)", "America/New_York")
    before = utc(2026, 3, 7, 15, 0)  # 10:00 EST, past that day's run
    # 9:00 EST is 14:00 UTC; after the switch on March 8, 9:00 EDT is 13:00 UTC.
    assert nine.next_run(before, created=before) == local("America/New_York", 2026, 3, 8, 9, 0)
    assert nine.next_run(before, created=before) == utc(2026, 3, 8, 13, 0)
    assert nine.next_run(utc(2026, 3, 6, 12, 0), created=before) == utc(2026, 3, 6, 14, 0)


def test_a_start_time_is_a_run_of_a_cron_schedule_too() -> None:
    start = utc(2026, 3, 2, 9, 31, 30)
    hourly = parse_schedule("cron(0 * * * ? *)")
    assert hourly.next_run(None, created=CREATED, start=start) == start
    assert hourly.next_run(start, created=CREATED, start=start) == utc(2026, 3, 2, 10, 0)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("every 5 minutes", "Unsupported schedule expression"),
        ("rate(0 minutes)", "positive"),
        ("rate(5 weeks)", "Unsupported schedule expression"),
        ("at(2026-13-01T00:00:00)", "not a valid time"),
        ("cron(0 10 * * *)", "six fields"),
        ("cron(0 10 ? * ? *)", "both"),
        ("cron(0 10 1 * MON *)", "both Day-of-month and Day-of-week"),
        ("cron(0 25 * * ? *)", "Invalid cron field Hours"),
        ("cron(0 10 L * ? *)", "L, W and #"),
        ("cron(0 10 ? * 2#1 *)", "Invalid cron field Day-of-week"),
        ("cron(0/0 * * * ? *)", "Invalid cron field Minutes"),
        ("cron(0 10 * * ? 1960)", "Invalid cron field Year"),
    ],
)
def test_invalid_expressions_say_why(expression: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_schedule(expression)
    assert words in caught.value.message


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "../../etc/passwd", "", "UTC\x00", "localtime", "/etc/localtime"]
)
def test_unknown_time_zones_are_refused(zone: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_schedule("cron(0 10 * * ? *)", zone)
    assert "IANA time zone" in caught.value.message
