"""Alarm definitions and states survive a restart; metrics start afresh."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from support.server import running


def single(name: str, threshold: float, treat_missing: str = "missing") -> dict[str, Any]:
    return {
        "AlarmName": name,
        "Namespace": "moorage/restart",
        "MetricName": "Latency",
        "Dimensions": [{"Name": "EndpointName", "Value": "shop"}],
        "ExtendedStatistic": "p99",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": treat_missing,
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:pager"],
    }


def test_alarms_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    math = {
        "AlarmName": "error-rate",
        "Metrics": [
            {
                "Id": "e",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors"},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "e * 2", "ReturnData": True},
        ],
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    with running(data) as first:
        cw = first.client("cloudwatch")
        cw.put_metric_alarm(**single("Latency", 100.0))
        # Without data, a "breaching" alarm goes to ALARM at its first evaluation.
        cw.put_metric_alarm(**single("latency", 200.0, "breaching"))
        cw.put_metric_alarm(**math)
        cw.put_metric_alarm(**single("deleted", 1.0))
        cw.delete_alarms(AlarmNames=["deleted"])
        # SetAlarmState holds for one Period (60 s): the restarted server keeps it.
        cw.set_alarm_state(AlarmName="Latency", StateValue="ALARM", StateReason="drill")
        cw.put_metric_data(
            Namespace="moorage/restart", MetricData=[{"MetricName": "m", "Value": 1}]
        )
        deadline = time.monotonic() + 10
        while cw.describe_alarms(AlarmNames=["latency"], StateValue="ALARM")["MetricAlarms"] == []:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = cw.describe_alarms()["MetricAlarms"]
        # SIGKILL: durability must not depend on a clean shutdown.
        first.kill9()
    with running(data) as second:
        cw = second.client("cloudwatch")
        after = cw.describe_alarms()["MetricAlarms"]
        assert [a["AlarmName"] for a in after] == ["Latency", "error-rate", "latency"]
        assert after == before
        latency = after[0]
        assert (latency["StateValue"], latency["StateReason"]) == ("ALARM", "drill")
        assert after[2]["Threshold"] == 200.0
        assert after[2]["StateReason"].startswith("Threshold Crossed: no datapoints were received")
        assert cw.list_metrics(Namespace="moorage/restart")["Metrics"] == []
        cw.delete_alarms(AlarmNames=["latency"])
    with running(data) as third:
        names = [
            a["AlarmName"] for a in third.client("cloudwatch").describe_alarms()["MetricAlarms"]
        ]
        assert names == ["Latency", "error-rate"]
