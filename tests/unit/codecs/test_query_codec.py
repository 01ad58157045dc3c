"""Query-protocol requests against botocore's own QuerySerializer."""

from __future__ import annotations

import copy
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from botocore.model import ServiceModel
from botocore.serialize import create_serializer

from moorage.api.query_codec import decode_query, parse_form
from moorage.api.validate import validate
from moorage.errors import SerializationError, ServiceError, UnknownOperation, ValidationError


def form_body(model: ServiceModel, op: str, params: dict[str, Any]) -> bytes:
    """The body botocore would send (its serializer returns the fields, the
    HTTP layer form-encodes them)."""
    serializer = create_serializer("query", include_validation=True)
    request = serializer.serialize_to_request(params, model.operation_model(op))
    assert request["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    return urllib.parse.urlencode(request["body"]).encode()


@pytest.mark.parametrize(
    "op", ["PutMetricAlarm", "PutMetricData", "GetMetricData", "DescribeAlarms"]
)
def test_decodes_what_botocore_sends(
    query_model: ServiceModel, requests: dict[str, Any], decoded: Callable[[Any], Any], op: str
) -> None:
    body = form_body(query_model, op, requests[op])
    op_model, params = decode_query(query_model, body)
    assert op_model.name == op
    assert params == decoded(requests[op])
    assert validate(op_model.input_shape, params) == params


def test_accepts_a_parsed_form(
    query_model: ServiceModel, requests: dict[str, Any], decoded: Callable[[Any], Any]
) -> None:
    body = form_body(query_model, "PutMetricAlarm", requests["PutMetricAlarm"])
    form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
    op_model, params = decode_query(query_model, form)
    assert op_model.name == "PutMetricAlarm"
    assert params == decoded(requests["PutMetricAlarm"])


def test_list_order_is_by_index_and_empty_lists_survive(query_model: ServiceModel) -> None:
    form = {
        "Action": ["DescribeAlarms"],
        "Version": ["2010-08-01"],
        "AlarmNames.member.10": ["ten"],
        "AlarmNames.member.2": ["two"],
        "AlarmNames.member.1": ["one"],
        "AlarmNames.member.x": ["ignored"],
        "AlarmTypes": [""],
        "Unrelated.Key": ["ignored"],
    }
    _, params = decode_query(query_model, form)
    assert params == {"AlarmNames": ["one", "two", "ten"], "AlarmTypes": []}


def test_serializer_empty_list_round_trip(query_model: ServiceModel) -> None:
    body = form_body(
        query_model,
        "PutMetricAlarm",
        {
            "AlarmName": "a",
            "EvaluationPeriods": 1,
            "ComparisonOperator": "LessThanThreshold",
            "AlarmActions": [],
        },
    )
    _, params = decode_query(query_model, body)
    assert params["AlarmActions"] == []


def test_conversions_and_pass_through(query_model: ServiceModel) -> None:
    body = (
        b"Action=PutMetricAlarm&Version=2010-08-01&AlarmName=a"
        b"&EvaluationPeriods=three&Period=60&Threshold=1e3&ActionsEnabled=TRUE"
        b"&DatapointsToAlarm=1_0&ComparisonOperator=GreaterThanThreshold"
        b"&Dimensions.member.1=flat"
    )
    op_model, params = decode_query(query_model, body)
    assert params == {
        "AlarmName": "a",
        "EvaluationPeriods": "three",
        "Period": 60,
        "Threshold": 1000.0,
        "ActionsEnabled": True,
        "DatapointsToAlarm": "1_0",
        "ComparisonOperator": "GreaterThanThreshold",
        "Dimensions": ["flat"],
    }
    with pytest.raises(ValidationError) as err:
        validate(op_model.input_shape, params)
    message = err.value.message
    assert "Value 'three' at 'evaluationPeriods' failed to satisfy constraint" in message
    assert (
        "at 'dimensions.1.member' failed to satisfy constraint: Member must be a structure"
        in message
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", 1_704_067_200.0),
        ("2024-01-01T00:00:00.250Z", 1_704_067_200.25),
        ("2024-01-01T01:00:00+01:00", 1_704_067_200.0),
        ("2024-01-01T00:00:00", 1_704_067_200.0),
        ("1704067200", 1_704_067_200.0),
        ("1704067200.5", 1_704_067_200.5),
        ("yesterday", "yesterday"),
    ],
)
def test_timestamp_forms(query_model: ServiceModel, text: str, expected: Any) -> None:
    form = {
        "Action": "GetMetricStatistics",
        "Version": "2010-08-01",
        "StartTime": text,
    }
    _, params = decode_query(query_model, {key: [value] for key, value in form.items()})
    assert params["StartTime"] == expected


def test_special_floats(query_model: ServiceModel) -> None:
    body = (
        b"Action=PutMetricData&Version=2010-08-01&Namespace=n&MetricData.member.1.Value=-Infinity"
    )
    _, params = decode_query(query_model, body)
    assert params["MetricData"][0]["Value"] == float("-inf")


def test_action_and_version_checks(query_model: ServiceModel) -> None:
    with pytest.raises(UnknownOperation) as missing:
        decode_query(query_model, b"Version=2010-08-01")
    assert missing.value.code == "MissingAction"
    with pytest.raises(UnknownOperation) as unknown:
        decode_query(query_model, b"Action=LaunchRocket&Version=2010-08-01")
    assert unknown.value.code == "InvalidAction"
    with pytest.raises(ServiceError) as version:
        decode_query(query_model, b"Action=DescribeAlarms&Version=2011-01-01")
    assert version.value.code == "InvalidParameterValue"
    with pytest.raises(ServiceError) as no_version:
        decode_query(query_model, b"Action=DescribeAlarms")
    assert no_version.value.code == "MissingParameter"
    assert decode_query(query_model, b"Action=DescribeAlarms&Version=2010-08-01&")[1] == {}


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00garbage",
        b'{"Action": "DescribeAlarms"}',
        b"Action=DescribeAlarms&Version",
        b"Action=DescribeAlarms&AlarmNames.member.1=%ff%fe",
        b"\x00\x01\x02",
        b"&".join(b"a%d=1" % i for i in range(20_000)),
    ],
)
def test_garbage_forms_are_serialization_errors(query_model: ServiceModel, body: bytes) -> None:
    with pytest.raises(SerializationError):
        decode_query(query_model, body)


def test_parse_form() -> None:
    assert parse_form(b"") == {}
    assert parse_form(b"a=1&a=2&b=&c=x+y%2Bz") == {"a": "2", "b": "", "c": "x y+z"}


SYNTHETIC_PARAMS: dict[str, Any] = {
    "Attributes": {"a": 1, "b": -2},
    "Flat": {"x": "1", "y": "2"},
    "Names": ["n1", "n2"],
    "Renamed": "r",
    "Items": ["i1", "i2", "i3"],
    "Payload": b"\x00\x01binary\xff",
    "When": 1_704_067_200.5,
}


def test_map_flattened_and_location_name_traits(synthetic_model: ServiceModel) -> None:
    model = synthetic_model
    body = form_body(model, "Put", copy.deepcopy(SYNTHETIC_PARAMS))
    fields = parse_form(body)
    assert "Attributes.entry.1.Name" in fields
    assert "Flat.1.key" in fields
    assert "Name.2" in fields
    assert "NewName" in fields
    assert "Items.Item.3" in fields
    op_model, params = decode_query(model, body)
    assert op_model.name == "Put"
    assert params == SYNTHETIC_PARAMS
