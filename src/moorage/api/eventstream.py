"""AWS event-stream framing for ``InvokeEndpointWithResponseStream``.

SageMaker Runtime answers a streaming invocation with
``Content-Type: application/vnd.amazon.eventstream`` and a body of binary
messages, each::

    total length (u32) | headers length (u32) | prelude CRC32 (u32)
    headers | payload | message CRC32 (u32)

where every header is ``name length (u8) | name | type (u8) | value`` and the
message CRC covers everything before it, prelude included. This module only
frames messages; the runtime's streaming path (:mod:`moorage.runtime.stream`
and the runtime protocol) decides which to send and writes them to the wire.

boto3 reads the stream with botocore's ``EventStream`` by the
``ResponseStream`` shape: a ``PayloadPart`` event yields
``{"PayloadPart": {"Bytes": b"..."}}`` (``Bytes`` is the event payload);
``ModelStreamError`` and ``InternalStreamFailure`` are *exception* messages
that make the iterator raise ``botocore.exceptions.EventStreamError`` with
that code and the payload's ``Message``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_PRELUDE = struct.Struct("!III")
_PRELUDE_LENGTH = 12
_CRC_LENGTH = 4
# botocore's EventStreamBuffer refuses anything larger than these.
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
_MAX_NAME_LENGTH = 255
_MAX_VALUE_LENGTH = 32767


class HeaderType(enum.IntEnum):
    """Header value types of the event-stream encoding."""

    TRUE = 0
    FALSE = 1
    BYTE = 2
    SHORT = 3
    INTEGER = 4
    LONG = 5
    BYTE_ARRAY = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


@dataclass(frozen=True)
class TypedValue:
    """A header value with its wire type spelled out (e.g. a ``SHORT``)."""

    type: HeaderType
    value: bool | int | bytes | str | dt.datetime | uuid.UUID


HeaderValue = str | bytes | bool | int | dt.datetime | uuid.UUID | TypedValue

_INT_FORMATS = {
    HeaderType.BYTE: struct.Struct("!b"),
    HeaderType.SHORT: struct.Struct("!h"),
    HeaderType.INTEGER: struct.Struct("!i"),
    HeaderType.LONG: struct.Struct("!q"),
    HeaderType.TIMESTAMP: struct.Struct("!q"),
}


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes) -> bytes:
    """One event-stream message.

    Plain values map to types by their Python type: ``str`` → string,
    ``bytes`` → byte array, ``bool`` → true/false, ``int`` → integer (long
    past 32 bits), ``datetime`` → timestamp (epoch milliseconds), ``UUID`` →
    uuid; :class:`TypedValue` picks the type. Values out of the format's
    limits raise ``ValueError``: they are programming errors, not input.
    """
    encoded_headers = b"".join(_header(name, value) for name, value in headers.items())
    if len(encoded_headers) > MAX_HEADERS_LENGTH:
        raise ValueError(f"event headers are {len(encoded_headers)} bytes, over the limit")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ValueError(f"event payload is {len(payload)} bytes, over the limit")
    total = _PRELUDE_LENGTH + len(encoded_headers) + len(payload) + _CRC_LENGTH
    prelude = struct.pack("!II", total, len(encoded_headers))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + encoded_headers + bytes(payload)
    return message + struct.pack("!I", zlib.crc32(message))


def _header(name: str, value: HeaderValue) -> bytes:
    raw_name = name.encode("utf-8")
    if not 0 < len(raw_name) <= _MAX_NAME_LENGTH:
        raise ValueError(f"event header name {name!r} must be 1 to 255 bytes")
    kind, body = _header_value(value)
    return bytes([len(raw_name)]) + raw_name + bytes([kind]) + body


def _header_value(value: HeaderValue) -> tuple[HeaderType, bytes]:
    typed = value if isinstance(value, TypedValue) else TypedValue(_infer(value), value)
    kind, item = typed.type, typed.value
    if kind in (HeaderType.TRUE, HeaderType.FALSE):
        return (HeaderType.TRUE if item else HeaderType.FALSE), b""
    if kind == HeaderType.TIMESTAMP:
        if isinstance(item, dt.datetime):
            moment = item if item.tzinfo is not None else item.replace(tzinfo=dt.UTC)
            item = round(moment.timestamp() * 1000)
        return kind, _pack_int(kind, item)
    if kind in _INT_FORMATS:
        return kind, _pack_int(kind, item)
    if kind == HeaderType.UUID:
        if not isinstance(item, uuid.UUID):
            raise ValueError(f"uuid header value {item!r} is not a UUID")
        return kind, item.bytes
    if kind == HeaderType.STRING:
        if not isinstance(item, str):
            raise ValueError(f"string header value {item!r} is not a str")
        return kind, _sized(item.encode("utf-8"))
    if not isinstance(item, (bytes, bytearray)):
        raise ValueError(f"byte-array header value {item!r} is not bytes")
    return kind, _sized(bytes(item))


def _infer(value: object) -> HeaderType:
    # bool before int: True is an int to Python but its own type here.
    if isinstance(value, bool):
        return HeaderType.TRUE if value else HeaderType.FALSE
    if isinstance(value, int):
        return HeaderType.INTEGER if -(2**31) <= value < 2**31 else HeaderType.LONG
    if isinstance(value, str):
        return HeaderType.STRING
    if isinstance(value, (bytes, bytearray)):
        return HeaderType.BYTE_ARRAY
    if isinstance(value, dt.datetime):
        return HeaderType.TIMESTAMP
    if isinstance(value, uuid.UUID):
        return HeaderType.UUID
    raise ValueError(f"no event header type for {type(value).__name__}")


def _pack_int(kind: HeaderType, item: object) -> bytes:
    if isinstance(item, bool) or not isinstance(item, int):
        raise ValueError(f"{kind.name.lower()} header value {item!r} is not an int")
    try:
        return _INT_FORMATS[kind].pack(item)
    except struct.error:
        raise ValueError(f"{item} does not fit a {kind.name.lower()} header") from None


def _sized(raw: bytes) -> bytes:
    if len(raw) > _MAX_VALUE_LENGTH:
        raise ValueError(f"event header value is {len(raw)} bytes, over 32767")
    return struct.pack("!H", len(raw)) + raw


def payload_part_event(data: bytes) -> bytes:
    """``PayloadPart`` event(s) carrying ``data`` as the part's ``Bytes``.

    Data past the format's payload limit is split into consecutive parts,
    which the caller concatenates exactly as it would the original.
    """
    return b"".join(_payload_parts(data))


def _payload_parts(data: bytes) -> Iterator[bytes]:
    headers = {
        ":message-type": "event",
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
    }
    view = memoryview(data)
    for start in range(0, max(len(view), 1), MAX_PAYLOAD_LENGTH):
        yield encode_message(headers, bytes(view[start : start + MAX_PAYLOAD_LENGTH]))


def model_stream_error_event(message: str, error_code: str) -> bytes:
    """A ``ModelStreamError`` exception (``ErrorCode`` e.g. ``ModelInvocationTimeExceeded``)."""
    return _exception_event("ModelStreamError", {"Message": message, "ErrorCode": error_code})


def internal_stream_failure_event(message: str) -> bytes:
    """An ``InternalStreamFailure`` exception: the stream broke on moorage's side."""
    return _exception_event("InternalStreamFailure", {"Message": message})


def _exception_event(exception_type: str, body: Mapping[str, str]) -> bytes:
    headers = {
        ":message-type": "exception",
        ":exception-type": exception_type,
        ":content-type": "application/json",
    }
    return encode_message(headers, json.dumps(body).encode("utf-8"))
