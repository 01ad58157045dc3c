"""``PutMetricData``: validating metric datums and writing them to the store.

The protocol layer turns a validated request into :class:`MetricDatum` values
(:meth:`MetricDatum.from_api`) and calls :func:`put_metric_data`, which checks
what botocore's model cannot (CloudWatch's documented rules: one of
``Value``/``StatisticValues``/``Values``, value range, timestamps within two
weeks back and two hours ahead...) for every datum before writing any, so a
rejected request stores nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moorage.monitoring.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from moorage.monitoring.keys import DEFAULT_UNIT, Dimension, MetricKey, StandardUnit
from moorage.monitoring.store import MetricStore
from moorage.monitoring.timegrid import java_double

MAX_DATUMS = 1000
MAX_VALUES = 150
MAX_DIMENSIONS = 30
# CloudWatch rejects values outside [-2^360, 2^360].
MAX_MAGNITUDE = 2.0**360
MAX_PAST_SECONDS = 14 * 86_400
MAX_FUTURE_SECONDS = 2 * 3600
_UNITS = frozenset(u.value for u in StandardUnit)


@dataclass(frozen=True)
class StatisticSet:
    """``StatisticValues``: a pre-aggregated set of samples."""

    sample_count: float
    sum: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class MetricDatum:
    """One member of ``PutMetricData``'s ``MetricData``."""

    metric_name: str
    dimensions: tuple[Dimension, ...] = ()
    timestamp: float | None = None
    value: float | None = None
    statistic_values: StatisticSet | None = None
    values: tuple[float, ...] = ()
    counts: tuple[float, ...] = ()
    unit: str | None = None
    storage_resolution: int | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> MetricDatum:
        """From a validated ``MetricDatum`` structure (timestamps as datetimes or numbers)."""
        stats = item.get("StatisticValues")
        stamp = item.get("Timestamp")
        return cls(
            metric_name=item["MetricName"],
            dimensions=tuple((d["Name"], d["Value"]) for d in item.get("Dimensions", ())),
            timestamp=_epoch(stamp) if stamp is not None else None,
            value=item.get("Value"),
            statistic_values=StatisticSet(
                stats["SampleCount"], stats["Sum"], stats["Minimum"], stats["Maximum"]
            )
            if stats is not None
            else None,
            values=tuple(item.get("Values", ())),
            counts=tuple(item.get("Counts", ())),
            unit=item.get("Unit"),
            storage_resolution=item.get("StorageResolution"),
        )


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    return float(value)


def put_metric_data(
    store: MetricStore,
    namespace: str,
    data: Sequence[MetricDatum],
    *,
    now: float | None = None,
    allow_aws_namespace: bool = False,
) -> None:
    """Validate every datum, then record them all.

    ``allow_aws_namespace`` lets callers write to ``AWS/...`` namespaces,
    which CloudWatch reserves for AWS services (a local test may want to
    publish a fake ``AWS/SageMaker`` latency to trip a rollback alarm).
    """
    current = store.clock.now() if now is None else now
    if namespace.startswith("AWS/") and not allow_aws_namespace:
        raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is invalid.")
    if len(data) > MAX_DATUMS:
        raise InvalidParameterValue(
            f"The collection MetricData must not have a size greater than {MAX_DATUMS}."
        )
    for n, datum in enumerate(data, start=1):
        _check(datum, f"MetricData.member.{n}", current)
    for datum in data:
        recorder = store.recorder(
            MetricKey.of(namespace, datum.metric_name, datum.dimensions),
            datum.unit or DEFAULT_UNIT,
        )
        ts = current if datum.timestamp is None else datum.timestamp
        if datum.value is not None:
            recorder.record(datum.value, ts)
        elif datum.statistic_values is not None:
            s = datum.statistic_values
            recorder.record_statistic_set(s.sample_count, s.sum, s.minimum, s.maximum, ts)
        else:
            recorder.record_values(datum.values, datum.counts or None, ts)


def _check(datum: MetricDatum, where: str, now: float) -> None:
    given = [
        name
        for name, present in (
            ("Value", datum.value is not None),
            ("StatisticValues", datum.statistic_values is not None),
            ("Values", bool(datum.values)),
        )
        if present
    ]
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both."
        )
    if not given:
        raise MissingParameter(
            f"At least one of the parameters {where}.Value, {where}.StatisticValues or "
            f"{where}.Values must be specified."
        )
    if datum.unit is not None and datum.unit not in _UNITS:
        raise InvalidParameterValue(
            f"The value {datum.unit} for parameter {where}.Unit is invalid."
        )
    if datum.storage_resolution is not None and datum.storage_resolution not in (1, 60):
        raise InvalidParameterValue(
            f"The value {datum.storage_resolution} for parameter {where}.StorageResolution "
            "is invalid: must be 1 or 60."
        )
    names = [name for name, _ in datum.dimensions]
    if len(names) > MAX_DIMENSIONS:
        raise InvalidParameterValue(
            f"The collection {where}.Dimensions must not have a size greater than {MAX_DIMENSIONS}."
        )
    if len(set(names)) != len(names):
        raise InvalidParameterValue(f"The dimension names in {where}.Dimensions must be unique.")
    if datum.timestamp is not None:
        if datum.timestamp < now - MAX_PAST_SECONDS:
            raise InvalidParameterValue(
                f"The parameter {where}.Timestamp must specify a time no more than two weeks "
                "in the past."
            )
        if datum.timestamp > now + MAX_FUTURE_SECONDS:
            raise InvalidParameterValue(
                f"The parameter {where}.Timestamp must specify a time no more than two hours "
                "in the future."
            )
    if datum.value is not None:
        _check_number(datum.value, f"{where}.Value")
    if datum.statistic_values is not None:
        _check_set(datum.statistic_values, f"{where}.StatisticValues")
    if datum.values:
        _check_values(datum, where)


def _check_number(value: float, where: str) -> None:
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise InvalidParameterValue(
            f"The value {java_double(value)} for parameter {where} is invalid."
        )


def _check_set(stats: StatisticSet, where: str) -> None:
    for name in ("sample_count", "sum", "minimum", "maximum"):
        _check_number(getattr(stats, name), f"{where}.{_camel(name)}")
    if stats.sample_count <= 0:
        raise InvalidParameterValue(f"The parameter {where}.SampleCount must be greater than 0.")
    if stats.minimum > stats.maximum:
        raise InvalidParameterValue(
            f"The parameter {where}.Minimum must not be greater than {where}.Maximum."
        )


def _check_values(datum: MetricDatum, where: str) -> None:
    if len(datum.values) > MAX_VALUES:
        raise InvalidParameterValue(
            f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
        )
    if datum.counts and len(datum.counts) != len(datum.values):
        raise InvalidParameterValue(
            f"The parameters {where}.Values and {where}.Counts must be of the same size."
        )
    for n, value in enumerate(datum.values, start=1):
        _check_number(value, f"{where}.Values.member.{n}")
    for n, count in enumerate(datum.counts, start=1):
        if not math.isfinite(count) or count < 0:
            raise InvalidParameterValue(
                f"The value {count} for parameter {where}.Counts.member.{n} is invalid."
            )


def _camel(name: str) -> str:
    return {"sample_count": "SampleCount"}.get(name, name.capitalize())
