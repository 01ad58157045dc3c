"""Inputs that once made the server answer 500, hang or balloon, through the real server.

Each is refused at the layer that owns the rule: the JSON, CBOR and query
decoders (nesting and size limits), the validator (timestamps, unpaired
surrogates, bounded error messages), the metric math parser (nesting limit)
and the Prometheus page (escaping whatever the store holds).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import cbor2
import pytest
from botocore.exceptions import ClientError

from support.cloudwatch import cbor_call, json10_call, query_call
from support.names import unique
from support.raw import RawReply, request, sagemaker_call
from support.server import MoorageServer

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model/x"
BAD_TIMES = ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity", "1e300", "-1e300"]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def json_error(reply: RawReply) -> tuple[str, str]:
    assert 400 <= reply.status < 500, reply.body[:500]
    body = reply.json()
    assert "Traceback" not in body["message"]
    return str(body["__type"]), str(body["message"])


def cbor_error(reply: RawReply) -> tuple[str, str]:
    assert 400 <= reply.status < 500, reply.body[:500]
    body = cbor2.loads(reply.body)
    return str(body["__type"]), str(body["message"])


def xml_code(reply: RawReply) -> str:
    assert 400 <= reply.status < 500, reply.body[:500]
    found = re.search(rb"<Code>([^<]*)</Code>", reply.body)
    assert found is not None, reply.body[:500]
    return found.group(1).decode()


def client_error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


# -- 1. deep nesting in request bodies ---------------------------------------------------


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_deep_json_is_a_serialization_error_on_sagemaker(server: MoorageServer, depth: int) -> None:
    body = b'{"NameContains":' + nested(depth) + b"}"
    code, message = json_error(sagemaker_call(server.url, "ListModels", body))
    assert code == "SerializationException"
    assert "nests more than 64 levels" in message


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_deep_json_is_a_serialization_error_on_cloudwatch(
    server: MoorageServer, depth: int
) -> None:
    body = b'{"Namespace":' + nested(depth) + b"}"
    code, message = json_error(json10_call(server.url, "ListMetrics", body))
    assert code.endswith("SerializationException")
    assert "nests more than 64 levels" in message


def test_nesting_within_the_limit_reaches_the_validator(server: MoorageServer) -> None:
    body = b'{"NameContains":' + nested(60) + b"}"
    code, message = json_error(sagemaker_call(server.url, "ListModels", body))
    assert code == "ValidationException"
    assert "'nameContains'" in message and "Member must be a string" in message


def test_deep_cbor_is_a_serialization_error(server: MoorageServer) -> None:
    body = b"\xa1\x69Namespace" + b"\x81" * 3_000 + b"\x80"
    code, _ = cbor_error(cbor_call(server.url, "ListMetrics", None, raw_body=body))
    assert code.endswith("SerializationException")


def test_a_deep_query_key_is_refused(server: MoorageServer) -> None:
    reply = query_call(server.url, "ListMetrics", {"Dimensions" + ".member" * 2_000: "x"})
    assert xml_code(reply) == "SerializationException"


def test_a_body_of_too_many_values_is_refused_before_parsing(server: MoorageServer) -> None:
    body = b'{"MetricData":[' + b",".join([b"0"] * 600_000) + b'],"Namespace":"n"}'
    reply = json10_call(server.url, "PutMetricData", body)
    code, message = json_error(reply)
    assert code.endswith("SerializationException")
    assert "more than 500000 values" in message
    assert len(reply.body) < 1024


def test_deep_json_in_state_reason_data_is_invalid_format(
    server: MoorageServer, tmp_path: Path
) -> None:
    cw = server.client("cloudwatch")
    name = unique("deep-reason")
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="Hostile",
        MetricName="M",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    try:
        code, _ = client_error(
            cw.set_alarm_state,
            AlarmName=name,
            StateValue="ALARM",
            StateReason="deep",
            StateReasonData="[" * 2_000 + "]" * 2_000,
        )
        assert code == "InvalidFormat"
    finally:
        cw.delete_alarms(AlarmNames=[name])


def test_deep_json_in_a_next_token_is_refused(server: MoorageServer) -> None:
    token = base64.urlsafe_b64encode(nested(3_000)).decode()
    code, _ = client_error(server.sagemaker.list_models, NextToken=token)
    assert code == "ValidationException"
    code, _ = client_error(server.client("cloudwatch").list_metrics, NextToken=token)
    assert code == "InvalidNextToken"


# -- 2. deep metric math -------------------------------------------------------------------

METRIC = {
    "Id": "m1",
    "MetricStat": {
        "Metric": {"Namespace": "Hostile", "MetricName": "Depth"},
        "Period": 60,
        "Stat": "Sum",
    },
    "ReturnData": False,
}


def window() -> tuple[dt.datetime, dt.datetime]:
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return end - dt.timedelta(minutes=10), end


def metric_data(cw: Any, namespace: str, *expressions: str) -> dict[str, Any]:
    start, end = window()
    metric = json.loads(json.dumps(METRIC))
    metric["MetricStat"]["Metric"]["Namespace"] = namespace
    queries = [metric] + [
        {"Id": f"e{n}", "Expression": text, "ReturnData": n == 1}
        for n, text in enumerate(expressions, start=1)
    ]
    return dict(cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end))


TOO_DEEP = [
    "(" * 600 + "m1" + ")" * 600,
    "-(" * 340 + "m1" + ")" * 340,
    "-" * 2_000 + "m1",
    "m1^" * 600 + "m1",
    "ABS(" * 400 + "m1" + ")" * 400,
    "[" * 33 + "m1" + "]" * 33,
]


@pytest.mark.parametrize("expression", TOO_DEEP, ids=lambda e: e[:6])
def test_too_deep_metric_math_is_a_validation_error(server: MoorageServer, expression: str) -> None:
    assert len(expression) <= 2_048
    cw = server.client("cloudwatch")
    start, end = window()
    code, message = client_error(
        cw.get_metric_data,
        MetricDataQueries=[METRIC, {"Id": "e1", "Expression": expression}],
        StartTime=start,
        EndTime=end,
    )
    assert code == "ValidationError"
    assert "nests more than 32 levels" in message


def test_metric_math_within_the_limits_is_evaluated(server: MoorageServer) -> None:
    cw = server.client("cloudwatch")
    namespace = unique("math-depth")
    _, end = window()
    at = end - dt.timedelta(minutes=3)
    cw.put_metric_data(
        Namespace=namespace, MetricData=[{"MetricName": "Depth", "Value": 2.0, "Timestamp": at}]
    )
    nested_32 = "(" * 32 + "m1" + ")" * 32
    chain = "+".join(["m1"] * 680)  # 2,039 characters, one level
    for expression, expected in ((nested_32, 2.0), (chain, 1360.0), ("-" * 32 + "m1", 2.0)):
        result = metric_data(cw, namespace, expression)["MetricDataResults"][0]
        assert result["Values"] == [expected], expression[:40]


def test_a_chain_of_500_queries_is_evaluated(server: MoorageServer) -> None:
    cw = server.client("cloudwatch")
    namespace = unique("math-chain")
    _, end = window()
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Depth", "Value": 1.0, "Timestamp": end - dt.timedelta(minutes=3)}
        ],
    )
    # e1 = e2 + 1, e2 = e3 + 1, ..., e499 = m1: 500 queries, each reading the next.
    expressions = [f"e{n + 1} + 1" for n in range(1, 499)] + ["m1"]
    result = metric_data(cw, namespace, *expressions)["MetricDataResults"][0]
    assert result["Values"] == [499.0]


def test_put_metric_alarm_refuses_too_deep_metric_math(server: MoorageServer) -> None:
    code, message = client_error(
        server.client("cloudwatch").put_metric_alarm,
        AlarmName=unique("deep-math"),
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[METRIC, {"Id": "e1", "Expression": "(" * 300 + "m1" + ")" * 300}],
    )
    assert code == "ValidationError"
    assert "nests more than 32 levels" in message


# -- 3. non-finite and out-of-range timestamps ---------------------------------------------


def _statistics_body(start: str) -> bytes:
    fields = '"Namespace":"Hostile","MetricName":"T","EndTime":1700000000,"Period":60'
    return ("{" + fields + ',"Statistics":["Sum"],"StartTime":' + start + "}").encode()


@pytest.mark.parametrize("value", BAD_TIMES)
def test_bad_timestamp_strings_over_json(server: MoorageServer, value: str) -> None:
    code, message = json_error(
        json10_call(server.url, "GetMetricStatistics", _statistics_body(json.dumps(value)))
    )
    assert code.endswith("ValidationException") and "'startTime'" in message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e300", "1e999", "-1e300"])
def test_bad_timestamp_numbers_over_json(server: MoorageServer, literal: str) -> None:
    code, message = json_error(
        json10_call(server.url, "GetMetricStatistics", _statistics_body(literal))
    )
    assert code.endswith("ValidationException") and "'startTime'" in message


@pytest.mark.parametrize(
    ("operation", "member", "extra"),
    [
        ("DescribeAlarmHistory", "StartDate", {}),
        ("DescribeAlarmHistory", "EndDate", {}),
        (
            "GetMetricData",
            "StartTime",
            {"EndTime": 1_700_000_000, "MetricDataQueries": [METRIC | {"ReturnData": True}]},
        ),
        ("PutMetricData", "Timestamp", {}),
    ],
)
@pytest.mark.parametrize("value", ["nan", "-inf", 1e300, 253402300800, -62135596801])
def test_every_timestamp_member_refuses_bad_values(
    server: MoorageServer, operation: str, member: str, extra: dict[str, Any], value: Any
) -> None:
    if operation == "PutMetricData":
        payload: dict[str, Any] = {
            "Namespace": "Hostile",
            "MetricData": [{"MetricName": "T", "Value": 1, member: value}],
        }
    else:
        payload = {member: value, **extra}
    code, _ = json_error(json10_call(server.url, operation, json.dumps(payload).encode()))
    assert code.endswith("ValidationException")


@pytest.mark.parametrize("value", BAD_TIMES)
def test_bad_timestamps_over_query(server: MoorageServer, value: str) -> None:
    reply = query_call(
        server.url,
        "GetMetricStatistics",
        {
            "Namespace": "Hostile",
            "MetricName": "T",
            "StartTime": value,
            "EndTime": "2026-01-01T00:00:00Z",
            "Period": "60",
            "Statistics.member.1": "Sum",
        },
    )
    assert xml_code(reply) == "ValidationError"


@pytest.mark.parametrize(
    "start", [math_value for math_value in (float("nan"), float("inf"), -float("inf"), 1e300)]
)
def test_bad_timestamps_over_cbor(server: MoorageServer, start: float) -> None:
    params = {
        "Namespace": "Hostile",
        "MetricName": "T",
        "StartTime": cbor2.CBORTag(1, start),
        "EndTime": cbor2.CBORTag(1, 1_700_000_000),
        "Period": 60,
        "Statistics": ["Sum"],
    }
    code, message = cbor_error(cbor_call(server.url, "GetMetricStatistics", params))
    assert code.endswith("ValidationException") and "'startTime'" in message


# -- 4. unpaired surrogates ----------------------------------------------------------------


def test_surrogates_are_refused_by_cloudwatch(server: MoorageServer) -> None:
    reply = json10_call(server.url, "DeleteAlarms", b'{"AlarmNames":["\\ud800"]}')
    code, message = json_error(reply)
    assert code.endswith("ValidationException")
    assert "unpaired surrogate" in message and "\\\\ud800" in reply.body.decode()
    body = (
        b'{"Namespace":"n\\ud800","MetricData":[{"MetricName":"x\\udfff","Value":1,'
        b'"Dimensions":[{"Name":"a\\ud800","Value":"\\ud800"}]}]}'
    )
    code, message = json_error(json10_call(server.url, "PutMetricData", body))
    assert message.startswith("4 validation errors detected")
    page = request(server.url, "GET", "/metrics")
    assert page.status == 200


def test_surrogates_are_refused_by_sagemaker(server: MoorageServer) -> None:
    sm = server.sagemaker
    code, message = client_error(sm.describe_model, ModelName="m\ud800")
    assert code == "ValidationException" and "unpaired surrogate" in message
    code, message = client_error(
        sm.add_tags, ResourceArn=ARN, Tags=[{"Key": "k", "Value": "\udfff"}]
    )
    assert code == "ValidationException" and "'tags.1.member.value'" in message
    code, message = client_error(
        sm.create_model,
        ModelName=unique("surrogate"),
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "img", "Environment": {"K\ud800": "v"}},
    )
    assert code == "ValidationException" and "Map keys must satisfy constraint" in message


_SAMPLE = re.compile(
    r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? \S+'
)


def test_the_metrics_page_escapes_what_the_store_holds(server: MoorageServer) -> None:
    cw = server.client("cloudwatch")
    namespace = unique("odd") + '\\"'
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": 'line\nbreak "quoted" \\ é',
                "Value": 1.0,
                "Unit": "Count",
                "Dimensions": [
                    {"Name": "1st", "Value": 'v"\n\\'},
                    {"Name": "Namespace", "Value": "shadow"},
                    {"Name": "Endpoint", "Value": "a"},
                    {"Name": "EndpointName", "Value": "b"},
                    {"Name": "__reserved", "Value": "c"},
                ],
            }
        ],
    )
    page = request(server.url, "GET", "/metrics")
    assert page.status == 200
    text = page.body.decode("utf-8")
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")), line
            continue
        assert _SAMPLE.fullmatch(line), line
        names = re.findall(r'[{,]([a-zA-Z_][a-zA-Z0-9_]*)="', line)
        assert len(names) == len(set(names)), line
    [sample] = [line for line in text.splitlines() if 'dimension_1_st="v\\"\\n\\\\"' in line]
    assert 'namespace="' in sample and "namespace_2=" in sample and "endpoint_2=" in sample
    assert sample.endswith(" 1.0")


# -- 6. bounded error answers ------------------------------------------------------------


def test_many_errors_are_counted_and_a_few_listed(server: MoorageServer) -> None:
    tags = b",".join([b"{}"] * 60_000)
    body = b'{"ResourceArn":"' + ARN.encode() + b'","Tags":[' + tags + b"]}"
    reply = sagemaker_call(server.url, "AddTags", body)
    code, message = json_error(reply)
    assert code == "ValidationException"
    # 60,000 tags without Key and Value, and a list longer than 50.
    assert message.startswith("120001 validation errors detected: ")
    assert message.endswith("; and 119991 more validation errors not listed")
    assert message.count("failed to satisfy constraint") == 10
    assert len(reply.body) < 10 * 1024


def test_echoed_values_are_cut(server: MoorageServer) -> None:
    reply = sagemaker_call(server.url, "DescribeModel", {"ModelName": "x" * 1_000_000})
    code, message = json_error(reply)
    assert code == "ValidationException"
    assert "x" * 256 + "...'" in message
    assert len(reply.body) < 2 * 1024
    reply = sagemaker_call(server.url, "ListModels", {"y" * 1_000_000: 1})
    code, message = json_error(reply)
    assert message.startswith("1 validation error detected: Unknown parameter 'yyy")
    assert len(reply.body) < 2 * 1024


def _peak_rss_kib(server: MoorageServer) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def test_a_16_mib_add_tags_of_empty_tags_answers_small_and_keeps_serving(
    fresh_server: MoorageServer,
) -> None:
    count = (16 * 1024 * 1024 - 200) // 3
    body = b'{"ResourceArn":"' + ARN.encode() + b'","Tags":[' + b",".join([b"{}"] * count) + b"]}"
    assert len(body) <= 16 * 1024 * 1024
    # Warm up, so that the peak below is what the large requests add.
    assert sagemaker_call(fresh_server.url, "ListModels", {}).status == 200
    before = _peak_rss_kib(fresh_server)
    replies: list[RawReply] = []

    def send() -> None:
        replies.append(sagemaker_call(fresh_server.url, "AddTags", body))

    senders = [threading.Thread(target=send) for _ in range(3)]
    for sender in senders:
        sender.start()
    answered_meanwhile = 0
    while any(sender.is_alive() for sender in senders):
        health = request(fresh_server.url, "GET", "/healthz", timeout=60)
        assert health.status == 200
        if any(sender.is_alive() for sender in senders):
            answered_meanwhile += 1
        time.sleep(0.01)
    for sender in senders:
        sender.join()
    assert answered_meanwhile > 0
    assert len(replies) == 3
    for reply in replies:
        code, message = json_error(reply)
        assert code == "SerializationException", message
        assert len(reply.body) < 10 * 1024
    # Three 16 MiB bodies in flight at once, and nothing built from them.
    assert _peak_rss_kib(fresh_server) - before < 256 * 1024
