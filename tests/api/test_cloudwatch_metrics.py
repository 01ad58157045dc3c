"""CloudWatch metrics through boto3 (JSON 1.0) against a real server, and /metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.names import unique
from support.raw import request
from support.server import MoorageServer


@pytest.fixture
def cw(server: MoorageServer) -> Any:
    return server.client("cloudwatch")


def minute_ago() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return now.replace(second=0, microsecond=0) - dt.timedelta(minutes=1)


def error_code(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_put_metric_data_and_get_statistics(cw: Any) -> None:
    namespace = unique("stats")
    at = minute_ago() + dt.timedelta(seconds=5)
    dims = [{"Name": "Host", "Value": "a"}]
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": at, "Value": 4.0},
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": at,
                "Values": [1.0, 2.0],
                "Counts": [1.0, 3.0],
            },
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": at,
                "StatisticValues": {"SampleCount": 2, "Sum": 20, "Minimum": 10, "Maximum": 10},
                "Unit": "Milliseconds",
            },
        ],
    )
    common = {
        "Namespace": namespace,
        "MetricName": "Latency",
        "Dimensions": dims,
        "StartTime": at - dt.timedelta(minutes=1),
        "EndTime": at + dt.timedelta(minutes=2),
        "Period": 60,
    }
    got = cw.get_metric_statistics(**common, Statistics=["SampleCount", "Sum", "Maximum"])
    assert got["Label"] == "Latency"
    by_unit = {p["Unit"]: p for p in got["Datapoints"]}
    assert by_unit["None"]["SampleCount"] == 5.0
    assert by_unit["None"]["Sum"] == 11.0
    assert by_unit["Milliseconds"]["Maximum"] == 10.0
    assert by_unit["None"]["Timestamp"] == at.replace(second=0)
    extended = cw.get_metric_statistics(**common, ExtendedStatistics=["p50"], Unit="None")
    (point,) = extended["Datapoints"]
    assert point["ExtendedStatistics"] == {"p50": 2.0}
    assert "Sum" not in point


def test_get_metric_data_math_and_paging(cw: Any) -> None:
    namespace = unique("math")
    start = minute_ago() - dt.timedelta(minutes=3)
    data = []
    for i in range(4):
        at = start + dt.timedelta(minutes=i, seconds=1)
        data.append({"MetricName": "Errors", "Timestamp": at, "Value": float(i)})
        data.append({"MetricName": "Requests", "Timestamp": at, "Value": 10.0})
    cw.put_metric_data(Namespace=namespace, MetricData=data)

    def stat(qid: str, name: str) -> dict[str, Any]:
        metric = {"Namespace": namespace, "MetricName": name}
        return {
            "Id": qid,
            "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
            "ReturnData": False,
        }

    queries = [
        stat("e", "Errors"),
        stat("r", "Requests"),
        {"Id": "rate", "Expression": "100 * e / r", "Label": "error rate"},
    ]
    window = {"StartTime": start, "EndTime": start + dt.timedelta(minutes=4)}
    result = cw.get_metric_data(MetricDataQueries=queries, **window, ScanBy="TimestampAscending")
    (rate,) = result["MetricDataResults"]
    assert (rate["Id"], rate["Label"], rate["StatusCode"]) == ("rate", "error rate", "Complete")
    assert rate["Values"] == [0.0, 10.0, 20.0, 30.0]
    assert rate["Timestamps"][0] == start

    first = cw.get_metric_data(MetricDataQueries=queries, **window, MaxDatapoints=3)
    assert first["MetricDataResults"][0]["Values"] == [30.0, 20.0, 10.0]
    assert first["MetricDataResults"][0]["StatusCode"] == "PartialData"
    rest = cw.get_metric_data(
        MetricDataQueries=queries, **window, MaxDatapoints=3, NextToken=first["NextToken"]
    )
    assert rest["MetricDataResults"][0]["Values"] == [0.0]
    assert "NextToken" not in rest

    code, message = error_code(
        cw.get_metric_data,
        MetricDataQueries=[{"Id": "x", "Expression": "FOO(1)"}],
        **window,
    )
    assert code == "ValidationError"
    assert "Unknown function FOO" in message


def test_list_metrics(cw: Any) -> None:
    namespace = unique("list")
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "A", "Dimensions": [{"Name": "Host", "Value": "x"}], "Value": 1.0},
            {"MetricName": "A", "Dimensions": [{"Name": "Host", "Value": "y"}], "Value": 1.0},
            {"MetricName": "B", "Value": 1.0},
        ],
    )
    everything = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in everything] == [
        ("A", [{"Name": "Host", "Value": "x"}]),
        ("A", [{"Name": "Host", "Value": "y"}]),
        ("B", []),
    ]
    hosts = cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Host"}])["Metrics"]
    assert len(hosts) == 2
    one = cw.list_metrics(
        Namespace=namespace, MetricName="A", Dimensions=[{"Name": "Host", "Value": "y"}]
    )
    assert [m["Dimensions"][0]["Value"] for m in one["Metrics"]] == ["y"]
    recent = cw.list_metrics(Namespace=namespace, RecentlyActive="PT3H")["Metrics"]
    assert len(recent) == 3


def test_list_metrics_pages_by_500(cw: Any) -> None:
    namespace = unique("many")
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": f"m{i:04d}", "Value": 1.0} for i in range(501)],
    )
    first = cw.list_metrics(Namespace=namespace)
    assert len(first["Metrics"]) == 500
    second = cw.list_metrics(Namespace=namespace, NextToken=first["NextToken"])
    assert [m["MetricName"] for m in second["Metrics"]] == ["m0500"]
    assert "NextToken" not in second
    code, _ = error_code(cw.list_metrics, NextToken="bogus")
    assert code == "InvalidNextToken"


def test_aws_namespaces_are_accepted(cw: Any) -> None:
    endpoint = unique("fake-endpoint")
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "v"}]
    cw.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": "ModelLatency", "Dimensions": dims, "Value": 9e6, "Unit": "Microseconds"}
        ],
    )
    found = cw.list_metrics(Namespace="AWS/SageMaker", Dimensions=[dims[0]])["Metrics"]
    assert [m["MetricName"] for m in found] == ["ModelLatency"]


@pytest.mark.parametrize(
    ("datum", "code"),
    [
        ({"Value": 1.0, "Values": [1.0]}, "InvalidParameterCombination"),
        ({}, "MissingParameter"),
        (
            {"Value": 1.0, "Timestamp": dt.datetime(2001, 1, 1, tzinfo=dt.UTC)},
            "InvalidParameterValue",
        ),
        (
            {"StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 2, "Maximum": 1}},
            "InvalidParameterValue",
        ),
        ({"Values": [1.0, 2.0], "Counts": [1.0]}, "InvalidParameterValue"),
        ({"Value": 1.0, "Unit": "Parsecs"}, "ValidationError"),
        ({"Value": 1.0, "StorageResolution": 5}, "InvalidParameterValue"),
    ],
)
def test_put_metric_data_errors(cw: Any, datum: dict[str, Any], code: str) -> None:
    got, _ = error_code(
        cw.put_metric_data, Namespace="errors", MetricData=[{"MetricName": "m", **datum}]
    )
    assert got == code


def test_get_metric_statistics_errors(cw: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    common = {
        "Namespace": "n",
        "MetricName": "m",
        "StartTime": now - dt.timedelta(hours=1),
        "EndTime": now,
    }
    code, message = error_code(cw.get_metric_statistics, **common, Period=7, Statistics=["Sum"])
    assert code == "InvalidParameterValue"
    assert "Period" in message
    code, _ = error_code(
        cw.get_metric_statistics,
        **common,
        Period=60,
        Statistics=["Sum"],
        ExtendedStatistics=["p99"],
    )
    assert code == "InvalidParameterCombination"
    code, message = error_code(cw.get_metric_statistics, **common, Period=1, Statistics=["Sum"])
    assert code == "InvalidParameterCombination"
    assert "exceeds the limit of 1,440" in message
    code, _ = error_code(cw.get_metric_statistics, **common, Period=60, ExtendedStatistics=["p1x"])
    assert code == "InvalidParameterValue"


def test_prometheus_page_shows_put_metrics(cw: Any, server: MoorageServer) -> None:
    namespace = unique("prom")
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "JobsDone", "Value": 2.0, "Unit": "Count"},
            {"MetricName": "JobsDone", "Value": 3.0, "Unit": "Count"},
        ],
    )
    reply = request(server.url, "GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = reply.body.decode()
    assert "# TYPE moorage_jobs_done_total counter" in text
    assert f'moorage_jobs_done_total{{namespace="{namespace}"}} 5.0' in text


def test_metric_math_over_too_many_periods_is_refused(cw: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    query = {
        "Id": "m",
        "MetricStat": {
            "Metric": {"Namespace": "n", "MetricName": "m"},
            "Period": 1,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }
    code, message = error_code(
        cw.get_metric_data,
        MetricDataQueries=[query, {"Id": "f", "Expression": "FILL(m, 0)"}],
        StartTime=now - dt.timedelta(days=2),
        EndTime=now,
    )
    assert code == "ValidationError"
    assert "Narrow the time range" in message
    # Without math, only periods with data are returned: no limit applies.
    plain = cw.get_metric_data(
        MetricDataQueries=[{**query, "ReturnData": True}],
        StartTime=now - dt.timedelta(days=2),
        EndTime=now,
    )
    assert plain["MetricDataResults"][0]["Values"] == []
