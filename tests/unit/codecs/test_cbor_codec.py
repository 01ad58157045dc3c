"""RPC v2 CBOR against botocore's own serializer and parser."""

from __future__ import annotations

import contextlib
import enum
import random
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from moorage.api.cbor_codec import (
    decode_request,
    encode_error,
    encode_response,
    operation_from_path,
)
from moorage.api.query_compat import resolve_error
from moorage.api.serialize import OutputShapeError
from moorage.api.validate import validate
from moorage.errors import ResourceNotFound, SerializationError, ValidationError

PROTOCOL = "smithy-rpc-v2-cbor"


def botocore_request(model: ServiceModel, op: str, params: dict[str, Any]) -> dict[str, Any]:
    serializer = create_serializer(PROTOCOL, include_validation=True)
    request: dict[str, Any] = serializer.serialize_to_request(params, model.operation_model(op))
    return request


def botocore_parse(
    model: ServiceModel, op: str, body: bytes, headers: dict[str, str], status: int = 200
) -> Any:
    response = {"status_code": status, "headers": headers, "body": body}
    return create_parser(PROTOCOL).parse(response, model.operation_model(op).output_shape)


@pytest.mark.parametrize(
    "op", ["PutMetricAlarm", "PutMetricData", "GetMetricData", "DescribeAlarms"]
)
def test_decodes_what_botocore_sends(
    cbor_model: ServiceModel, requests: dict[str, Any], decoded: Callable[[Any], Any], op: str
) -> None:
    request = botocore_request(cbor_model, op, requests[op])
    assert request["url_path"] == f"/service/GraniteServiceVersion20100801/operation/{op}"
    assert request["headers"]["smithy-protocol"] == "rpc-v2-cbor"
    params = decode_request(cbor_model.operation_model(op), request["body"])
    assert params == decoded(requests[op])
    # And the validator accepts it as it stands.
    assert validate(cbor_model.operation_model(op).input_shape, params) == params


def test_timestamps_are_epoch_floats(cbor_model: ServiceModel, requests: dict[str, Any]) -> None:
    request = botocore_request(cbor_model, "PutMetricData", requests["PutMetricData"])
    params = decode_request(cbor_model.operation_model("PutMetricData"), request["body"])
    first, second = params["MetricData"]
    assert first["Timestamp"] == 1_700_000_000.25
    assert type(second["Timestamp"]) is float


def test_empty_body_and_empty_map_mean_no_params(cbor_model: ServiceModel) -> None:
    op = cbor_model.operation_model("DescribeAlarms")
    assert decode_request(op, b"") == {}
    assert decode_request(op, cbor2.dumps({})) == {}
    request = botocore_request(cbor_model, "DescribeAlarms", {})
    assert decode_request(op, request["body"]) == {}


def test_wrong_types_pass_through_for_the_validator(cbor_model: ServiceModel) -> None:
    op = cbor_model.operation_model("PutMetricAlarm")
    body = cbor2.dumps(
        {
            "AlarmName": 5,
            "EvaluationPeriods": "three",
            "Threshold": 7,  # an integral double may travel as an integer
            "ComparisonOperator": "GreaterThanThreshold",
            "Dimensions": "not-a-list",
            "Unit": None,
            "Bogus": [1, 2],
        }
    )
    params = decode_request(op, body)
    assert params == {
        "AlarmName": 5,
        "EvaluationPeriods": "three",
        "Threshold": 7.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "Dimensions": "not-a-list",
        "Bogus": [1, 2],
    }
    with pytest.raises(ValidationError) as err:
        validate(op.input_shape, params)
    assert (
        "at 'alarmName' failed to satisfy constraint: Member must be a string" in err.value.message
    )
    assert "Unknown parameter 'Bogus'" in err.value.message


def test_undefined_is_null_and_tagged_strings_pass_through(cbor_model: ServiceModel) -> None:
    op = cbor_model.operation_model("GetMetricData")
    body = (
        b"\xa3"
        + cbor2.dumps("MaxDatapoints")
        + b"\xf7"  # undefined
        + cbor2.dumps("StartTime")
        + b"\xc1\x1a\x65\x53\xf1\x00"  # tag 1, integer seconds
        + cbor2.dumps("EndTime")
        + cbor2.dumps("2024-01-01T00:00:00Z")
    )
    assert decode_request(op, body) == {
        "StartTime": 1_700_000_000.0,
        "EndTime": "2024-01-01T00:00:00Z",
    }


GARBAGE = [
    b"\xa1",  # truncated map
    b"\xa1\x61",  # truncated key
    cbor2.dumps({"AlarmNames": ["a"]})[:-1],
    cbor2.dumps(["a", "b"]),  # not a map
    cbor2.dumps("text"),
    cbor2.dumps(1),
    cbor2.dumps(None),
    cbor2.dumps({"a": 1}) + b"\x00",  # trailing data
    b"\xa1\x01\x02",  # integer key
    b"\xa1\x62\xff\xfe\x01",  # key that is not UTF-8
    b"\xff",  # break with nothing open
    b"\x1f",  # reserved additional info
    b"\xc1\x61a",  # tag 1 around text at top level
    bytes.fromhex("d81c81d81d00"),  # shared reference cycle
    b"\x81" * 200 + b"\xa0",  # nesting far past any shape
    b'{"AlarmNames": ["a"]}',  # JSON sent to the CBOR endpoint
]


@pytest.mark.parametrize("body", GARBAGE)
def test_undecodable_bodies_are_serialization_errors(cbor_model: ServiceModel, body: bytes) -> None:
    with pytest.raises(SerializationError):
        decode_request(cbor_model.operation_model("DescribeAlarms"), body)


def test_random_bytes_never_raise_anything_else(cbor_model: ServiceModel) -> None:
    op = cbor_model.operation_model("PutMetricData")
    rng = random.Random(1234)
    seed = cbor2.dumps({"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": 1.5}]})
    for _ in range(2000):
        body = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        body = body[: rng.randint(0, len(body))]
        # Decoding may succeed or fail, but only ever with SerializationError.
        with contextlib.suppress(SerializationError):
            decode_request(op, bytes(body))


@pytest.mark.parametrize("op", ["DescribeAlarms", "GetMetricData", "DescribeAlarmHistory"])
def test_botocore_parses_our_responses(
    cbor_model: ServiceModel, results: dict[str, Any], same: Callable[[Any], Any], op: str
) -> None:
    body, headers = encode_response(cbor_model.operation_model(op), results[op])
    assert headers == {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    parsed = botocore_parse(cbor_model, op, body, headers)
    assert same(parsed) == same(results[op])


def test_response_wire_form(cbor_model: ServiceModel, results: dict[str, Any]) -> None:
    body, _ = encode_response(cbor_model.operation_model("GetMetricData"), results["GetMetricData"])
    decoded = cbor2.loads(body, semantic_decoders={1: lambda value, _: ("tag1", value)})
    item = decoded["MetricDataResults"][0]
    assert item["Timestamps"][:2] == [("tag1", 1_700_000_000.0), ("tag1", 1_700_000_060.0)]
    assert item["Values"] == [1.0, 2.5, 3.0]
    assert all(type(value) is float for value in item["Values"])
    alarms, _ = encode_response(
        cbor_model.operation_model("DescribeAlarms"), {"MetricAlarms": [{"Unit": None}]}
    )
    assert cbor2.loads(alarms) == {"MetricAlarms": [{}]}


def test_operation_without_output_has_no_body(cbor_model: ServiceModel) -> None:
    body, headers = encode_response(cbor_model.operation_model("PutMetricAlarm"), None)
    assert body == b""
    assert headers == {"smithy-protocol": "rpc-v2-cbor"}
    parsed = botocore_parse(cbor_model, "PutMetricAlarm", body, headers)
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_unknown_output_member_is_a_programming_error(cbor_model: ServiceModel) -> None:
    with pytest.raises(OutputShapeError):
        encode_response(cbor_model.operation_model("DescribeAlarms"), {"Alarms": []})


@pytest.mark.parametrize(
    ("raised", "code", "shape", "status"),
    [
        ("ResourceNotFound", "ResourceNotFound", "ResourceNotFound", 404),
        ("InvalidParameterValue", "InvalidParameterValue", "InvalidParameterValueException", 400),
        (
            "InvalidParameterValueException",
            "InvalidParameterValue",
            "InvalidParameterValueException",
            400,
        ),
        ("MissingParameter", "MissingParameter", "MissingRequiredParameterException", 400),
        (
            "InvalidParameterCombination",
            "InvalidParameterCombination",
            "InvalidParameterCombinationException",
            400,
        ),
        ("LimitExceeded", "LimitExceeded", "LimitExceededFault", 400),
        ("ValidationException", "ValidationError", "ValidationException", 400),
        ("ValidationError", "ValidationError", "ValidationException", 400),
        ("InternalFailure", "InternalFailure", "InternalFailure", 500),
        ("SerializationException", "SerializationException", "SerializationException", 400),
    ],
)
def test_errors_as_botocore_reads_them(
    cbor_model: ServiceModel, raised: str, code: str, shape: str, status: int
) -> None:
    default_status = 500 if raised == "InternalFailure" else 400
    wire = resolve_error(cbor_model, raised, default_status)
    assert wire.status == status
    body, headers = encode_error(raised, "it broke: <here>", wire.status, service_model=cbor_model)
    assert cbor2.loads(body)["__type"] == f"com.amazonaws.cloudwatch#{shape}"
    assert headers["x-amzn-query-error"] == f"{code};{'Receiver' if status >= 500 else 'Sender'}"
    parsed = botocore_parse(cbor_model, "DescribeAlarms", body, headers, status)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == "it broke: <here>"


def test_default_model_is_cloudwatch() -> None:
    body, headers = encode_error("ResourceNotFound", "gone", 404)
    assert cbor2.loads(body) == {
        "__type": "com.amazonaws.cloudwatch#ResourceNotFound",
        "message": "gone",
    }
    assert headers["Content-Type"] == "application/cbor"


def test_operation_from_path() -> None:
    path = "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm"
    assert operation_from_path(path) == ("GraniteServiceVersion20100801", "PutMetricAlarm")
    assert operation_from_path("/v1" + path) == ("GraniteServiceVersion20100801", "PutMetricAlarm")
    assert operation_from_path(
        "/service/com.amazonaws.cloudwatch.GraniteServiceVersion20100801/operation/ListMetrics"
    ) == ("GraniteServiceVersion20100801", "ListMetrics")
    assert operation_from_path("/service/X/operations/Y") is None
    assert operation_from_path("/") is None


def test_through_a_real_client(
    cbor_client: tuple[Any, Any],
    requests: dict[str, Any],
    results: dict[str, Any],
    decoded: Callable[[Any], Any],
    same: Callable[[Any], Any],
) -> None:
    client, transport = cbor_client
    transport.handler = lambda op, params: results.get(op)
    client.put_metric_alarm(**requests["PutMetricAlarm"])
    client.put_metric_data(**requests["PutMetricData"])
    got = client.get_metric_data(**requests["GetMetricData"])
    assert same(got) == same(results["GetMetricData"])
    alarms = client.describe_alarms(**requests["DescribeAlarms"])
    assert same(alarms) == same(results["DescribeAlarms"])
    assert [call[0] for call in transport.calls] == [
        "PutMetricAlarm",
        "PutMetricData",
        "GetMetricData",
        "DescribeAlarms",
    ]
    for op, params in transport.calls:
        assert params == decoded(requests[op])


def test_real_client_raises_the_modeled_exceptions(cbor_client: tuple[Any, Any]) -> None:
    client, transport = cbor_client

    def fail(op: str, params: dict[str, Any]) -> None:
        if op == "DeleteAlarms":
            raise ResourceNotFound(f"Alarm {params['AlarmNames'][0]} does not exist.")
        raise ValidationError("1 validation error detected: ...")

    transport.handler = fail
    with pytest.raises(client.exceptions.ResourceNotFound) as err:
        client.delete_alarms(AlarmNames=["nope"])
    assert err.value.response["Error"]["Message"] == "Alarm nope does not exist."
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(client.exceptions.ValidationException) as verr:
        client.describe_alarms()
    assert verr.value.response["Error"]["Code"] == "ValidationError"


def test_enum_members_are_written_by_value(cbor_model: ServiceModel) -> None:
    class State(enum.Enum):
        ALARM = "ALARM"

    body, headers = encode_response(
        cbor_model.operation_model("DescribeAlarms"),
        {"MetricAlarms": [{"StateValue": State.ALARM}]},
    )
    parsed = botocore_parse(cbor_model, "DescribeAlarms", body, headers)
    assert parsed["MetricAlarms"][0]["StateValue"] == "ALARM"
