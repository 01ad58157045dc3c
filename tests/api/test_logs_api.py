"""The CloudWatch Logs API on the server's port: protocol, validation and errors.

What needs real model-server output (groups, streams, events, tokens) is in
tests/e2e/test_logs.py; here the server answers about groups that do not
exist and requests that are wrong, through boto3 and raw signed HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.raw import RawReply, request
from support.server import MoorageServer

TARGET = "Logs_20140328"


def logs_call(server: MoorageServer, operation: str, body: Any) -> RawReply:
    return request(
        server.url,
        body=json.dumps(body).encode(),
        headers={
            "X-Amz-Target": f"{TARGET}.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
        signer_service="logs",
    )


@pytest.fixture
def logs(server: MoorageServer) -> Any:
    return server.client("logs")


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.mark.parametrize(
    "group",
    [
        "/aws/sagemaker/Endpoints/no-such-endpoint",
        "/aws/sagemaker/InferenceComponents/no-such-component",
        "/aws/sagemaker/Endpoints/../../credentials",
        "/aws/lambda/something",
    ],
)
def test_an_unknown_group_is_not_found(logs: Any, group: str) -> None:
    calls = [
        lambda: logs.describe_log_streams(logGroupName=group),
        lambda: logs.get_log_events(logGroupName=group, logStreamName="AllTraffic/i-0"),
        lambda: logs.filter_log_events(logGroupName=group),
        lambda: logs.filter_log_events(logGroupIdentifier=group),
    ]
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught) == (
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        )
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_group_arn_is_an_identifier(logs: Any) -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/nothing"
    with pytest.raises(ClientError) as caught:
        logs.describe_log_streams(logGroupIdentifier=arn)
    assert error_of(caught)[0] == "ResourceNotFoundException"


def test_name_and_identifier_exclude_each_other(logs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        logs.describe_log_streams(
            logGroupName="/aws/sagemaker/Endpoints/a",
            logGroupIdentifier="/aws/sagemaker/Endpoints/a",
        )
    assert error_of(caught) == (
        "InvalidParameterException",
        "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
    )
    with pytest.raises(ClientError) as caught:
        logs.describe_log_streams()
    assert error_of(caught)[0] == "InvalidParameterException"


def test_describe_log_groups_filters_and_refuses_conflicting_filters(logs: Any) -> None:
    answer = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/Endpoints/none-such")
    assert answer["logGroups"] == []
    assert "nextToken" not in answer
    assert logs.describe_log_groups(logGroupClass="INFREQUENT_ACCESS")["logGroups"] == []
    with pytest.raises(ClientError) as caught:
        logs.describe_log_groups(logGroupNamePrefix="/aws", logGroupNamePattern="x")
    assert error_of(caught)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as caught:
        logs.describe_log_groups(nextToken="not-a-token")
    assert error_of(caught) == (
        "InvalidParameterException",
        "The specified nextToken is invalid.",
    )


def test_shape_violations_are_invalid_parameters(server: MoorageServer) -> None:
    reply = logs_call(
        server,
        "GetLogEvents",
        {"logGroupName": "/aws/sagemaker/Endpoints/x", "logStreamName": "s", "limit": 0},
    )
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"
    assert reply.json() == {
        "__type": "InvalidParameterException",
        "message": "1 validation error detected: Value '0' at 'limit' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1",
    }
    reply = logs_call(server, "DescribeLogStreams", {"orderBy": "Random", "logGroupName": "g"})
    assert reply.status == 400 and reply.json()["__type"] == "InvalidParameterException"
    assert "orderBy" in reply.json()["message"]


def test_a_body_that_is_not_json_is_a_serialization_error(server: MoorageServer) -> None:
    reply = request(
        server.url,
        body=b"{not json",
        headers={
            "X-Amz-Target": f"{TARGET}.DescribeLogGroups",
            "Content-Type": "application/x-amz-json-1.1",
        },
        signer_service="logs",
    )
    assert reply.status == 400
    assert reply.json()["__type"] == "SerializationException"


def test_unsupported_filter_patterns_are_invalid_parameters(logs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        logs.filter_log_events(
            logGroupName="/aws/sagemaker/Endpoints/x", filterPattern='{ $.level = "ERROR" }'
        )
    code, message = error_of(caught)
    assert code == "InvalidParameterException"
    assert "JSON filter patterns" in message


def test_other_logs_operations_are_not_implemented(logs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        logs.put_log_events(
            logGroupName="/aws/sagemaker/Endpoints/x",
            logStreamName="s",
            logEvents=[{"timestamp": 1, "message": "m"}],
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    code, message = error_of(caught)
    assert code == "NotImplemented"
    assert "PutLogEvents" in message


def test_requests_must_be_signed(server: MoorageServer) -> None:
    reply = request(
        server.url,
        body=b"{}",
        headers={
            "X-Amz-Target": f"{TARGET}.DescribeLogGroups",
            "Content-Type": "application/x-amz-json-1.1",
        },
        sign=False,
    )
    assert reply.status in (400, 403)
