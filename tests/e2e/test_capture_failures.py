"""Captured records that cannot be written are reported: CloudWatch metrics and one log line.

A real server (flushing captured data every second) serves the *mirror*
model on an endpoint that captures to a local folder. Once it is in
service, the folder is replaced by a regular file, so that every write
fails, for root too ("Not a directory"). After traffic, the records show up
in ``DataCaptureRecordsFailed`` (namespace ``/aws/sagemaker/Endpoints``,
dimensions EndpointName and VariantName) through boto3's GetMetricStatistics
and GetMetricData, the server has logged the failure once (not once per
record or per file), and DescribeEndpoint keeps AWS's DataCaptureConfig shape.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.capture import data_capture_config, mirror_archive
from support.endpoints import create_model, delete, variant, wait_in_service
from support.names import unique
from support.server import MoorageServer, running

NAMESPACE = "/aws/sagemaker/Endpoints"
FAILED = "DataCaptureRecordsFailed"
LOG_MARK = "records could not be written to"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MoorageServer]:
    with running(tmp_path / "data", extra_args=("--capture-flush-interval", "1")) as srv:
        yield srv


def _dimensions(name: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "AllTraffic"}]


def _failed_sum(cw: Any, name: str, since: dt.datetime) -> float:
    points = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=FAILED,
        Dimensions=_dimensions(name),
        StartTime=since,
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(p["Sum"] for p in points))


def _wait_sum(cw: Any, name: str, since: dt.datetime, expected: float) -> None:
    deadline = time.monotonic() + 90
    while (found := _failed_sum(cw, name, since)) < expected:
        assert time.monotonic() < deadline, f"{FAILED} is {found}, not {expected}"
        time.sleep(0.5)
    assert found == expected


def _invoke(runtime: Any, name: str, count: int) -> None:
    for n in range(count):
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=f"{n},1")
        assert answer["Body"].read().startswith(b"mirror,")


def test_unwritable_capture_destination_is_reported(server: MoorageServer, tmp_path: Path) -> None:
    sm = server.sagemaker
    cw = server.client("cloudwatch")
    runtime = server.client("sagemaker-runtime")
    name = unique("lost-capture")
    destination = tmp_path / "capture"
    create_model(sm, name, mirror_archive(tmp_path / "model" / "model.tar.gz").as_uri())
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant("AllTraffic", name)],
        DataCaptureConfig=data_capture_config(destination.as_uri(), csv=("text/csv",)),
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(sm, name)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    destination.write_text("a file where the capture folder should be")

    _invoke(runtime, name, 5)
    _wait_sum(cw, name, since, 5)
    _invoke(runtime, name, 3)  # still failing, for the same cause
    _wait_sum(cw, name, since, 8)

    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "failed",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": FAILED,
                        "Dimensions": _dimensions(name),
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=since,
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
    )["MetricDataResults"]
    assert sum(data[0]["Values"]) == 8

    lines = [line for line in server.output if LOG_MARK in line]
    assert len(lines) == 1, lines
    line = lines[0]
    assert f"endpoint {name}, variant AllTraffic" in line
    assert f"{LOG_MARK} {destination.as_uri()}: Not a directory" in line
    assert "Traceback" not in "".join(server.output)

    capture = sm.describe_endpoint(EndpointName=name)["DataCaptureConfig"]
    assert capture == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": destination.as_uri(),
    }
    delete(sm, name)
