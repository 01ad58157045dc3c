"""Statistics and percentiles on known data, exact and from the sketch."""

from __future__ import annotations

import random

import pytest

from moorage.monitoring import InvalidParameterValue, parse_statistic
from moorage.monitoring.buckets import RAW_CAP, Aggregate, Bucket
from moorage.monitoring.distribution import ACCURACY, Sketch
from moorage.monitoring.statistics import StatKind


def _aggregate(values: list[float], per_bucket: int = 10) -> Aggregate:
    buckets = []
    for start in range(0, len(values), per_bucket):
        bucket = Bucket()
        for value in values[start : start + per_bucket]:
            bucket.add(value)
        buckets.append(bucket)
    return Aggregate(buckets)


def _stat(name: str, agg: Aggregate) -> float | None:
    return parse_statistic(name).compute(agg)


ONE_TO_HUNDRED = [float(n) for n in range(1, 101)]


def test_standard_statistics() -> None:
    agg = _aggregate(ONE_TO_HUNDRED)
    assert _stat("SampleCount", agg) == 100
    assert _stat("Sum", agg) == 5050
    assert _stat("Average", agg) == 50.5
    assert _stat("Minimum", agg) == 1
    assert _stat("Maximum", agg) == 100


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("p0", 1.0),
        ("p1", 1.0),
        ("p50", 50.0),
        ("p90", 90.0),
        ("p99", 99.0),
        ("p99.5", 100.0),
        ("p100", 100.0),
        ("p12.34", 13.0),
    ],
)
def test_percentiles_are_nearest_rank(name: str, expected: float) -> None:
    assert _stat(name, _aggregate(ONE_TO_HUNDRED)) == expected


def test_percentile_of_unordered_values_across_buckets() -> None:
    values = ONE_TO_HUNDRED[:]
    random.Random(3).shuffle(values)
    assert _stat("p75", _aggregate(values, per_bucket=7)) == 75.0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # tm90: the lowest 90 values, 1..90.
        ("tm90", 45.5),
        ("TM(10%:90%)", 50.5),
        ("TM(:95%)", 48.0),
        ("TM(5%:)", 53.0),
        ("IQM", 50.5),
        ("tc90", 90.0),
        ("TC(10%:90%)", 80.0),
        ("ts90", 4095.0),
        ("TS(10%:90%)", 4040.0),
        # wm90: the top 10 values count as 90.
        ("wm90", (4095 + 10 * 90) / 100),
        ("WM(10%:90%)", (4040 + 10 * 11 + 10 * 90) / 100),
        # Absolute bounds keep low < v <= high.
        ("TM(10:20)", 15.5),
        ("TC(10:20)", 10.0),
        ("TS(:5)", 15.0),
        ("PR(:25)", 25.0),
        ("PR(50:60)", 10.0),
        ("WM(10:20)", (10 * 10 + sum(range(11, 21)) + 80 * 20) / 100),
    ],
)
def test_trimmed_winsorized_and_rank_statistics(name: str, expected: float) -> None:
    assert _stat(name, _aggregate(ONE_TO_HUNDRED)) == pytest.approx(expected)


def test_trimming_with_few_values_drops_whole_values_only() -> None:
    # 10 % of 3 values is 0.3 of a value: nothing is dropped.
    agg = _aggregate([1.0, 2.0, 3.0])
    assert _stat("tm90", agg) == 2.0
    assert _stat("tc90", agg) == 3.0


def test_nothing_left_after_trimming_has_no_value() -> None:
    agg = _aggregate([1.0, 2.0])
    assert _stat("TM(1000:2000)", agg) is None
    assert _stat("TS(1000:2000)", agg) is None
    assert _stat("TC(1000:2000)", agg) == 0.0


def test_no_data_has_no_value() -> None:
    agg = Aggregate([])
    assert _stat("SampleCount", agg) is None
    assert _stat("p50", agg) is None


def test_negative_values_make_percentiles_unavailable() -> None:
    agg = _aggregate([1.0, -2.0, 3.0])
    assert _stat("Minimum", agg) == -2.0
    assert _stat("p50", agg) is None
    assert _stat("tm90", agg) is None


def test_statistic_sets_rank_only_when_they_are_one_repeated_value() -> None:
    repeated = Bucket()
    repeated.add_set(4, 20.0, 5.0, 5.0)
    repeated.add(1.0)
    agg = Aggregate([repeated])
    assert _stat("SampleCount", agg) == 5
    assert _stat("p50", agg) == 5.0
    assert _stat("p10", agg) == 1.0

    spread = Bucket()
    spread.add_set(3, 6.0, 1.0, 3.0)
    agg = Aggregate([spread])
    assert (_stat("Average", agg), _stat("Minimum", agg), _stat("Maximum", agg)) == (2, 1, 3)
    assert _stat("p50", agg) is None


def test_values_and_counts_are_weighted() -> None:
    bucket = Bucket()
    bucket.add_weighted(10.0, 3)
    bucket.add_weighted(20.0, 1)
    agg = Aggregate([bucket])
    assert _stat("SampleCount", agg) == 4
    assert _stat("Sum", agg) == 50
    assert _stat("p75", agg) == 10.0
    assert _stat("p76", agg) == 20.0


def test_sketch_percentiles_are_within_one_percent() -> None:
    rng = random.Random(5)
    values = [rng.lognormvariate(8.0, 1.0) for _ in range(20_000)]
    agg = _aggregate(values, per_bucket=1000)
    assert agg.ranked() is not None and not agg.ranked().exact  # type: ignore[union-attr]
    ordered = sorted(values)
    for p in (1, 25, 50, 90, 99, 99.9):
        exact = ordered[max(int(-(-p * len(values) // 100)), 1) - 1]
        approx = _stat(f"p{p}", agg)
        assert approx == pytest.approx(exact, rel=ACCURACY * 1.01)
    # Minimum and maximum stay exact.
    assert _stat("p0", agg) == min(values)
    assert _stat("p100", agg) == max(values)


def test_buckets_switch_to_a_sketch_past_the_raw_cap() -> None:
    bucket = Bucket()
    for n in range(RAW_CAP):
        bucket.add(float(n + 1))
    assert bucket.raw is not None and bucket.sketch is None
    bucket.add(1000.0)
    assert bucket.raw is None and bucket.sketch is not None
    assert bucket.sketch.total == RAW_CAP + 1


def test_sketch_handles_zero_and_extreme_ranges() -> None:
    sketch = Sketch()
    sketch.add(0.0, 2)
    sketch.add(1e-300)
    sketch.add(1e300)
    assert sketch.total == 4
    assert len(sketch.counts) <= 2048


@pytest.mark.parametrize(
    ("text", "kind", "lower", "upper", "percent"),
    [
        ("Average", StatKind.AVERAGE, None, None, True),
        ("p99", StatKind.PERCENTILE, None, 99.0, True),
        ("p99.99", StatKind.PERCENTILE, None, 99.99, True),
        ("tm99", StatKind.TRIMMED_MEAN, None, 99.0, True),
        ("TM(10%:90%)", StatKind.TRIMMED_MEAN, 10.0, 90.0, True),
        ("tm(10%:90%)", StatKind.TRIMMED_MEAN, 10.0, 90.0, True),
        ("WM(:80%)", StatKind.WINSORIZED_MEAN, None, 80.0, True),
        ("TC(0.5:2)", StatKind.TRIMMED_COUNT, 0.5, 2.0, False),
        ("PR(100:2000)", StatKind.PERCENTILE_RANK, 100.0, 2000.0, False),
        ("IQM", StatKind.TRIMMED_MEAN, 25.0, 75.0, True),
    ],
)
def test_parsing(
    text: str, kind: StatKind, lower: float | None, upper: float | None, percent: bool
) -> None:
    stat = parse_statistic(text)
    assert (stat.name, stat.kind, stat.lower, stat.upper, stat.percent) == (
        text,
        kind,
        lower,
        upper,
        percent,
    )


@pytest.mark.parametrize(
    "text", ["average", "p101", "p", "TM(10%:20)", "TM(:)", "PR(10%:20%)", "TM(90%:10%)", "xx"]
)
def test_invalid_statistics_are_rejected_by_name(text: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_statistic(text)
    assert caught.value.message.startswith(f"The value {text} for parameter Statistic is invalid")
