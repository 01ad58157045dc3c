"""The capture record: SageMaker's JSON Lines format, written and read.

Each line of a capture file is one request/response pair, in the form
SageMaker Model Monitor reads::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv",
         "mode": "INPUT", "data": "1,2,3", "encoding": "CSV"},
       "endpointOutput": {"observedContentType": "text/csv; charset=utf-8",
         "mode": "OUTPUT", "data": "0.25", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<caller's id>",
       "inferenceTime": "2026-11-23T10:11:12Z"},
     "eventVersion": "0"}

(one line, no spaces, in this key order). A side the config does not capture
is left out, and ``inferenceId`` is present only when the caller sent one. A
payload whose content type is one of the config's CSV or JSON types is
written as text (``encoding`` ``CSV`` / ``JSON``); any other payload, and a
"text" payload that is not valid UTF-8, is written base64-encoded
(``BASE64``). The writer (:mod:`moorage.capture.writer`) builds records with
:func:`payload`; the reader (:mod:`moorage.capture.reader`) parses them with
:meth:`CaptureRecord.from_json`.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from moorage.capture.config import CaptureConfig, media_type

EVENT_VERSION = "0"
# HTTP lets a recipient assume this type for a body sent without one (RFC 9110 §8.3).
UNTYPED_CONTENT_TYPE = "application/octet-stream"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Encoding(StrEnum):
    CSV = "CSV"
    JSON = "JSON"
    BASE64 = "BASE64"


class Mode(StrEnum):
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


@dataclass(frozen=True)
class CapturedPayload:
    """One side of a pair (``endpointInput`` or ``endpointOutput``)."""

    observed_content_type: str
    mode: Mode
    data: str
    encoding: Encoding

    @property
    def body(self) -> bytes:
        """The payload's bytes, as the endpoint received or sent them."""
        if self.encoding is Encoding.BASE64:
            return base64.b64decode(self.data, validate=True)
        return self.data.encode("utf-8")

    def to_json(self) -> dict[str, str]:
        return {
            "observedContentType": self.observed_content_type,
            "mode": self.mode,
            "data": self.data,
            "encoding": self.encoding,
        }

    @classmethod
    def from_json(cls, obj: Any) -> CapturedPayload:
        if not isinstance(obj, Mapping):
            raise ValueError("a captured payload is not a JSON object")
        payload = cls(
            observed_content_type=_str(obj, "observedContentType"),
            mode=Mode(_str(obj, "mode")),
            data=_str(obj, "data"),
            encoding=Encoding(_str(obj, "encoding")),
        )
        if payload.encoding is Encoding.BASE64:
            try:
                payload.body  # noqa: B018 - checks the data decodes
            except binascii.Error:
                raise ValueError("BASE64 data is not valid base64") from None
        return payload


@dataclass(frozen=True)
class CaptureRecord:
    """One captured request/response pair.

    ``source`` says where a record was read from (``<uri>:<line>``); it is
    not part of the format.
    """

    event_id: str
    inference_time: str
    endpoint_input: CapturedPayload | None = None
    endpoint_output: CapturedPayload | None = None
    inference_id: str | None = None
    event_version: str = EVENT_VERSION
    source: str = ""

    @property
    def time(self) -> float:
        """``inference_time`` as epoch seconds."""
        return float(calendar.timegm(time.strptime(self.inference_time, _TIME_FORMAT)))

    def to_json(self) -> dict[str, Any]:
        capture: dict[str, Any] = {}
        if self.endpoint_input is not None:
            capture["endpointInput"] = self.endpoint_input.to_json()
        if self.endpoint_output is not None:
            capture["endpointOutput"] = self.endpoint_output.to_json()
        metadata = {"eventId": self.event_id}
        if self.inference_id is not None:
            metadata["inferenceId"] = self.inference_id
        metadata["inferenceTime"] = self.inference_time
        return {
            "captureData": capture,
            "eventMetadata": metadata,
            "eventVersion": self.event_version,
        }

    def to_line(self) -> str:
        """The record as one line of JSON (without the newline)."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, obj: Any, *, source: str = "") -> CaptureRecord:
        """Parse one decoded line; raise ``ValueError`` if it is not a capture record."""
        if not isinstance(obj, Mapping):
            raise ValueError("the line is not a JSON object")
        capture = obj.get("captureData")
        metadata = obj.get("eventMetadata")
        if not isinstance(capture, Mapping) or not isinstance(metadata, Mapping):
            raise ValueError("the record has no captureData or eventMetadata object")
        inference_id = metadata.get("inferenceId")
        if inference_id is not None and not isinstance(inference_id, str):
            raise ValueError("eventMetadata.inferenceId is not a string")
        record = cls(
            event_id=_str(metadata, "eventId"),
            inference_time=_str(metadata, "inferenceTime"),
            endpoint_input=_side(capture, "endpointInput"),
            endpoint_output=_side(capture, "endpointOutput"),
            inference_id=inference_id,
            event_version=str(obj.get("eventVersion", EVENT_VERSION)),
            source=source,
        )
        record.time  # noqa: B018 - checks the time parses
        return record


def payload(
    config: CaptureConfig, mode: Mode, body: bytes, content_type: str | None
) -> CapturedPayload:
    """``body`` as the config says to capture it (text for its CSV/JSON types)."""
    observed = content_type or UNTYPED_CONTENT_TYPE
    kind = media_type(observed)
    encoding = Encoding.BASE64
    if kind in config.csv_content_types:
        encoding = Encoding.CSV
    elif kind in config.json_content_types:
        encoding = Encoding.JSON
    if encoding is not Encoding.BASE64:
        try:
            return CapturedPayload(observed, mode, body.decode("utf-8"), encoding)
        except UnicodeDecodeError:
            pass
    return CapturedPayload(observed, mode, base64.b64encode(body).decode("ascii"), Encoding.BASE64)


def format_time(epoch_s: float) -> str:
    """``inferenceTime``: UTC, whole seconds (``2026-11-23T10:11:12Z``)."""
    return _format_second(int(epoch_s))


@functools.lru_cache(maxsize=64)
def _format_second(second: int) -> str:
    # Cached: a batch's records mostly share a handful of seconds.
    return time.strftime(_TIME_FORMAT, time.gmtime(second))


def _side(capture: Mapping[str, Any], key: str) -> CapturedPayload | None:
    value = capture.get(key)
    if value is None:
        return None
    try:
        return CapturedPayload.from_json(value)
    except ValueError as exc:
        raise ValueError(f"captureData.{key}: {exc}") from None


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} is missing or not a string")
    return value
