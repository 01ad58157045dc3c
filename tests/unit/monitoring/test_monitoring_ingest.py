"""PutMetricData: the three input shapes and CloudWatch's rules."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from moorage.clock import FakeClock
from moorage.monitoring import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MetricDatum,
    MetricKey,
    MetricStore,
    MissingParameter,
    StatisticSet,
    put_metric_data,
)

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()


def _store() -> MetricStore:
    return MetricStore(FakeClock(T0 + 30))


def test_from_api_reads_a_validated_request_member() -> None:
    datum = MetricDatum.from_api(
        {
            "MetricName": "Latency",
            "Dimensions": [{"Name": "Host", "Value": "a"}],
            "Timestamp": dt.datetime(2026, 11, 21, 10, 0, 5, tzinfo=dt.UTC),
            "StatisticValues": {"SampleCount": 2, "Sum": 3.0, "Minimum": 1.0, "Maximum": 2.0},
            "Unit": "Milliseconds",
            "StorageResolution": 1,
        }
    )
    assert datum == MetricDatum(
        "Latency",
        (("Host", "a"),),
        T0 + 5,
        statistic_values=StatisticSet(2, 3.0, 1.0, 2.0),
        unit="Milliseconds",
        storage_resolution=1,
    )


def test_each_shape_is_recorded() -> None:
    store = _store()
    put_metric_data(
        store,
        "App",
        [
            MetricDatum("Latency", (("Host", "a"),), T0 + 1, value=4.0, unit="Milliseconds"),
            MetricDatum(
                "Latency",
                (("Host", "a"),),
                T0 + 2,
                values=(1.0, 2.0),
                counts=(3.0, 1.0),
                unit="Milliseconds",
            ),
            MetricDatum(
                "Latency",
                (("Host", "a"),),
                T0 + 3,
                statistic_values=StatisticSet(2, 10.0, 5.0, 5.0),
                unit="Milliseconds",
            ),
            # No timestamp: now; no unit: None.
            MetricDatum("Requests", value=1.0),
        ],
    )
    key = MetricKey.of("App", "Latency", {"Host": "a"})
    [point] = store.get_statistics(key, T0, T0 + 60, 60, ["SampleCount", "Sum", "p50"])
    assert point.values == {"SampleCount": 7.0, "Sum": 19.0, "p50": 2.0}
    [requests] = store.get_statistics(
        MetricKey.of("App", "Requests"), T0, T0 + 60, 1, ["SampleCount"]
    )
    assert (requests.timestamp, requests.unit) == (T0 + 30, "None")


@pytest.mark.parametrize(
    ("datum", "error", "text"),
    [
        (
            MetricDatum("m", value=1.0, values=(1.0,)),
            InvalidParameterCombination,
            "MetricData.member.2.Value and MetricData.member.2.Values are mutually exclusive",
        ),
        (MetricDatum("m"), MissingParameter, "At least one of the parameters"),
        (MetricDatum("m", value=math.nan), InvalidParameterValue, "The value NaN for"),
        (MetricDatum("m", value=2.0**361), InvalidParameterValue, "MetricData.member.2.Value "),
        (
            MetricDatum("m", values=(1.0, 2.0), counts=(1.0,)),
            InvalidParameterValue,
            "must be of the same size",
        ),
        (MetricDatum("m", values=(1.0,) * 151), InvalidParameterValue, "greater than 150"),
        (
            MetricDatum("m", value=1.0, timestamp=T0 - 15 * 86_400),
            InvalidParameterValue,
            "no more than two weeks in the past",
        ),
        (
            MetricDatum("m", value=1.0, timestamp=T0 + 3 * 3600),
            InvalidParameterValue,
            "no more than two hours in the future",
        ),
        (
            MetricDatum("m", value=1.0, storage_resolution=5),
            InvalidParameterValue,
            "StorageResolution",
        ),
        (
            MetricDatum("m", value=1.0, dimensions=(("a", "1"), ("a", "2"))),
            InvalidParameterValue,
            "must be unique",
        ),
        (MetricDatum("m", value=1.0, unit="Parsecs"), InvalidParameterValue, "Unit"),
        (
            MetricDatum("m", statistic_values=StatisticSet(1, 1.0, 2.0, 1.0)),
            InvalidParameterValue,
            "Minimum must not be greater",
        ),
    ],
)
def test_invalid_datums_are_rejected(datum: MetricDatum, error: type[Exception], text: str) -> None:
    store = _store()
    good = MetricDatum("ok", value=1.0)
    with pytest.raises(error, match=text.replace("(", r"\(")):
        put_metric_data(store, "App", [good, datum])
    # Nothing of a rejected request is stored.
    assert store.list_metrics() == []


def test_aws_namespaces_are_reserved_unless_allowed() -> None:
    store = _store()
    datum = MetricDatum("ModelLatency", value=1.0)
    with pytest.raises(InvalidParameterValue, match="AWS/SageMaker for parameter Namespace"):
        put_metric_data(store, "AWS/SageMaker", [datum])
    put_metric_data(store, "AWS/SageMaker", [datum], allow_aws_namespace=True)
    assert store.list_metrics() == [MetricKey.of("AWS/SageMaker", "ModelLatency")]
