"""The AWS query protocol's responses: XML by the operation's output shape.

A success answers ``200`` with ``Content-Type: text/xml``::

    <DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
      <DescribeAlarmsResult>...</DescribeAlarmsResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </DescribeAlarmsResponse>

written the way botocore's ``QueryParser`` reads it: the result element is
the output shape's ``resultWrapper``; members are elements named by
``locationName`` or member name; lists wrap ``<member>`` items unless
``flattened``; maps hold ``<entry><key/><value/></entry>``; timestamps are
ISO 8601 UTC with milliseconds and ``Z``; booleans ``true``/``false``; blobs
base64. Errors are ``<ErrorResponse>`` documents whose code is the query code
(:mod:`moorage.api.query_compat`). Requests are decoded by
:mod:`moorage.api.query_codec`.
"""

from __future__ import annotations

import base64
import enum
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from moorage.api import service_models
from moorage.api.query_compat import resolve_error
from moorage.api.shapes_util import epoch_seconds, iso8601, present_members

CONTENT_TYPE = "text/xml"

# Characters XML 1.0 cannot carry even as references; a message from a
# model server could hold them, and one stray byte must not make the whole
# document unparseable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def encode_query_response(
    operation_model: Any, result: Mapping[str, Any] | None, *, request_id: str | None = None
) -> bytes:
    """The XML body of a successful query-protocol response for ``result``."""
    name = operation_model.name
    namespace = operation_model.metadata.get("xmlNamespace", "")
    parts = [f"<{name}Response xmlns={quoteattr(namespace)}>"]
    shape = operation_model.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
        parts.append(f"<{wrapper}>")
        _members(parts, shape, result or {})
        parts.append(f"</{wrapper}>")
    rid = _text(request_id or str(uuid.uuid4()))
    parts.append(f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>")
    parts.append(f"</{name}Response>")
    return "".join(parts).encode("utf-8")


def encode_query_error(
    code: str,
    message: str,
    status: int,
    request_id: str | None = None,
    *,
    service_model: Any = None,
) -> bytes:
    """The XML body of an error response (CloudWatch's model unless given).

    ``code`` may be a query code or a shape name; the body carries the query
    code. ``Type`` is ``Sender`` for client faults, ``Receiver`` otherwise.
    The status to send for a modeled code is ``resolve_error(...).status``.
    """
    model = service_model if service_model is not None else _cloudwatch()
    wire = resolve_error(model, code, status)
    namespace = model.metadata.get("xmlNamespace", "")
    rid = _text(request_id or str(uuid.uuid4()))
    return (
        f"<ErrorResponse xmlns={quoteattr(namespace)}>"
        f"<Error><Type>{wire.fault}</Type><Code>{_text(wire.code)}</Code>"
        f"<Message>{_text(message)}</Message></Error>"
        f"<RequestId>{rid}</RequestId></ErrorResponse>"
    ).encode()


def _members(parts: list[str], shape: Any, value: Mapping[str, Any]) -> None:
    for name, member, item in present_members(shape, value):
        if member.type_name == "list" and member.serialization.get("flattened"):
            tag = member.member.serialization.get("name") or member.serialization.get("name", name)
            for element in item:
                _element(parts, tag, member.member, element)
        elif member.type_name == "map" and member.serialization.get("flattened"):
            tag = member.serialization.get("name", name)
            for key, element in item.items():
                parts.append(f"<{tag}>")
                _map_entry(parts, member, key, element)
                parts.append(f"</{tag}>")
        else:
            _element(parts, member.serialization.get("name", name), member, item)


def _element(parts: list[str], tag: str, shape: Any, value: Any) -> None:
    parts.append(f"<{tag}>")
    kind = shape.type_name
    if kind == "structure":
        _members(parts, shape, value)
    elif kind == "list":
        item_tag = shape.member.serialization.get("name", "member")
        for element in value:
            _element(parts, item_tag, shape.member, element)
    elif kind == "map":
        for key, element in value.items():
            parts.append("<entry>")
            _map_entry(parts, shape, key, element)
            parts.append("</entry>")
    else:
        parts.append(_scalar(shape, value))
    parts.append(f"</{tag}>")


def _map_entry(parts: list[str], shape: Any, key: Any, value: Any) -> None:
    _element(parts, shape.key.serialization.get("name", "key"), shape.key, key)
    _element(parts, shape.value.serialization.get("name", "value"), shape.value, value)


def _scalar(shape: Any, value: Any) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        if shape.serialization.get("timestampFormat", "").lower() == "unixtimestamp":
            return _number(epoch_seconds(value))
        return iso8601(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("double", "float"):
        return _number(float(value))
    if kind in ("integer", "long"):
        return str(int(value))
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    if isinstance(value, enum.Enum):
        # str() of a plain Enum member is "Class.NAME", not its value.
        value = value.value
    return _text(value if isinstance(value, str) else str(value))


def _number(value: float) -> str:
    # botocore reads these with float(), which takes the spellings AWS uses.
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _text(value: str) -> str:
    cleaned = _NOT_XML.sub("\ufffd", value)
    # A literal CR would be normalised to LF by every XML parser.
    return escape(cleaned, {"\r": "&#13;"})


def _cloudwatch() -> Any:
    return service_models.service_model(service_models.CLOUDWATCH)
