"""Event-stream messages against botocore's EventStreamBuffer and EventStream."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser

from moorage.api.eventstream import (
    CONTENT_TYPE,
    MAX_PAYLOAD_LENGTH,
    HeaderType,
    TypedValue,
    encode_message,
    internal_stream_failure_event,
    model_stream_error_event,
    payload_part_event,
)


class Raw:
    def __init__(self, body: bytes, chunk: int = 5) -> None:
        self.body = body
        self.chunk = chunk

    def stream(self, **_: Any) -> Iterator[bytes]:
        for start in range(0, len(self.body), self.chunk):
            yield self.body[start : start + self.chunk]

    def close(self) -> None:
        pass


def messages(data: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def response_stream(data: bytes) -> EventStream:
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    output = model.operation_model("InvokeEndpointWithResponseStream").output_shape
    stream_shape = output.members["Body"]
    return EventStream(
        Raw(data), stream_shape, EventStreamJSONParser(), "InvokeEndpointWithResponseStream"
    )


def test_typed_headers_round_trip() -> None:
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    data = encode_message(
        {
            "s": "text é",
            "b": b"\x00\x01",
            "t": True,
            "f": False,
            "i": -7,
            "l": 2**40,
            "byte": TypedValue(HeaderType.BYTE, -3),
            "short": TypedValue(HeaderType.SHORT, 1000),
            "ts": moment,
            "ts-ms": TypedValue(HeaderType.TIMESTAMP, 1234),
            "id": ident,
        },
        b"payload",
    )
    (message,) = messages(data)
    assert message.headers == {
        "s": "text é",
        "b": b"\x00\x01",
        "t": True,
        "f": False,
        "i": -7,
        "l": 2**40,
        "byte": -3,
        "short": 1000,
        "ts": int(moment.timestamp() * 1000),
        "ts-ms": 1234,
        "id": ident.bytes,
    }
    assert message.payload == b"payload"


def test_message_layout() -> None:
    data = encode_message({}, b"")
    assert len(data) == 16
    assert data[:8] == b"\x00\x00\x00\x10\x00\x00\x00\x00"
    (message,) = messages(data)
    assert message.headers == {} and message.payload == b""


@pytest.mark.parametrize(
    "headers",
    [
        {"": "x"},
        {"n" * 256: "x"},
        {"v": "x" * 32768},
        {"v": TypedValue(HeaderType.BYTE, 200)},
        {"v": TypedValue(HeaderType.STRING, b"bytes")},
        {"v": TypedValue(HeaderType.INTEGER, "1")},
        {"v": 2**70},
        {"v": 1.5},
    ],
)
def test_out_of_format_values_raise_value_error(headers: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        encode_message(headers, b"")


def test_payload_parts_parse_as_boto3_shows_them() -> None:
    data = (
        payload_part_event(b'{"token": "Hel')
        + payload_part_event(b'lo"}')
        + payload_part_event(b"\x00\xff")
    )
    events = list(response_stream(data))
    assert events == [
        {"PayloadPart": {"Bytes": b'{"token": "Hel'}},
        {"PayloadPart": {"Bytes": b'lo"}'}},
        {"PayloadPart": {"Bytes": b"\x00\xff"}},
    ]
    headers = messages(payload_part_event(b"x"))[0].headers
    assert headers == {
        ":message-type": "event",
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
    }


def test_model_stream_error_raises_in_the_iterator() -> None:
    data = payload_part_event(b"partial") + model_stream_error_event("copy died", "StreamBroken")
    stream = iter(response_stream(data))
    assert next(stream) == {"PayloadPart": {"Bytes": b"partial"}}
    with pytest.raises(EventStreamError) as err:
        next(stream)
    assert err.value.response["Error"] == {"Code": "ModelStreamError", "Message": "copy died"}
    (message,) = messages(model_stream_error_event("copy died", "StreamBroken"))
    assert message.headers[":message-type"] == "exception"
    assert json.loads(message.payload) == {"Message": "copy died", "ErrorCode": "StreamBroken"}


def test_internal_stream_failure_raises_in_the_iterator() -> None:
    with pytest.raises(EventStreamError) as err:
        list(response_stream(internal_stream_failure_event("oops")))
    assert err.value.response["Error"] == {"Code": "InternalStreamFailure", "Message": "oops"}


def test_large_payload_is_split_into_parts() -> None:
    data = bytes(range(256)) * (MAX_PAYLOAD_LENGTH // 256 + 10)
    events = messages(payload_part_event(data))
    assert len(events) == 2
    assert b"".join(event.payload for event in events) == data
    assert len(messages(payload_part_event(b""))) == 1


def test_through_a_real_client() -> None:
    client = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        endpoint_url="http://moorage.test",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    body = (
        payload_part_event(b"one ")
        + payload_part_event(b"two")
        + model_stream_error_event("timed out", "ModelInvocationTimeExceeded")
    )

    def answer(request: Any, **_: Any) -> AWSResponse:
        assert request.url.endswith("/endpoints/ep/invocations-response-stream")
        headers = {
            "Content-Type": CONTENT_TYPE,
            "X-Amzn-SageMaker-Content-Type": "text/plain",
            "x-Amzn-Invoked-Production-Variant": "AllTraffic",
        }
        return AWSResponse(request.url, 200, headers, Raw(body, chunk=3))

    client.meta.events.register("before-send.sagemaker-runtime", answer)
    response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
    assert response["ContentType"] == "text/plain"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    parts: list[bytes] = []
    with pytest.raises(EventStreamError) as err:
        for event in response["Body"]:
            parts.append(event["PayloadPart"]["Bytes"])
    assert parts == [b"one ", b"two"]
    assert err.value.response["Error"]["Code"] == "ModelStreamError"
    assert err.value.response["Error"]["Message"] == "timed out"
