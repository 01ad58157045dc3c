"""The same CloudWatch operations over RPC v2 CBOR and the query protocol.

Each protocol is driven two ways: raw HTTP (to check the wire and to send
what no SDK would) and a botocore client whose model is forced to that
protocol, so botocore's own serializer and parser run against the server.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import cbor2
import pytest
from botocore.exceptions import ClientError

from support.cloudwatch import TARGET, cbor_call, json10_call, protocol_client, query_call
from support.names import unique
from support.raw import RawReply, request
from support.server import MoorageServer

NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"


def xml(reply: RawReply) -> ET.Element:
    assert reply.headers["content-type"].startswith("text/xml")
    return ET.fromstring(reply.body)


def xml_error(reply: RawReply) -> tuple[str, str, str]:
    root = xml(reply)
    assert root.tag == f"{NS}ErrorResponse"
    error = root.find(f"{NS}Error")
    assert error is not None
    return (
        error.findtext(f"{NS}Type", ""),
        error.findtext(f"{NS}Code", ""),
        error.findtext(f"{NS}Message", ""),
    )


def cbor_error(reply: RawReply) -> tuple[str, str]:
    assert reply.headers["content-type"] == "application/cbor"
    assert reply.headers["smithy-protocol"] == "rpc-v2-cbor"
    body = cbor2.loads(reply.body)
    return body["__type"], reply.headers["x-amzn-query-error"]


# -- RPC v2 CBOR, raw ----------------------------------------------------------------------


def test_cbor_round_trip(server: MoorageServer) -> None:
    namespace = unique("cbor")
    at = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    put = cbor_call(
        server.url,
        "PutMetricData",
        {
            "Namespace": namespace,
            "MetricData": [
                {"MetricName": "Hits", "Value": 3, "Timestamp": cbor2.CBORTag(1, at.timestamp())}
            ],
        },
    )
    assert put.status == 200, put.body
    assert put.body == b""
    assert "content-type" not in put.headers
    assert put.headers["smithy-protocol"] == "rpc-v2-cbor"

    stats = cbor_call(
        server.url,
        "GetMetricStatistics",
        {
            "Namespace": namespace,
            "MetricName": "Hits",
            "StartTime": cbor2.CBORTag(1, at.timestamp() - 60),
            "EndTime": cbor2.CBORTag(1, at.timestamp() + 120),
            "Period": 60,
            "Statistics": ["Sum"],
        },
    )
    assert stats.status == 200
    assert stats.headers["content-type"] == "application/cbor"
    body = cbor2.loads(stats.body)
    (point,) = body["Datapoints"]
    assert point["Sum"] == 3.0
    assert point["Timestamp"] == at

    name = unique("cbor-alarm")
    created = cbor_call(
        server.url,
        "PutMetricAlarm",
        {
            "AlarmName": name,
            "Namespace": namespace,
            "MetricName": "Hits",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    assert created.status == 200, created.body
    alarms = cbor2.loads(cbor_call(server.url, "DescribeAlarms", {"AlarmNames": [name]}).body)
    (found,) = alarms["MetricAlarms"]
    assert (found["AlarmName"], found["Threshold"]) == (name, 1.0)
    assert isinstance(found["StateUpdatedTimestamp"], dt.datetime)


def test_cbor_errors(server: MoorageServer) -> None:
    missing = cbor_call(
        server.url, "SetAlarmState", {"AlarmName": "nope", "StateValue": "OK", "StateReason": "x"}
    )
    assert missing.status == 404
    assert cbor_error(missing) == (
        "com.amazonaws.cloudwatch#ResourceNotFound",
        "ResourceNotFound;Sender",
    )
    assert cbor2.loads(missing.body)["message"] == "Alarm nope not found"

    invalid = cbor_call(server.url, "DescribeAlarms", {"MaxRecords": 0})
    assert invalid.status == 400
    assert cbor_error(invalid) == (
        "com.amazonaws.cloudwatch#ValidationException",
        "ValidationError;Sender",
    )

    for garbage in (b"\xff\xff", b"\x83\x01\x02\x03", cbor2.dumps({"a": 1}) + b"\x00"):
        reply = cbor_call(server.url, "DescribeAlarms", None, raw_body=garbage)
        assert reply.status == 400
        assert cbor_error(reply)[1] == "SerializationException;Sender"

    unknown = cbor_call(server.url, "Frobnicate", {})
    assert unknown.status == 404
    assert cbor_error(unknown)[1].startswith("UnknownOperationException;")

    not_served = cbor_call(server.url, "ListDashboards", {})
    assert not_served.status == 501
    assert "ListDashboards" in cbor2.loads(not_served.body)["message"]

    wrong_method = request(server.url, "GET", f"/service/{TARGET}/operation/DescribeAlarms")
    assert wrong_method.status == 404
    wrong_service = request(
        server.url,
        path="/service/Other/operation/DescribeAlarms",
        body=cbor2.dumps({}),
        headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
    )
    assert wrong_service.status == 404


# -- query protocol, raw -------------------------------------------------------------------


def test_query_round_trip(server: MoorageServer) -> None:
    name = unique("query-alarm")
    created = query_call(
        server.url,
        "PutMetricAlarm",
        {
            "AlarmName": name,
            "Namespace": "moorage/query",
            "MetricName": "Hits",
            "Dimensions.member.1.Name": "Host",
            "Dimensions.member.1.Value": "a",
            "Statistic": "Sum",
            "Period": "60",
            "EvaluationPeriods": "2",
            "Threshold": "5.5",
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    assert created.status == 200, created.body
    assert xml(created).tag == f"{NS}PutMetricAlarmResponse"

    described = query_call(server.url, "DescribeAlarms", {"AlarmNames.member.1": name})
    assert described.status == 200
    root = xml(described)
    member = root.find(f"{NS}DescribeAlarmsResult/{NS}MetricAlarms/{NS}member")
    assert member is not None
    assert member.findtext(f"{NS}AlarmName") == name
    assert member.findtext(f"{NS}Threshold") == "5.5"
    assert member.findtext(f"{NS}EvaluationPeriods") == "2"
    assert member.findtext(f"{NS}Dimensions/{NS}member/{NS}Name") == "Host"
    updated = member.findtext(f"{NS}StateUpdatedTimestamp", "")
    assert updated.endswith("Z")
    assert (
        root.findtext(f"{NS}ResponseMetadata/{NS}RequestId")
        == described.headers["x-amzn-requestid"]
    )


def test_query_errors(server: MoorageServer) -> None:
    missing = query_call(
        server.url, "SetAlarmState", {"AlarmName": "nope", "StateValue": "OK", "StateReason": "x"}
    )
    assert missing.status == 404
    assert xml_error(missing) == ("Sender", "ResourceNotFound", "Alarm nope not found")

    invalid = query_call(server.url, "DescribeAlarms", {"MaxRecords": "many"})
    assert invalid.status == 400
    fault, code, message = xml_error(invalid)
    assert (fault, code) == ("Sender", "ValidationError")
    assert "'maxRecords'" in message

    assert xml_error(query_call(server.url, None, {"Version": "2010-08-01"}))[1] == "MissingAction"
    assert xml_error(query_call(server.url, "Frobnicate", {}))[1] == "InvalidAction"
    not_served = query_call(server.url, "ListDashboards", {})
    assert not_served.status == 501
    assert "ListDashboards" in xml_error(not_served)[2]

    malformed = request(
        server.url,
        body=b"Action=DescribeAlarms&\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert malformed.status == 400
    assert xml_error(malformed)[1] == "SerializationException"


# -- JSON 1.0, raw -------------------------------------------------------------------------


def test_json10_wire(server: MoorageServer) -> None:
    ok = json10_call(server.url, "DescribeAlarms", b"{}")
    assert ok.status == 200
    assert ok.headers["content-type"] == "application/x-amz-json-1.0"
    assert "MetricAlarms" in ok.json()

    for garbage in (b"{not json", b"[1]", b"\xff"):
        reply = json10_call(server.url, "DescribeAlarms", garbage)
        assert reply.status == 400
        assert reply.headers["x-amzn-query-error"].endswith(";Sender")
        assert "Traceback" not in reply.body.decode("utf-8", "replace")

    missing = json10_call(
        server.url,
        "SetAlarmState",
        json.dumps({"AlarmName": "nope", "StateValue": "OK", "StateReason": "x"}).encode(),
    )
    assert missing.status == 404
    assert missing.json() == {
        "__type": "com.amazonaws.cloudwatch#ResourceNotFound",
        "message": "Alarm nope not found",
    }
    assert missing.headers["x-amzn-query-error"] == "ResourceNotFound;Sender"

    wrong_types = json10_call(
        server.url, "PutMetricData", json.dumps({"Namespace": 5, "MetricData": "x"}).encode()
    )
    assert wrong_types.status == 400
    assert wrong_types.headers["x-amzn-query-error"] == "ValidationError;Sender"

    bad_gzip = request(
        server.url,
        body=b"\x1f\x8b\x08garbage",
        headers={
            "X-Amz-Target": f"{TARGET}.DescribeAlarms",
            "Content-Type": "application/x-amz-json-1.0",
            "Content-Encoding": "gzip",
        },
    )
    assert bad_gzip.status == 400
    assert bad_gzip.headers["x-amzn-query-error"] == "SerializationException;Sender"
    gzipped = request(
        server.url,
        body=gzip.compress(b"{}"),
        headers={
            "X-Amz-Target": f"{TARGET}.DescribeAlarms",
            "Content-Type": "application/x-amz-json-1.0",
            "Content-Encoding": "gzip",
        },
    )
    assert gzipped.status == 200


# -- botocore clients forced to each protocol -------------------------------------------------


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query", "json"])
def test_botocore_clients(server: MoorageServer, tmp_path: Path, protocol: str) -> None:
    cw = protocol_client(server.url, tmp_path / "models", protocol)
    namespace = unique(f"proto-{protocol}")
    at = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    # Over 10 KiB, so that botocore gzips the body (PutMetricData's requestcompression).
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Host", "Value": f"h{i:03d}"}],
                "Timestamp": at,
                "Values": [float(i), 2.0 * i],
                "Unit": "Milliseconds",
            }
            for i in range(200)
        ],
    )
    listed = cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Host", "Value": "h007"}])
    assert [m["Dimensions"] for m in listed["Metrics"]] == [[{"Name": "Host", "Value": "h007"}]]
    window = {"StartTime": at - dt.timedelta(minutes=1), "EndTime": at + dt.timedelta(minutes=2)}
    stats = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Latency",
        Dimensions=[{"Name": "Host", "Value": "h007"}],
        Period=60,
        ExtendedStatistics=["p100"],
        **window,
    )
    assert stats["Datapoints"][0]["ExtendedStatistics"] == {"p100": 14.0}
    assert stats["Datapoints"][0]["Timestamp"] == at
    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": "Latency",
                        "Dimensions": [{"Name": "Host", "Value": "h001"}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        **window,
    )
    assert data["MetricDataResults"][0]["Values"] == [3.0]

    name = unique(f"proto-alarm-{protocol}")
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName="Latency",
        Dimensions=[{"Name": "Host", "Value": "h001"}],
        ExtendedStatistic="p90",
        Period=60,
        EvaluationPeriods=1,
        Threshold=100.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="drill")
    (found,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (found["ExtendedStatistic"], found["StateValue"]) == ("p90", "ALARM")
    history = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert [h["HistoryItemType"] for h in history] == ["StateUpdate", "ConfigurationUpdate"]

    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.set_alarm_state(AlarmName=unique("nope"), StateValue="OK", StateReason="x")
    with pytest.raises(ClientError) as info:
        cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "m"}])
    assert info.value.response["Error"]["Code"] == "MissingParameter"
    cw.delete_alarms(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_numbers_too_large_for_a_float_are_validation_errors(server: MoorageServer) -> None:
    huge = "9" * 5000
    over_json = json10_call(
        server.url, "DescribeAlarmHistory", b'{"StartDate": 1' + b"0" * 400 + b"}"
    )
    assert over_json.status == 400
    assert over_json.headers["x-amzn-query-error"] == "ValidationError;Sender"
    over_cbor = cbor_call(
        server.url,
        "PutMetricData",
        {"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": 10**5000}]},
    )
    assert over_cbor.status == 400
    assert cbor_error(over_cbor)[1] == "ValidationError;Sender"
    assert "Member must be a number" in cbor2.loads(over_cbor.body)["message"]
    over_query = query_call(server.url, "DescribeAlarms", {"MaxRecords": huge})
    assert over_query.status == 400
    assert xml_error(over_query)[1] == "ValidationError"
