"""The capture record format: encodings, field order, parsing back."""

from __future__ import annotations

import base64
import calendar
import json
from typing import Any

import pytest

from moorage.capture import CaptureConfig, CapturedPayload, CaptureRecord, Encoding, Mode
from moorage.capture.format import format_time, payload

CONFIG = CaptureConfig.of(
    "s3://bucket/capture",
    csv_content_types=["text/csv"],
    json_content_types=["application/json"],
)


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("text/csv", Encoding.CSV),
        ("text/csv; charset=utf-8", Encoding.CSV),
        ("TEXT/CSV", Encoding.CSV),
        ("application/json", Encoding.JSON),
        ("application/jsonlines", Encoding.BASE64),
        ("image/png", Encoding.BASE64),
    ],
)
def test_encoding_follows_the_configured_content_types(
    content_type: str, encoding: Encoding
) -> None:
    body = b'{"x": [1, 2]}'
    captured = payload(CONFIG, Mode.INPUT, body, content_type)
    assert captured.encoding is encoding
    assert captured.observed_content_type == content_type
    assert captured.body == body
    if encoding is Encoding.BASE64:
        assert captured.data == base64.b64encode(body).decode()
    else:
        assert captured.data == body.decode()


def test_without_content_type_lists_everything_is_base64() -> None:
    config = CaptureConfig.of("s3://bucket")
    captured = payload(config, Mode.OUTPUT, b"1,2", "text/csv")
    assert (captured.encoding, captured.data) == (Encoding.BASE64, "MSwy")


def test_text_that_is_not_utf8_falls_back_to_base64() -> None:
    captured = payload(CONFIG, Mode.INPUT, b"\xff\xfe,1", "text/csv")
    assert captured.encoding is Encoding.BASE64
    assert captured.body == b"\xff\xfe,1"


def test_a_missing_content_type_is_observed_as_octet_stream() -> None:
    captured = payload(CONFIG, Mode.INPUT, b"\x00", None)
    assert captured.observed_content_type == "application/octet-stream"
    assert captured.encoding is Encoding.BASE64


def record(**overrides: Any) -> CaptureRecord:
    fields: dict[str, Any] = {
        "event_id": "a9f3c0de-0000-4000-8000-000000000001",
        "inference_time": "2026-11-23T10:11:12Z",
        "endpoint_input": CapturedPayload("text/csv", Mode.INPUT, "1,2,3", Encoding.CSV),
        "endpoint_output": CapturedPayload(
            "application/json", Mode.OUTPUT, '{"score":0.5}', Encoding.JSON
        ),
    }
    fields.update(overrides)
    return CaptureRecord(**fields)


def test_line_matches_sagemakers_layout() -> None:
    line = record(inference_id="req-7").to_line()
    assert line == (
        '{"captureData":{'
        '"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
        '"data":"1,2,3","encoding":"CSV"},'
        '"endpointOutput":{"observedContentType":"application/json","mode":"OUTPUT",'
        '"data":"{\\"score\\":0.5}","encoding":"JSON"}},'
        '"eventMetadata":{"eventId":"a9f3c0de-0000-4000-8000-000000000001",'
        '"inferenceId":"req-7","inferenceTime":"2026-11-23T10:11:12Z"},'
        '"eventVersion":"0"}'
    )


def test_absent_parts_are_left_out() -> None:
    obj = json.loads(record(endpoint_output=None).to_line())
    assert list(obj["captureData"]) == ["endpointInput"]
    assert list(obj["eventMetadata"]) == ["eventId", "inferenceTime"]


def test_round_trip() -> None:
    original = record(inference_id="id-1")
    parsed = CaptureRecord.from_json(json.loads(original.to_line()), source="f:1")
    assert parsed == CaptureRecord(**{**original.__dict__, "source": "f:1"})
    assert parsed.time == calendar.timegm((2026, 11, 23, 10, 11, 12, 0, 0, 0))


@pytest.mark.parametrize(
    "broken",
    [
        [],
        {"captureData": {}},
        {"captureData": {}, "eventMetadata": {"inferenceTime": "2026-11-23T10:11:12Z"}},
        {"captureData": {}, "eventMetadata": {"eventId": "e", "inferenceTime": "yesterday"}},
        {
            "captureData": {"endpointInput": {"mode": "INPUT"}},
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-23T10:11:12Z"},
        },
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "x/y",
                    "mode": "INPUT",
                    "data": "not base64!",
                    "encoding": "BASE64",
                }
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-23T10:11:12Z"},
        },
    ],
)
def test_malformed_records_are_refused(broken: Any) -> None:
    with pytest.raises(ValueError):
        CaptureRecord.from_json(broken)


def test_inference_time_is_whole_seconds_utc() -> None:
    assert (
        format_time(calendar.timegm((2026, 11, 23, 10, 11, 12, 0, 0, 0)) + 0.987)
        == "2026-11-23T10:11:12Z"
    )
