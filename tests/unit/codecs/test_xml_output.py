"""Query-protocol XML responses against botocore's own QueryParser."""

from __future__ import annotations

import enum
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from botocore.model import ServiceModel
from botocore.parsers import create_parser

from moorage.api.query_compat import resolve_error
from moorage.api.serialize import OutputShapeError
from moorage.api.xml_output import encode_query_error, encode_query_response
from moorage.errors import ResourceNotFound, ValidationError

NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"


def botocore_parse(model: ServiceModel, op: str, body: bytes, status: int = 200) -> Any:
    response = {"status_code": status, "headers": {}, "body": body}
    return create_parser("query").parse(response, model.operation_model(op).output_shape)


@pytest.mark.parametrize("op", ["DescribeAlarms", "GetMetricData", "DescribeAlarmHistory"])
def test_botocore_parses_our_responses(
    query_model: ServiceModel, results: dict[str, Any], same: Callable[[Any], Any], op: str
) -> None:
    body = encode_query_response(query_model.operation_model(op), results[op], request_id="r-1")
    parsed = botocore_parse(query_model, op, body)
    assert same(parsed) == same(results[op])
    assert parsed["ResponseMetadata"]["RequestId"] == "r-1"


def test_document_shape(query_model: ServiceModel, results: dict[str, Any]) -> None:
    body = encode_query_response(
        query_model.operation_model("DescribeAlarms"), results["DescribeAlarms"], request_id="r-1"
    )
    root = ET.fromstring(body)
    assert root.tag == f"{NS}DescribeAlarmsResponse"
    alarm = root.find(f"{NS}DescribeAlarmsResult/{NS}MetricAlarms/{NS}member")
    assert alarm is not None
    assert alarm.findtext(f"{NS}AlarmConfigurationUpdatedTimestamp") == "2024-05-01T12:30:15.123Z"
    assert alarm.findtext(f"{NS}StateUpdatedTimestamp") == "2023-11-14T22:13:20.500Z"
    assert alarm.findtext(f"{NS}ActionsEnabled") == "true"
    assert alarm.findtext(f"{NS}AlarmDescription") == "a < b & \"c\" 'd'"
    assert alarm.find(f"{NS}Unit") is None  # None members are omitted
    dimension = alarm.find(f"{NS}Dimensions/{NS}member/{NS}Name")
    assert dimension is not None and dimension.text == "EndpointName"
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId") == "r-1"


def test_operation_without_output(query_model: ServiceModel) -> None:
    body = encode_query_response(
        query_model.operation_model("PutMetricAlarm"), None, request_id="r"
    )
    assert body == (
        b'<PutMetricAlarmResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
        b"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
        b"</PutMetricAlarmResponse>"
    )
    assert (
        botocore_parse(query_model, "PutMetricAlarm", body)["ResponseMetadata"]["RequestId"] == "r"
    )


def test_awkward_text_and_numbers(query_model: ServiceModel) -> None:
    result = {
        "MetricDataResults": [
            {
                "Id": "m1",
                "Label": "cr\r\nlf\ttab <&> \x00\x1b end \u00e9\U0001f600",
                "Timestamps": [0.0, 1.0, 2.0],
                "Values": [math.nan, math.inf, -math.inf],
            }
        ]
    }
    body = encode_query_response(query_model.operation_model("GetMetricData"), result)
    parsed = botocore_parse(query_model, "GetMetricData", body)["MetricDataResults"][0]
    assert parsed["Label"] == "cr\r\nlf\ttab <&> \ufffd\ufffd end \u00e9\U0001f600"
    values = parsed["Values"]
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf


def test_unknown_output_member_is_a_programming_error(query_model: ServiceModel) -> None:
    with pytest.raises(OutputShapeError):
        encode_query_response(query_model.operation_model("DescribeAlarms"), {"Nope": 1})


@pytest.mark.parametrize(
    ("raised", "code", "status"),
    [
        ("ResourceNotFound", "ResourceNotFound", 404),
        ("InvalidParameterValue", "InvalidParameterValue", 400),
        ("MissingParameter", "MissingParameter", 400),
        ("InvalidParameterCombination", "InvalidParameterCombination", 400),
        ("LimitExceeded", "LimitExceeded", 400),
        ("ValidationException", "ValidationError", 400),
        ("InternalFailure", "InternalFailure", 500),
    ],
)
def test_errors_as_botocore_reads_them(
    query_model: ServiceModel, raised: str, code: str, status: int
) -> None:
    wire = resolve_error(query_model, raised, 500 if raised == "InternalFailure" else 400)
    assert wire.status == status
    body = encode_query_error(
        raised, "bad <value> & more", wire.status, "req-9", service_model=query_model
    )
    parsed = botocore_parse(query_model, "DescribeAlarms", body, status)
    assert parsed["Error"] == {
        "Type": "Receiver" if status >= 500 else "Sender",
        "Code": code,
        "Message": "bad <value> & more",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_error_document_shape() -> None:
    body = encode_query_error("ResourceNotFound", "gone", 404, "rid")
    assert body == (
        b'<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
        b"<Error><Type>Sender</Type><Code>ResourceNotFound</Code><Message>gone</Message></Error>"
        b"<RequestId>rid</RequestId></ErrorResponse>"
    )


def test_synthetic_traits_round_trip(synthetic_model: ServiceModel) -> None:
    model = synthetic_model
    result = {
        "Attributes": {"a": 1, "b": -2},
        "Flat": {"x": "1", "y": "2"},
        "Names": ["n1", "n2"],
        "Renamed": "r",
        "Items": ["i1", "i2"],
        "Payload": b"\x00\xffbytes",
        "Epoch": 1_704_067_200.5,
        "Ok": False,
    }
    body = encode_query_response(model.operation_model("Put"), result, request_id="x")
    assert b"<Name>n1</Name><Name>n2</Name>" in body
    assert b"<Flat><key>x</key><value>1</value></Flat>" in body
    assert b"<entry><Name>a</Name><Value>1</Value></entry>" in body
    assert b"<Epoch>1704067200.5</Epoch>" in body
    parser = create_parser("query")
    # botocore's default timestamp parser reads epoch numbers too.
    parsed = parser.parse(
        {"status_code": 200, "headers": {}, "body": body}, model.operation_model("Put").output_shape
    )
    parsed.pop("ResponseMetadata")
    assert parsed.pop("Epoch").timestamp() == 1_704_067_200.5
    result.pop("Epoch")
    assert parsed == result


def test_through_a_real_client(
    query_client: tuple[Any, Any],
    requests: dict[str, Any],
    results: dict[str, Any],
    decoded: Callable[[Any], Any],
    same: Callable[[Any], Any],
) -> None:
    client, transport = query_client
    transport.handler = lambda op, params: results.get(op)
    client.put_metric_alarm(**requests["PutMetricAlarm"])
    client.put_metric_data(**requests["PutMetricData"])
    assert same(client.get_metric_data(**requests["GetMetricData"])) == same(
        results["GetMetricData"]
    )
    assert same(client.describe_alarms(**requests["DescribeAlarms"])) == same(
        results["DescribeAlarms"]
    )
    history = client.describe_alarm_history(AlarmName="ep-latency")
    assert same(history) == same(results["DescribeAlarmHistory"])
    for op, params in transport.calls[:4]:
        assert params == decoded(requests[op])


def test_real_client_raises_the_modeled_exceptions(query_client: tuple[Any, Any]) -> None:
    client, transport = query_client

    def fail(op: str, params: dict[str, Any]) -> None:
        if op == "DeleteAlarms":
            raise ResourceNotFound("Alarm nope does not exist.")
        raise ValidationError("1 validation error detected: ...")

    transport.handler = fail
    with pytest.raises(client.exceptions.ResourceNotFound) as err:
        client.delete_alarms(AlarmNames=["nope"])
    assert err.value.response["Error"]["Message"] == "Alarm nope does not exist."
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(client.exceptions.ValidationException) as verr:
        client.describe_alarms()
    assert verr.value.response["Error"]["Code"] == "ValidationError"


def test_string_enums_are_written_by_value(query_model: ServiceModel) -> None:
    class State(enum.Enum):
        ALARM = "ALARM"

    body = encode_query_response(
        query_model.operation_model("DescribeAlarms"),
        {"MetricAlarms": [{"StateValue": State.ALARM}]},
    )
    parsed = botocore_parse(query_model, "DescribeAlarms", body)
    assert parsed["MetricAlarms"][0]["StateValue"] == "ALARM"
