"""The writer's fast line encoder writes exactly what CaptureRecord.to_line() writes."""

from __future__ import annotations

import itertools
import json
import os
import uuid

import pytest

from moorage.capture import CaptureConfig, CaptureRecord, Mode
from moorage.capture.encode import event_ids, record_line
from moorage.capture.format import payload

CONFIGS = [
    CaptureConfig.of(
        "s3://bucket/capture",
        csv_content_types=["text/csv"],
        json_content_types=["application/json", "application/jsonlines"],
    ),
    CaptureConfig.of("file:///tmp/capture"),  # no lists: everything base64
]
BODIES = [
    b"",
    b"5.1,3.5,1.4,0.2",
    b'{"text": "h\\u00e9llo", "q": "\\"quoted\\"", "tab": "\\t"}',
    'caf\u00e9 \u2603 \U0001f600 "quotes" \\ back\nslash\r\x00\x1f\x7f'.encode(),
    b"\xff\xfe\x00 not utf-8",
    bytes(range(256)),
]
CONTENT_TYPES = [
    "text/csv",
    "TEXT/CSV; charset=utf-8",
    "application/json",
    "application/jsonlines",
    "image/png",
    'application/x-odd; name="a\\"b"',
    None,
]
INFERENCE_IDS = [None, "order-1142", 'id "with" \\ quotes and \u00e9']


def _slow(
    config: CaptureConfig,
    event_id: str,
    request: tuple[bytes, str | None] | None,
    response: tuple[bytes, str | None] | None,
    inference_id: str | None,
) -> str:
    return CaptureRecord(
        event_id=event_id,
        inference_time="2026-11-23T10:11:12Z",
        endpoint_input=None if request is None else payload(config, Mode.INPUT, *request),
        endpoint_output=None if response is None else payload(config, Mode.OUTPUT, *response),
        inference_id=inference_id,
    ).to_line()


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_every_body_and_content_type_encodes_as_the_record_does(
    config: CaptureConfig, content_type: str | None
) -> None:
    for body, inference_id in itertools.product(BODIES, INFERENCE_IDS):
        sides = (body, content_type)
        other = (b'{"ok": 1}', "application/json")
        for request, response in ((sides, other), (other, sides)):
            fast = record_line(
                config, "e-1", "2026-11-23T10:11:12Z", inference_id, *request, *response
            )
            assert fast == _slow(config, "e-1", request, response, inference_id)


@pytest.mark.parametrize(("has_input", "has_output"), [(True, False), (False, True)])
def test_one_side_only(has_input: bool, has_output: bool) -> None:
    side = (b"1,2", "text/csv")
    request = side if has_input else None
    response = side if has_output else None
    fast = record_line(
        CONFIGS[0],
        "e-2",
        "2026-11-23T10:11:12Z",
        None,
        *(request or (None, None)),
        *(response or (None, None)),
    )
    assert fast == _slow(CONFIGS[0], "e-2", request, response, None)
    parsed = CaptureRecord.from_json(json.loads(fast))
    assert (parsed.endpoint_input is None, parsed.endpoint_output is None) == (
        not has_input,
        not has_output,
    )


def test_event_ids_are_version_4_uuids_of_the_random_bytes() -> None:
    raw = os.urandom(16 * 50)
    ids = event_ids(50, raw)
    expected = [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, len(raw), 16)]
    assert ids == expected
    for value in event_ids(200):
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == value
    assert len(set(event_ids(1000))) == 1000
    assert event_ids(0) == []
    with pytest.raises(ValueError, match="need 32 random bytes"):
        event_ids(2, b"\x00" * 31)
