"""The writer's fast path: a captured pair straight to its JSON line.

:meth:`CaptureRecord.to_line() <moorage.capture.format.CaptureRecord.to_line>`
builds dataclasses and dictionaries and hands them to ``json.dumps``; at
thousands of requests per second that is most of what capture costs the
server (it runs in the server process, sharing the interpreter with the
request path). :func:`record_line` writes the same text — byte for byte,
key order included — by joining fixed fragments around the few values that
vary, escaped with the same C string encoder ``json.dumps`` uses.
:func:`event_ids` makes a batch's random (version 4) UUIDs from one
``os.urandom`` call. The unit tests hold both to the slow path's output.
"""

from __future__ import annotations

import base64
import os
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses

from moorage.capture.config import CaptureConfig, media_type
from moorage.capture.format import UNTYPED_CONTENT_TYPE

_INPUT = ',"mode":"INPUT","data":'
_OUTPUT = ',"mode":"OUTPUT","data":'


def record_line(
    config: CaptureConfig,
    event_id: str,
    inference_time: str,
    inference_id: str | None,
    request: bytes | None,
    request_content_type: str | None,
    response: bytes | None,
    response_content_type: str | None,
) -> str:
    """One record as ``CaptureRecord.to_line()`` would write it (no newline).

    ``event_id`` and ``inference_time`` are written as given: a UUID and a
    :func:`~moorage.capture.format.format_time` string need no escaping.
    """
    if request is None:
        sides = ""
    else:
        sides = '"endpointInput":' + _side(config, _INPUT, request, request_content_type)
    if response is not None:
        output = _side(config, _OUTPUT, response, response_content_type)
        sides = f'{sides},"endpointOutput":{output}' if sides else '"endpointOutput":' + output
    if inference_id is None:
        return (
            f'{{"captureData":{{{sides}}},"eventMetadata":{{"eventId":"{event_id}",'
            f'"inferenceTime":"{inference_time}"}},"eventVersion":"0"}}'
        )
    return (
        f'{{"captureData":{{{sides}}},"eventMetadata":{{"eventId":"{event_id}",'
        f'"inferenceId":{encode_basestring(inference_id)},'
        f'"inferenceTime":"{inference_time}"}},"eventVersion":"0"}}'
    )


def _side(config: CaptureConfig, mode: str, body: bytes, content_type: str | None) -> str:
    key = (config.csv_content_types, config.json_content_types, mode, content_type)
    parts = _PARTS.get(key)
    if parts is None:
        parts = _parts(config, mode, content_type)
        if len(_PARTS) < _PARTS_LIMIT:
            _PARTS[key] = parts
    head, tail, base64_head = parts
    if tail:
        try:
            return head + encode_basestring(body.decode("utf-8")) + tail
        except UnicodeDecodeError:
            pass  # a "text" body that is not UTF-8 keeps its bytes as base64
    return base64_head + base64.b64encode(body).decode("ascii") + _BASE64_TAIL


# (csv types, json types, mode, content type) → the fixed text around a side's data:
# the head and tail when written as text ("" when it is not), and the base64 head.
_PARTS: dict[tuple[tuple[str, ...], tuple[str, ...], str, str | None], tuple[str, str, str]] = {}
_PARTS_LIMIT = 4096
_BASE64_TAIL = '","encoding":"BASE64"}'


def _parts(config: CaptureConfig, mode: str, content_type: str | None) -> tuple[str, str, str]:
    observed = content_type or UNTYPED_CONTENT_TYPE
    head = '{"observedContentType":' + encode_basestring(observed) + mode
    kind = media_type(observed)
    tail = ""
    if kind in config.csv_content_types:
        tail = ',"encoding":"CSV"}'
    elif kind in config.json_content_types:
        tail = ',"encoding":"JSON"}'
    return head, tail, head + '"'


def event_ids(count: int, random_bytes: bytes | None = None) -> list[str]:
    """``count`` random UUIDs (version 4, RFC 4122 variant) as strings.

    ``random_bytes`` (16 per UUID) defaults to ``os.urandom``; the tests
    pass their own to compare with :class:`uuid.UUID`.
    """
    raw = bytearray(os.urandom(16 * count) if random_bytes is None else random_bytes)
    if len(raw) != 16 * count:
        raise ValueError(f"{count} UUIDs need {16 * count} random bytes, not {len(raw)}")
    for at in range(0, 16 * count, 16):
        raw[at + 6] = (raw[at + 6] & 0x0F) | 0x40
        raw[at + 8] = (raw[at + 8] & 0x3F) | 0x80
    h = raw.hex()
    return [
        f"{h[o : o + 8]}-{h[o + 8 : o + 12]}-{h[o + 12 : o + 16]}-"
        f"{h[o + 16 : o + 20]}-{h[o + 20 : o + 32]}"
        for o in range(0, 32 * count, 32)
    ]
