"""The metric store: period alignment, units, input shapes, retention, ListMetrics."""

from __future__ import annotations

import datetime as dt

import pytest

from moorage.clock import FakeClock
from moorage.monitoring import (
    DimensionFilter,
    InvalidParameterCombination,
    InvalidParameterValue,
    MetricKey,
    MetricStore,
    Retention,
    parse_statistic,
)
from moorage.monitoring.timegrid import align_start

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()
KEY = MetricKey.of("App", "Latency", {"Host": "a"})


def _store(retention: Retention | None = None) -> tuple[FakeClock, MetricStore]:
    clock = FakeClock(T0)
    return clock, MetricStore(clock, retention)


def test_datapoints_are_stamped_with_period_starts_aligned_to_the_minute() -> None:
    clock, store = _store()
    rec = store.recorder(KEY, "Milliseconds")
    for offset, value in [(5, 1.0), (59, 3.0), (61, 10.0), (185, 7.0)]:
        rec.record(value, T0 + offset)
    clock.set(T0 + 300)
    points = store.get_statistics(KEY, T0 + 23, T0 + 300, 60, ["Sum", "SampleCount"])
    # StartTime 10:00:23 is rounded down to 10:00:00.
    assert [(p.timestamp - T0, dict(p.values)) for p in points] == [
        (0, {"Sum": 4.0, "SampleCount": 2.0}),
        (60, {"Sum": 10.0, "SampleCount": 1.0}),
        (180, {"Sum": 7.0, "SampleCount": 1.0}),
    ]
    assert all(p.unit == "Milliseconds" for p in points)


def test_sub_minute_periods_align_to_divisions_of_the_minute() -> None:
    clock, store = _store()
    rec = store.recorder(KEY)
    for offset in (21, 29, 30, 31, 44):
        rec.record(float(offset), T0 + offset)
    clock.set(T0 + 60)
    ten = store.get_statistics(KEY, T0 + 23, T0 + 60, 10, ["Maximum"])
    assert [(p.timestamp - T0, p.values["Maximum"]) for p in ten] == [
        (20, 29.0),
        (30, 31.0),
        (40, 44.0),
    ]
    one = store.get_statistics(KEY, T0 + 30, T0 + 31, 1, ["SampleCount"])
    assert [(p.timestamp - T0, p.values["SampleCount"]) for p in one] == [(30, 1.0)]


def test_start_rounding_depends_on_age() -> None:
    now = T0
    assert align_start(T0 + 17, 5, now) == T0 + 15
    assert align_start(T0 + 17, 1, now) == T0 + 17
    assert align_start(T0 - 3600 + 17, 300, now) == T0 - 3600
    sixteen_days = T0 - 16 * 86_400
    assert align_start(sixteen_days + 7 * 60 + 3, 300, now) == sixteen_days + 5 * 60
    seventy_days = T0 - 70 * 86_400
    assert align_start(seventy_days + 3599, 3600, now) == seventy_days


def test_units_are_kept_apart_unless_a_unit_is_asked_for() -> None:
    clock, store = _store()
    store.record("App", "Latency", {"Host": "a"}, 2.0, "Milliseconds", T0 + 1)
    store.record("App", "Latency", {"Host": "a"}, 2000.0, "Microseconds", T0 + 2)
    clock.set(T0 + 60)
    both = store.get_statistics(KEY, T0, T0 + 60, 60, ["Average"])
    assert [(p.unit, p.values["Average"]) for p in both] == [
        ("Microseconds", 2000.0),
        ("Milliseconds", 2.0),
    ]
    only = store.get_statistics(KEY, T0, T0 + 60, 60, ["Average"], unit="Milliseconds")
    assert [(p.unit, p.values["Average"]) for p in only] == [("Milliseconds", 2.0)]
    assert store.get_statistics(KEY, T0, T0 + 60, 60, ["Average"], unit="Seconds") == []
    merged = store.points(KEY, parse_statistic("SampleCount"), int(T0), T0 + 60, 60)
    assert [p.value for p in merged] == [2.0]


def test_statistic_sets_and_value_arrays() -> None:
    clock, store = _store()
    rec = store.recorder(KEY, "Count")
    rec.record_statistic_set(10, 55.0, 1.0, 10.0, T0 + 1)
    rec.record_values([1.0, 2.0, 3.0], [1, 2, 3], T0 + 2)
    clock.set(T0 + 60)
    [point] = store.get_statistics(
        KEY, T0, T0 + 60, 60, ["SampleCount", "Sum", "Minimum", "Maximum", "p50"]
    )
    assert point.standard == {"SampleCount": 16.0, "Sum": 69.0, "Minimum": 1.0, "Maximum": 10.0}
    # A statistic set with a spread cannot be ranked: no percentile.
    assert point.extended == {}
    clock.set(T0 + 120)
    rec.record_values([1.0, 2.0, 3.0], [1, 2, 3], T0 + 61)
    [later] = store.get_statistics(KEY, T0 + 60, T0 + 120, 60, ["p50", "Average"])
    assert later.extended == {"p50": 2.0}
    assert later.values["Average"] == pytest.approx(14 / 6)


def test_the_clock_stamps_values_recorded_without_a_time() -> None:
    clock, store = _store()
    clock.set(T0 + 42.9)
    store.recorder(KEY).record(1.0)
    [point] = store.get_statistics(KEY, T0 + 40, T0 + 50, 1, ["Sum"])
    assert point.timestamp == T0 + 42


def test_seconds_roll_into_minutes_after_the_high_resolution_retention() -> None:
    retention = Retention(high_resolution_seconds=600, total_seconds=3600)
    clock, store = _store(retention)
    rec = store.recorder(KEY)
    for n in range(1, 101):
        rec.record(float(n), T0 + 10 + (n % 30))
    # Ten minutes later the seconds are rolled into a minute.
    clock.set(T0 + 12 * 60)
    rec.record(0.5, clock.now())
    footprint = store.footprint()
    assert footprint.minute_buckets == 1 and footprint.second_buckets == 1
    # Sub-minute periods no longer see them, as in CloudWatch after 3 hours.
    assert store.get_statistics(KEY, T0, T0 + 60, 10, ["SampleCount"]) == []
    [minute] = store.get_statistics(KEY, T0, T0 + 60, 60, ["SampleCount", "Sum", "p90"])
    assert minute.standard == {"SampleCount": 100.0, "Sum": 5050.0}
    # More values than a bucket keeps raw: the minute holds a sketch (1 % error).
    assert minute.values["p90"] == pytest.approx(90.0, rel=0.01)
    # Late data for a rolled second joins its minute.
    rec.record(1000.0, T0 + 30)
    [minute] = store.get_statistics(KEY, T0, T0 + 60, 60, ["SampleCount"])
    assert minute.values["SampleCount"] == 101.0


def test_data_older_than_the_retention_is_dropped_and_the_metric_forgotten() -> None:
    retention = Retention(high_resolution_seconds=600, total_seconds=3600)
    clock, store = _store(retention)
    rec = store.recorder(KEY)
    rec.record(1.0, T0)
    clock.set(T0 + 3600 + 120)
    store.maintain()
    assert store.footprint().streams == 0
    assert store.list_metrics() == []
    assert store.get_statistics(KEY, T0, T0 + 60, 60, ["Sum"]) == []
    # A kept recorder still works: its stream is made again.
    rec.record(2.0, clock.now())
    assert store.list_metrics() == [KEY]
    # Values older than the retention are ignored.
    rec.record(3.0, T0)
    assert store.get_statistics(KEY, T0, T0 + 60, 60, ["Sum"]) == []


def test_memory_stays_bounded_by_the_retention() -> None:
    retention = Retention(high_resolution_seconds=600, total_seconds=1800)
    clock, store = _store(retention)
    rec = store.recorder(KEY)
    for second in range(0, 4 * 3600, 7):
        rec.record(float(second % 13), T0 + second)
    clock.set(T0 + 4 * 3600)
    footprint = store.footprint()
    # Seconds roll a whole minute at a time: up to 11 minutes of them remain.
    assert footprint.second_buckets <= 660 // 7 + 1
    assert footprint.minute_buckets <= (1800 - 600) // 60 + 2


def test_more_than_1440_datapoints_are_refused() -> None:
    _, store = _store()
    with pytest.raises(InvalidParameterCombination, match="1,441 datapoints"):
        store.get_statistics(KEY, T0, T0 + 1441, 1, ["Sum"])
    assert store.get_statistics(KEY, T0, T0 + 1440, 1, ["Sum"]) == []


def test_statistics_request_errors() -> None:
    _, store = _store()
    with pytest.raises(InvalidParameterValue, match="Period"):
        store.get_statistics(KEY, T0, T0 + 60, 7, ["Sum"])
    with pytest.raises(InvalidParameterValue, match="StartTime"):
        store.get_statistics(KEY, T0, T0, 60, ["Sum"])
    with pytest.raises(InvalidParameterCombination):
        store.get_statistics(KEY, T0, T0 + 60, 60, [])
    with pytest.raises(InvalidParameterValue, match="Median"):
        store.get_statistics(KEY, T0, T0 + 60, 60, ["Median"])


def test_list_metrics_filters() -> None:
    clock, store = _store()
    a = MetricKey.of("AWS/SageMaker", "Invocations", {"EndpointName": "e1", "VariantName": "v1"})
    b = MetricKey.of("AWS/SageMaker", "Invocations", {"EndpointName": "e2", "VariantName": "v1"})
    c = MetricKey.of("AWS/SageMaker", "ModelLatency", {"EndpointName": "e1"})
    d = MetricKey.of("Custom", "Invocations")
    for key in (a, b, c):
        store.recorder(key, "Count").record(1.0, T0)
    store.recorder(d).record(1.0, T0 - 4 * 3600)
    assert store.list_metrics() == [a, b, c, d]
    assert store.list_metrics(namespace="AWS/SageMaker", name="Invocations") == [a, b]
    assert store.list_metrics(dimensions=[DimensionFilter("EndpointName", "e1")]) == [a, c]
    assert store.list_metrics(dimensions=[DimensionFilter("VariantName")]) == [a, b]
    assert store.list_metrics(
        dimensions=[DimensionFilter("VariantName"), DimensionFilter("EndpointName", "e2")]
    ) == [b]
    assert store.list_metrics(recently_active=True) == [a, b, c]
    assert store.list_metrics(namespace="Nope") == []
    # A recorder made but never used lists nothing.
    store.recorder(MetricKey.of("Custom", "Unused"))
    assert MetricKey.of("Custom", "Unused") not in store.list_metrics()
    assert clock.now() == T0


def test_lifetime_summaries_survive_retention() -> None:
    retention = Retention(high_resolution_seconds=600, total_seconds=1200)
    clock, store = _store(retention)
    rec = store.recorder(KEY, "Count")
    rec.record(2.0, T0)
    rec.record(3.0, T0 + 1)
    clock.set(T0 + 1300)
    rec.record(4.0, clock.now())
    [summary] = store.summaries()
    assert (summary.count, summary.total, summary.last_value) == (3.0, 9.0, 4.0)
