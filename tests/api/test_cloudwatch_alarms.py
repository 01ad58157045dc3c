"""CloudWatch metric alarms through boto3 (JSON 1.0) against a real server."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.names import unique
from support.server import MoorageServer


@pytest.fixture
def cw(server: MoorageServer) -> Any:
    return server.client("cloudwatch")


def alarm(name: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "AlarmName": name,
        "Namespace": "moorage/tests",
        "MetricName": "Latency",
        "Dimensions": [{"Name": "EndpointName", "Value": "shop"}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 10.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    params.update(overrides)
    return params


def described(cw: Any, name: str) -> dict[str, Any]:
    alarms = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert len(alarms) == 1
    found: dict[str, Any] = alarms[0]
    return found


def error_of(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**params)
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_put_describe_delete(cw: Any) -> None:
    name = unique("Latency-Alarm")
    cw.put_metric_alarm(
        **alarm(
            name,
            AlarmDescription="p99 too high",
            AlarmActions=["arn:aws:sns:us-east-1:123456789012:pager"],
            DatapointsToAlarm=1,
            TreatMissingData="missing",
            Unit="Milliseconds",
            Tags=[{"Key": "team", "Value": "ml"}],
        )
    )
    found = described(cw, name)
    assert found["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    assert found["AlarmDescription"] == "p99 too high"
    assert found["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:pager"]
    assert found["Dimensions"] == [{"Name": "EndpointName", "Value": "shop"}]
    assert (found["Statistic"], found["Period"], found["Threshold"]) == ("Maximum", 60, 10.0)
    assert (found["Unit"], found["TreatMissingData"], found["DatapointsToAlarm"]) == (
        "Milliseconds",
        "missing",
        1,
    )
    # No datapoints and missing data kept missing: evaluations leave the state alone.
    assert found["StateValue"] == "INSUFFICIENT_DATA"
    assert found["StateReason"] == "Unchecked: Initial alarm creation"
    assert isinstance(found["AlarmConfigurationUpdatedTimestamp"], dt.datetime)

    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=name)["MetricAlarms"]] == [
        name
    ]
    by_state = cw.describe_alarms(AlarmNamePrefix=name, StateValue="OK")["MetricAlarms"]
    assert by_state == []
    by_action = cw.describe_alarms(ActionPrefix="arn:aws:sns:us-east-1:123456789012:pag")
    assert name in [a["AlarmName"] for a in by_action["MetricAlarms"]]
    assert (
        cw.describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    )

    cw.delete_alarms(AlarmNames=[name, unique("never-existed")])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_names_are_case_sensitive(cw: Any) -> None:
    name = unique("Case")
    cw.put_metric_alarm(**alarm(name, Threshold=1.0))
    cw.put_metric_alarm(**alarm(name.lower(), Threshold=2.0))
    assert described(cw, name)["Threshold"] == 1.0
    assert described(cw, name.lower())["Threshold"] == 2.0
    cw.delete_alarms(AlarmNames=[name])
    assert described(cw, name.lower())["Threshold"] == 2.0


def test_update_keeps_state(cw: Any) -> None:
    name = unique("update")
    cw.put_metric_alarm(**alarm(name))
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing")
    cw.put_metric_alarm(**alarm(name, Threshold=99.0))
    found = described(cw, name)
    assert (found["Threshold"], found["StateValue"]) == (99.0, "ALARM")
    summaries = [
        item["HistorySummary"]
        for item in cw.describe_alarm_history(
            AlarmName=name, HistoryItemType="ConfigurationUpdate"
        )["AlarmHistoryItems"]
    ]
    assert summaries == [f'Alarm "{name}" updated', f'Alarm "{name}" created']


def test_describe_alarms_pages(cw: Any) -> None:
    prefix = unique("paged")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        cw.put_metric_alarm(**alarm(name))
    first = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=2)
    assert [a["AlarmName"] for a in first["MetricAlarms"]] == names[:2]
    second = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=2, NextToken=first["NextToken"])
    assert [a["AlarmName"] for a in second["MetricAlarms"]] == names[2:4]
    paginator = cw.get_paginator("describe_alarms")
    pages = paginator.paginate(AlarmNamePrefix=prefix, PaginationConfig={"PageSize": 2})
    assert [a["AlarmName"] for page in pages for a in page["MetricAlarms"]] == names
    code, _, _ = error_of(cw.describe_alarms, NextToken="not-a-token")
    assert code == "InvalidNextToken"


def test_set_alarm_state(cw: Any) -> None:
    name = unique("forced")
    cw.put_metric_alarm(**alarm(name))
    data = json.dumps({"reason": "canary"})
    cw.set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="rollback drill", StateReasonData=data
    )
    found = described(cw, name)
    assert (found["StateValue"], found["StateReason"]) == ("ALARM", "rollback drill")
    assert found["StateReasonData"] == data
    assert cw.describe_alarms(AlarmNames=[name], StateValue="ALARM")["MetricAlarms"]
    items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")[
        "AlarmHistoryItems"
    ]
    assert items[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    history = json.loads(items[0]["HistoryData"])
    assert history["newState"]["stateReasonData"] == {"reason": "canary"}

    with pytest.raises(cw.exceptions.InvalidFormatFault):
        cw.set_alarm_state(
            AlarmName=name, StateValue="OK", StateReason="x", StateReasonData="{not json"
        )
    code, message, status = error_of(
        cw.set_alarm_state, AlarmName=unique("missing"), StateValue="OK", StateReason="x"
    )
    assert (code, status) == ("ResourceNotFound", 404)
    assert message.startswith("Alarm missing-") and message.endswith(" not found")


def test_alarm_goes_to_alarm_on_put_metric_data(cw: Any) -> None:
    namespace = unique("alarming")
    name = unique("trips")
    cw.put_metric_alarm(
        **alarm(name, Namespace=namespace, Period=1, Dimensions=[], Statistic="Maximum")
    )
    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Latency", "Value": 50.0}])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = described(cw, name)
        if state["StateValue"] == "ALARM":
            break
        time.sleep(0.1)
    # The datapoint leaves the evaluation range after a few seconds; history keeps the transition.
    items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")[
        "AlarmHistoryItems"
    ]
    to_alarm = [i for i in items if i["HistorySummary"].endswith("to ALARM")]
    assert to_alarm, items
    reason = json.loads(to_alarm[-1]["HistoryData"])["newState"]["stateReason"]
    assert reason.startswith("Threshold Crossed: 1 datapoint [50.0 (")
    assert reason.endswith("was greater than the threshold (10.0).")


def test_metric_math_alarm_round_trips(cw: Any) -> None:
    name = unique("math")
    metrics = [
        {
            "Id": "errors",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SageMaker",
                    "MetricName": "Invocation5XXErrors",
                    "Dimensions": [{"Name": "EndpointName", "Value": "shop"}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
        {"Id": "rate", "Expression": "errors * 100", "Label": "error %", "ReturnData": True},
    ]
    cw.put_metric_alarm(
        AlarmName=name,
        Metrics=metrics,
        EvaluationPeriods=2,
        Threshold=5.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    found = described(cw, name)
    assert found["Metrics"] == metrics
    assert "MetricName" not in found


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        ({"ComparisonOperator": None}, "MissingParameter", "ComparisonOperator"),
        ({"ExtendedStatistic": "p99"}, "InvalidParameterCombination", "ExtendedStatistic"),
        ({"DatapointsToAlarm": 3}, "ValidationError", "DatapointsToAlarm"),
        ({"Period": 7}, "ValidationError", "Period"),
        ({"AlarmName": "x" * 256}, "ValidationError", "at 'alarmName' failed to satisfy"),
        ({"Threshold": None}, "MissingParameter", "Threshold"),
        ({"EvaluationInterval": 60}, "InvalidParameterValue", "EvaluationInterval"),
        (
            {"ComparisonOperator": "GreaterThanUpperThreshold", "ThresholdMetricId": "ad1"},
            "ValidationError",
            "anomaly detection",
        ),
    ],
)
def test_put_metric_alarm_errors(
    cw: Any, overrides: dict[str, Any], code: str, fragment: str
) -> None:
    params = {k: v for k, v in alarm(unique("bad"), **overrides).items() if v is not None}
    got, message, status = error_of(cw.put_metric_alarm, **params)
    assert (got, status) == (code, 400)
    assert fragment in message


def test_describe_alarms_errors(cw: Any) -> None:
    code, _, _ = error_of(cw.describe_alarms, AlarmNames=["a"], AlarmNamePrefix="a")
    assert code == "InvalidParameterCombination"
    code, _, _ = error_of(cw.describe_alarms, ChildrenOfAlarmName="a", StateValue="OK")
    assert code == "ValidationError"
    assert cw.describe_alarms(ParentsOfAlarmName="a")["MetricAlarms"] == []


def test_alarm_history_filters_and_pages(cw: Any) -> None:
    name = unique("history")
    cw.put_metric_alarm(**alarm(name))
    for value in ("ALARM", "OK", "ALARM"):
        cw.set_alarm_state(AlarmName=name, StateValue=value, StateReason=value)
    newest_first = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert [i["HistoryItemType"] for i in newest_first] == ["StateUpdate"] * 3 + [
        "ConfigurationUpdate"
    ]
    oldest_first = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending")
    assert oldest_first["AlarmHistoryItems"] == newest_first[::-1]
    paginator = cw.get_paginator("describe_alarm_history")
    pages = list(paginator.paginate(AlarmName=name, PaginationConfig={"PageSize": 1}))
    assert len(pages) == 4
    assert [p["AlarmHistoryItems"][0] for p in pages] == newest_first
    later = newest_first[0]["Timestamp"] + dt.timedelta(seconds=1)
    assert cw.describe_alarm_history(AlarmName=name, StartDate=later)["AlarmHistoryItems"] == []
    assert cw.describe_alarm_history(AlarmName=unique("nothing"))["AlarmHistoryItems"] == []
    assert (
        cw.describe_alarm_history(AlarmName=name, AlarmTypes=["CompositeAlarm"])[
            "AlarmHistoryItems"
        ]
        == []
    )


def test_unimplemented_operation_is_named(cw: Any) -> None:
    code, message, status = error_of(cw.list_dashboards)
    assert (code, status) == ("NotImplemented", 501)
    assert "ListDashboards" in message
