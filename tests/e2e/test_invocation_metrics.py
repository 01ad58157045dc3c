"""Real invocations reach CloudWatch: statistics, an alarm, and /metrics."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.endpoints import delete, deploy
from support.names import unique
from support.raw import request
from support.server import MoorageServer


def _sum(cw: Any, name: str, metric: str, since: dt.datetime) -> float:
    points = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=since,
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_invocations_feed_metrics_and_alarms(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("watched")
    cw = serving.client("cloudwatch")
    since = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    deploy(esm, name, toolbox_archive(tmp_path / "model.tar.gz", "T").as_uri())
    alarm = f"{name}-5xx"
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        Statistic="Sum",
        Period=1,
        EvaluationPeriods=1,
        Threshold=0.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    try:
        for _ in range(3):
            runtime.invoke_endpoint(
                EndpointName=name, ContentType="application/json", Body=b'{"op": "echo"}'
            )
        with pytest.raises(ClientError):
            runtime.invoke_endpoint(
                EndpointName=name, ContentType="application/json", Body=b'{"op": "fail"}'
            )
        assert _sum(cw, name, "Invocations", since) == 4.0
        assert _sum(cw, name, "Invocation5XXErrors", since) == 1.0

        deadline = time.monotonic() + 10
        to_alarm: list[dict[str, Any]] = []
        while not to_alarm and time.monotonic() < deadline:
            time.sleep(0.2)
            items = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")
            to_alarm = [
                item
                for item in items["AlarmHistoryItems"]
                if item["HistorySummary"].endswith("to ALARM")
            ]
        assert to_alarm, "the alarm never went to ALARM"
        reason = json.loads(to_alarm[-1]["HistoryData"])["newState"]["stateReason"]
        assert reason.startswith("Threshold Crossed: 1 datapoint [1.0 (")

        page = request(serving.url, "GET", "/metrics").body.decode()
        assert f'moorage_invocations_total{{endpoint="{name}",variant="AllTraffic"}} 4.0' in page
        assert f'moorage_model_latency_seconds_count{{endpoint="{name}"' in page
    finally:
        cw.delete_alarms(AlarmNames=[alarm])
        delete(esm, name)
