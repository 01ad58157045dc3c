"""Malformed requests get AWS-style 4xx errors, never a 500 or a trace."""

from __future__ import annotations

import pytest

from support.raw import RawReply, request, sagemaker_call
from support.server import MoorageServer


def assert_aws_error(reply: RawReply, status: int, code: str) -> str:
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["__type"] == code
    assert "x-amzn-requestid" in reply.headers
    assert "Traceback" not in body["message"]
    message: str = body["message"]
    return message


def test_bad_json(server: MoorageServer) -> None:
    reply = sagemaker_call(server.url, "ListModels", b"{not json")
    assert_aws_error(reply, 400, "SerializationException")


@pytest.mark.parametrize("payload", [b"[]", b'"text"', b"42", b"null\x00"])
def test_body_not_an_object(server: MoorageServer, payload: bytes) -> None:
    reply = sagemaker_call(server.url, "ListModels", payload)
    assert reply.status == 400
    assert reply.json()["__type"] in ("SerializationException", "ValidationException")


def test_wrong_types_name_the_member(server: MoorageServer) -> None:
    reply = sagemaker_call(
        server.url,
        "CreateModel",
        {"ModelName": 5, "PrimaryContainer": {"Image": ["x"], "Environment": "A=1"}},
    )
    message = assert_aws_error(reply, 400, "ValidationException")
    assert message.startswith("3 validation errors detected: ")
    assert "'modelName'" in message
    assert "'primaryContainer.image'" in message
    assert "'primaryContainer.environment'" in message


def test_unknown_member(server: MoorageServer) -> None:
    reply = sagemaker_call(server.url, "ListModels", {"Bogus": 1})
    message = assert_aws_error(reply, 400, "ValidationException")
    assert "Bogus" in message


def test_oversize_body(server: MoorageServer) -> None:
    body = b'{"ModelName": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    try:
        reply = sagemaker_call(server.url, "CreateModel", body)
    except (ConnectionError, OSError):
        # The server may close the connection while the client still writes;
        # what matters is that it does not fail and keeps serving.
        pass
    else:
        assert_aws_error(reply, 413, "RequestEntityTooLargeException")
    assert sagemaker_call(server.url, "ListModels", {}).status == 200


def test_unknown_target(server: MoorageServer) -> None:
    reply = request(
        server.url,
        body=b"{}",
        headers={
            "X-Amz-Target": "SageMaker.Frobnicate",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert_aws_error(reply, 400, "UnknownOperationException")
    reply = request(
        server.url,
        body=b"{}",
        headers={"X-Amz-Target": "Nope.ListModels", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert_aws_error(reply, 400, "UnknownOperationException")


def test_missing_target_header(server: MoorageServer) -> None:
    reply = request(server.url, body=b"{}", headers={"Content-Type": "application/x-amz-json-1.1"})
    message = assert_aws_error(reply, 400, "UnknownOperationException")
    assert "X-Amz-Target" in message


def test_operation_not_implemented_names_it(server: MoorageServer) -> None:
    reply = sagemaker_call(server.url, "ListTrainingJobs", {})
    message = assert_aws_error(reply, 501, "NotImplemented")
    assert "ListTrainingJobs" in message


def test_unknown_path(server: MoorageServer) -> None:
    reply = request(server.url, method="GET", path="/nowhere")
    assert_aws_error(reply, 404, "UnknownOperationException")


def test_healthz(server: MoorageServer) -> None:
    reply = request(server.url, method="GET", path="/healthz")
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}


def test_empty_body_is_no_params(server: MoorageServer) -> None:
    assert sagemaker_call(server.url, "ListModels", b"").status == 200


def test_duplicate_targets_and_foreign_content_types_are_refused(server: MoorageServer) -> None:
    doubled = request(
        server.url,
        body=b"{}",
        headers={
            "X-Amz-Target": "SageMaker.ListModels, SageMaker.DeleteModel",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert doubled.status == 400
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        reply = request(
            server.url,
            body=b"{}",
            headers={"X-Amz-Target": "SageMaker.ListModels", "Content-Type": content_type},
        )
        assert reply.status == 400, content_type
        assert reply.json()["__type"] == "SerializationException"
        assert content_type in reply.json()["message"]
