"""The in-memory metric store: recording, retention, statistics, ListMetrics.

``runtime/`` records a few values for every invocation through a
:class:`Recorder` (the hot path: one dict lookup at most, O(1)); the
CloudWatch API (``PutMetricData`` through :mod:`moorage.monitoring.ingest`,
``GetMetricStatistics``, ``ListMetrics``) and
:mod:`moorage.monitoring.metric_data` / alarm evaluation read it.

Layout: one *stream* per metric and unit (CloudWatch aggregates units
separately). A stream keeps a :class:`~moorage.monitoring.buckets.Bucket` per
second that received data — every metric is queryable at 1-second
resolution, whatever ``StorageResolution`` said — for
``Retention.high_resolution_seconds`` (3 hours) behind its newest data; older
seconds are rolled into one bucket per minute, kept for
``Retention.total_seconds`` (15 days), then dropped. Queries with a period
under a minute only see the per-second data, as in CloudWatch. Rolling is
amortised: a stream rolls when its data enters a new minute, and
:meth:`MetricStore.maintain` (called every minute by the alarm evaluator)
rolls idle streams and forgets empty ones.

Concurrency: there is no lock. Every method runs to completion without
awaiting, so any number of coroutines of one event loop may use a store;
other threads must hand their values to the loop
(``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from moorage.clock import Clock
from moorage.monitoring.buckets import Aggregate, Bucket
from moorage.monitoring.errors import InvalidParameterCombination, InvalidParameterValue
from moorage.monitoring.keys import DEFAULT_UNIT, Dimension, DimensionFilter, MetricKey
from moorage.monitoring.statistics import Statistic, parse_statistic
from moorage.monitoring.timegrid import align_start, check_period, period_count

HIGH_RESOLUTION_SECONDS = 3 * 3600
TOTAL_SECONDS = 15 * 86_400
# ListMetrics' RecentlyActive=PT3H.
RECENTLY_ACTIVE_SECONDS = 3 * 3600
# GetMetricStatistics answers at most this many datapoints.
MAX_STATISTICS_DATAPOINTS = 1440
_NEVER = sys.maxsize


@dataclass(frozen=True)
class Retention:
    """How long data is kept at each resolution (whole minutes)."""

    high_resolution_seconds: int = HIGH_RESOLUTION_SECONDS
    total_seconds: int = TOTAL_SECONDS

    def __post_init__(self) -> None:
        if self.high_resolution_seconds < 60 or self.high_resolution_seconds % 60:
            raise ValueError("high-resolution retention must be a positive number of minutes")
        if self.total_seconds < self.high_resolution_seconds or self.total_seconds % 60:
            raise ValueError("total retention must be whole minutes, at least the high-resolution")


@dataclass(frozen=True, slots=True)
class Point:
    """One period's value of a statistic (what GetMetricData and alarms read)."""

    timestamp: int
    value: float
    sample_count: float


@dataclass(frozen=True)
class Datapoint:
    """A ``GetMetricStatistics`` datapoint: the statistics asked for, by name."""

    timestamp: int
    unit: str
    values: Mapping[str, float]

    @property
    def standard(self) -> dict[str, float]:
        """``SampleCount``, ``Average``... (top-level members of the datapoint)."""
        return {k: v for k, v in self.values.items() if parse_statistic(k).is_standard}

    @property
    def extended(self) -> dict[str, float]:
        """The ``ExtendedStatistics`` map."""
        return {k: v for k, v in self.values.items() if not parse_statistic(k).is_standard}


@dataclass(frozen=True)
class SeriesSummary:
    """Lifetime totals of one stream, for the Prometheus page."""

    key: MetricKey
    unit: str
    count: float
    total: float
    last_value: float
    last_timestamp: float


@dataclass(frozen=True)
class Footprint:
    """How much the store holds (for benchmarks and self-observation)."""

    streams: int
    second_buckets: int
    minute_buckets: int
    raw_values: int
    sketch_bins: int


class _Stream:
    """The buckets of one metric in one unit."""

    __slots__ = (
        "coarse",
        "coarse_low",
        "count_total",
        "cursor_bucket",
        "cursor_minute",
        "cursor_second",
        "dead",
        "fine",
        "fine_low",
        "high_res",
        "keep",
        "key",
        "last_ts",
        "last_value",
        "rolled_until",
        "sum_total",
        "unit",
    )

    def __init__(self, key: MetricKey, unit: str, retention: Retention) -> None:
        self.key = key
        self.unit = unit
        self.high_res = retention.high_resolution_seconds
        self.keep = retention.total_seconds
        self.fine: dict[int, Bucket] = {}
        self.coarse: dict[int, Bucket] = {}
        # Seconds before this (a minute boundary) live in ``coarse``.
        self.rolled_until = 0
        # Lower bounds of the keys of ``fine`` and ``coarse`` (for rolling).
        self.fine_low = _NEVER
        self.coarse_low = _NEVER
        # The newest second written and its bucket: most writes hit it.
        self.cursor_second = -1
        self.cursor_bucket = Bucket()
        self.cursor_minute = -1
        self.last_ts = 0.0
        self.last_value = math.nan
        self.count_total = 0.0
        self.sum_total = 0.0
        self.dead = False

    def bucket_at(self, sec: int) -> Bucket | None:
        """The bucket for second ``sec``; None when older than retention."""
        minute = sec - sec % 60
        if minute > self.cursor_minute:
            self.cursor_minute = minute
            self.roll(sec)
        if sec < self.rolled_until:
            if minute < self.cursor_minute - self.keep:
                return None
            bucket = self.coarse.get(minute)
            if bucket is None:
                bucket = self.coarse[minute] = Bucket()
                self.coarse_low = min(self.coarse_low, minute)
            return bucket
        bucket = self.fine.get(sec)
        if bucket is None:
            bucket = self.fine[sec] = Bucket()
            if sec < self.fine_low:
                self.fine_low = sec
        if sec >= self.cursor_second:
            self.cursor_second = sec
            self.cursor_bucket = bucket
        return bucket

    def roll(self, now_sec: int) -> None:
        """Roll seconds older than the high-resolution retention; drop expired minutes."""
        cutoff = now_sec - self.high_res
        cutoff -= cutoff % 60
        if cutoff > self.rolled_until:
            fine, coarse = self.fine, self.coarse
            for sec in _keys_below(fine, self.fine_low, cutoff, 1):
                bucket = fine.pop(sec)
                minute = sec - sec % 60
                into = coarse.get(minute)
                if into is None:
                    coarse[minute] = bucket
                    self.coarse_low = min(self.coarse_low, minute)
                else:
                    into.merge(bucket)
            self.fine_low = cutoff if fine else _NEVER
            self.rolled_until = cutoff
            if self.cursor_second < cutoff:
                self.cursor_second = -1
        horizon = now_sec - self.keep
        horizon -= horizon % 60
        if self.coarse and self.coarse_low < horizon:
            for minute in _keys_below(self.coarse, self.coarse_low, horizon, 60):
                del self.coarse[minute]
            self.coarse_low = horizon if self.coarse else _NEVER

    def collect(self, start: int, period: int, count: int) -> dict[int, list[Bucket]]:
        """Buckets per period start, for ``count`` periods from ``start``."""
        end = start + period * count
        out: dict[int, list[Bucket]] = {}
        low = max(start, self.rolled_until)
        if low < end and self.fine:
            for sec, bucket in _items_between(self.fine, low, end, 1):
                _file(out, start + (sec - start) // period * period, bucket)
        if period >= 60 and self.coarse and start < self.rolled_until:
            # Minute buckets only answer whole-minute periods, aligned on minutes.
            high = min(end, self.rolled_until)
            first = start + (-start) % 60
            for minute, bucket in _items_between(self.coarse, first, high, 60):
                _file(out, start + (minute - start) // period * period, bucket)
        return out

    def is_empty(self) -> bool:
        return not self.fine and not self.coarse


def _file(out: dict[int, list[Bucket]], at: int, bucket: Bucket) -> None:
    found = out.get(at)
    if found is None:
        out[at] = [bucket]
    else:
        found.append(bucket)


def _keys_below(buckets: dict[int, Bucket], low: int, cutoff: int, step: int) -> list[int]:
    if low >= cutoff:
        return []
    # Walk the key range when it is short, else scan the dict.
    if (cutoff - low) // step <= 4 * len(buckets):
        return [k for k in range(low, cutoff, step) if k in buckets]
    return [k for k in buckets if k < cutoff]


def _items_between(
    buckets: dict[int, Bucket], low: int, high: int, step: int
) -> Iterator[tuple[int, Bucket]]:
    if (high - low) // step <= len(buckets):
        get = buckets.get
        for k in range(low, high, step):
            bucket = get(k)
            if bucket is not None:
                yield k, bucket
    else:
        for k, bucket in buckets.items():
            if low <= k < high:
                yield k, bucket


class Recorder:
    """Records values of one metric in one unit: the invocation hot path.

    Obtained from :meth:`MetricStore.recorder` once (per endpoint variant,
    say) and kept: :meth:`record` then costs one bucket update.
    """

    __slots__ = ("_now", "_store", "_stream", "key", "unit")

    def __init__(self, store: MetricStore, key: MetricKey, unit: str) -> None:
        self._store = store
        self._now: Callable[[], float] = store.clock.now
        self.key = key
        self.unit = unit
        self._stream = store._stream_for(key, unit)

    def record(self, value: float, ts: float | None = None) -> None:
        """One value at ``ts`` (epoch seconds; the store's clock when None)."""
        stream = self._stream
        if stream.dead:
            stream = self._stream = self._store._stream_for(self.key, self.unit)
        if ts is None:
            ts = self._now()
        sec = int(ts)
        if sec == stream.cursor_second:
            bucket = stream.cursor_bucket
        else:
            found = stream.bucket_at(sec)
            if found is None:
                return
            bucket = found
        bucket.add(value)
        stream.count_total += 1.0
        stream.sum_total += value
        stream.last_value = value
        if ts > stream.last_ts:
            stream.last_ts = ts

    def record_many(self, values: Sequence[float], ts: float | None = None) -> None:
        """Several values at one ``ts``, as :meth:`record` once each."""
        bucket = self._bucket(ts)
        if bucket is None or not values:
            return
        add = bucket.add
        for value in values:
            add(value)
        stream = self._stream
        stream.count_total += len(values)
        stream.sum_total += math.fsum(values)
        stream.last_value = values[-1]

    def record_values(
        self,
        values: Sequence[float],
        counts: Sequence[float] | None = None,
        ts: float | None = None,
    ) -> None:
        """``Values`` with optional ``Counts`` (each count defaults to 1)."""
        bucket = self._bucket(ts)
        if bucket is None:
            return
        weights = counts if counts is not None else [1.0] * len(values)
        for value, weight in zip(values, weights, strict=True):
            bucket.add_weighted(value, weight)
        stream = self._stream
        stream.count_total += math.fsum(weights)
        stream.sum_total += math.fsum(v * w for v, w in zip(values, weights, strict=True))
        if values:
            stream.last_value = values[-1]

    def record_statistic_set(
        self, count: float, total: float, low: float, high: float, ts: float | None = None
    ) -> None:
        """A ``StatisticValues`` set."""
        bucket = self._bucket(ts)
        if bucket is None:
            return
        bucket.add_set(count, total, low, high)
        stream = self._stream
        stream.count_total += count
        stream.sum_total += total
        stream.last_value = total / count if count else stream.last_value

    def _bucket(self, ts: float | None) -> Bucket | None:
        stream = self._stream
        if stream.dead:
            stream = self._stream = self._store._stream_for(self.key, self.unit)
        if ts is None:
            ts = self._now()
        if ts > stream.last_ts:
            stream.last_ts = ts
        return stream.bucket_at(int(ts))


class MetricStore:
    """Every metric moorage knows, in memory, with bounded retention."""

    def __init__(self, clock: Clock, retention: Retention | None = None) -> None:
        self.clock = clock
        self.retention = retention or Retention()
        self._streams: dict[MetricKey, dict[str, _Stream]] = {}
        self._recorders: dict[tuple[MetricKey, str], Recorder] = {}
        # Called before every read: writers that batch record what they hold.
        self._before_read: list[Callable[[], None]] = []

    def before_read(self, flush: Callable[[], None]) -> None:
        """Call ``flush`` before each read of the store (a batching writer's records)."""
        self._before_read.append(flush)

    def _sync(self) -> None:
        for flush in self._before_read:
            flush()

    # -- writing ---------------------------------------------------------------

    def recorder(self, key: MetricKey, unit: str = DEFAULT_UNIT) -> Recorder:
        """The :class:`Recorder` of ``key`` in ``unit`` (shared, cached)."""
        found = self._recorders.get((key, unit))
        if found is None:
            found = self._recorders[(key, unit)] = Recorder(self, key, unit)
        return found

    def record(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | Iterable[Dimension],
        value: float,
        unit: str = DEFAULT_UNIT,
        ts: float | None = None,
    ) -> None:
        """One value; builds the key each call (keep a :class:`Recorder` when hot)."""
        self.recorder(MetricKey.of(namespace, name, dimensions), unit).record(value, ts)

    def _stream_for(self, key: MetricKey, unit: str) -> _Stream:
        units = self._streams.get(key)
        if units is None:
            units = self._streams[key] = {}
        stream = units.get(unit)
        if stream is None:
            stream = units[unit] = _Stream(key, unit, self.retention)
        return stream

    def maintain(self, now: float | None = None) -> None:
        """Roll and expire every stream against ``now``; forget empty ones."""
        self._sync()
        now_sec = int(self.clock.now() if now is None else now)
        for key in list(self._streams):
            units = self._streams[key]
            for unit in list(units):
                stream = units[unit]
                stream.roll(now_sec)
                if stream.is_empty() and stream.last_ts < now_sec - self.retention.total_seconds:
                    stream.dead = True
                    del units[unit]
                    self._recorders.pop((key, unit), None)
            if not units:
                del self._streams[key]

    # -- reading ---------------------------------------------------------------

    def keys(self) -> list[MetricKey]:
        self._sync()
        return list(self._streams)

    def units(self, key: MetricKey) -> list[str]:
        self._sync()
        return sorted(self._streams.get(key, {}))

    def list_metrics(
        self,
        namespace: str | None = None,
        name: str | None = None,
        dimensions: Sequence[DimensionFilter] = (),
        recently_active: bool = False,
    ) -> list[MetricKey]:
        """``ListMetrics``: metrics matching every filter, sorted.

        A dimension filter matches a metric that has that dimension (with that
        value, when given), whatever its other dimensions. ``recently_active``
        keeps metrics with a datapoint timestamped in the last three hours.
        """
        self._sync()
        since = self.clock.now() - RECENTLY_ACTIVE_SECONDS
        found = [
            key
            for key, units in self._streams.items()
            if (namespace is None or key.namespace == namespace)
            and (name is None or key.name == name)
            and all(f.matches(key) for f in dimensions)
            and (not recently_active or any(s.last_ts >= since for s in units.values()))
            and any(not s.is_empty() for s in units.values())
        ]
        return sorted(found, key=lambda k: (k.namespace, k.name, k.dimension_list()))

    def get_statistics(
        self,
        key: MetricKey,
        start: float,
        end: float,
        period: int,
        statistics: Sequence[str],
        unit: str | None = None,
    ) -> list[Datapoint]:
        """``GetMetricStatistics``: datapoints of periods that have data, oldest first.

        Without ``unit``, data of each unit gets its own datapoints (two
        datapoints can share a timestamp), as CloudWatch does.
        """
        self._sync()
        check_period(period)
        if not statistics:
            raise InvalidParameterCombination(
                "Must specify either Statistics or ExtendedStatistics."
            )
        parsed = [parse_statistic(s) for s in statistics]
        if end <= start:
            raise InvalidParameterValue(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        aligned = align_start(start, period, self.clock.now())
        count = period_count(aligned, end, period)
        if count > MAX_STATISTICS_DATAPOINTS:
            raise InvalidParameterCombination(
                f"You have requested up to {count:,} datapoints, which exceeds the limit of "
                f"{MAX_STATISTICS_DATAPOINTS:,}. You may reduce the datapoints requested by "
                "increasing Period, or decreasing the time range."
            )
        units = self._streams.get(key, {})
        streams = [units[unit]] if unit is not None and unit in units else []
        if unit is None:
            streams = [units[u] for u in sorted(units)]
        datapoints: list[Datapoint] = []
        for stream in streams:
            for at, buckets in stream.collect(aligned, period, count).items():
                agg = Aggregate(buckets)
                values = {s.name: v for s in parsed if (v := s.compute(agg)) is not None}
                datapoints.append(Datapoint(at, stream.unit, values))
        datapoints.sort(key=lambda d: (d.timestamp, d.unit))
        return datapoints

    def points(
        self,
        key: MetricKey,
        statistic: Statistic,
        start: int,
        end: float,
        period: int,
        unit: str | None = None,
    ) -> list[Point]:
        """One statistic per period from an *aligned* ``start``, oldest first.

        Periods without a value are absent. Without ``unit`` all units are
        aggregated together (one value per period, as GetMetricData and
        alarms need).
        """
        self._sync()
        units = self._streams.get(key)
        if not units:
            return []
        count = period_count(start, end, period)
        streams = list(units.values()) if unit is None else [units[unit]] if unit in units else []
        merged: dict[int, list[Bucket]] = {}
        for stream in streams:
            for at, buckets in stream.collect(start, period, count).items():
                merged.setdefault(at, []).extend(buckets)
        out: list[Point] = []
        for at in sorted(merged):
            agg = Aggregate(merged[at])
            value = statistic.compute(agg)
            if value is not None:
                out.append(Point(at, value, agg.count))
        return out

    def aggregate(self, key: MetricKey, unit: str, start: int, end: int) -> Aggregate:
        """Every per-second bucket of one stream in ``[start, end)``, merged."""
        self._sync()
        stream = self._streams.get(key, {}).get(unit)
        if stream is None or end <= start:
            return Aggregate([])
        found = stream.collect(start, end - start, 1)
        return Aggregate(found.get(start, []))

    def summaries(self) -> list[SeriesSummary]:
        """Lifetime count, sum and last value of every stream."""
        self._sync()
        return [
            SeriesSummary(s.key, s.unit, s.count_total, s.sum_total, s.last_value, s.last_ts)
            for units in self._streams.values()
            for s in units.values()
        ]

    def footprint(self) -> Footprint:
        self._sync()
        streams = [s for units in self._streams.values() for s in units.values()]
        buckets = [b for s in streams for b in (*s.fine.values(), *s.coarse.values())]
        return Footprint(
            streams=len(streams),
            second_buckets=sum(len(s.fine) for s in streams),
            minute_buckets=sum(len(s.coarse) for s in streams),
            raw_values=sum(len(b.raw) for b in buckets if b.raw is not None),
            sketch_bins=sum(len(b.sketch.counts) for b in buckets if b.sketch is not None),
        )
