"""Error identity of a query-compatible service, as botocore's parsers read it."""

from __future__ import annotations

import json

import pytest
from botocore.parsers import create_parser

from moorage.api.query_compat import QUERY_ERROR_HEADER, resolve_error, shape_namespace
from moorage.api.service_models import CLOUDWATCH, service_model


def test_namespace() -> None:
    assert shape_namespace(service_model(CLOUDWATCH)) == "com.amazonaws.cloudwatch"


@pytest.mark.parametrize(
    ("raised", "status", "code", "shape", "wire_status", "fault"),
    [
        ("ResourceNotFound", 400, "ResourceNotFound", "ResourceNotFound", 404, "Sender"),
        (
            "ResourceNotFoundException",
            400,
            "ResourceNotFoundException",
            "ResourceNotFoundException",
            404,
            "Sender",
        ),
        ("ValidationException", 400, "ValidationError", "ValidationException", 400, "Sender"),
        (
            "InternalServiceError",
            500,
            "InternalServiceError",
            "InternalServiceFault",
            500,
            "Receiver",
        ),
        ("ConflictException", 400, "ConflictException", "ConflictException", 409, "Sender"),
        ("ThrottlingException", 400, "ThrottlingException", "ThrottlingException", 400, "Sender"),
        ("InternalFailure", 500, "InternalFailure", "InternalFailure", 500, "Receiver"),
    ],
)
def test_resolution(
    raised: str, status: int, code: str, shape: str, wire_status: int, fault: str
) -> None:
    wire = resolve_error(service_model(CLOUDWATCH), raised, status)
    assert (wire.code, wire.shape_id, wire.status, wire.fault) == (
        code,
        f"com.amazonaws.cloudwatch#{shape}",
        wire_status,
        fault,
    )
    assert wire.query_error_header == f"{code};{fault}"


def test_json_protocol_reads_the_same_identity() -> None:
    # boto3's CloudWatch client resolves to JSON 1.0 (botocore prefers it to
    # CBOR); an error written with this identity maps to the modeled class.
    wire = resolve_error(service_model(CLOUDWATCH), "InvalidParameterValue", 400)
    response = {
        "status_code": wire.status,
        "headers": {QUERY_ERROR_HEADER: wire.query_error_header},
        "body": json.dumps({"__type": wire.shape_id, wire.message_member: "bad"}).encode(),
    }
    parsed = create_parser("json").parse(response, None)
    assert parsed["Error"]["Code"] == "InvalidParameterValue"
    assert parsed["Error"]["Message"] == "bad"
    assert parsed["Error"]["QueryErrorCode"] == "InvalidParameterValueException"
