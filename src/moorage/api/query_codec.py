"""The AWS query protocol's requests: a flat form rebuilt into raw params.

Older botocore and AWS CLI v1 releases speak CloudWatch's query protocol:
``POST /`` with ``Content-Type: application/x-www-form-urlencoded`` and a body
such as ``Action=PutMetricAlarm&Version=2010-08-01&AlarmName=a&
Dimensions.member.1.Name=EndpointName``. :func:`decode_query` finds the
operation from ``Action``, checks ``Version``, and rebuilds the nested
*raw params* dict from the flattened keys by the operation's input shape
(lists ``X.member.N``, maps ``X.entry.N.key/value``, structures ``A.B``,
``locationName`` and ``flattened`` traits as botocore's ``QuerySerializer``
writes them), converting strings to the member's type. A string that does
not convert is left as it is, for :mod:`moorage.api.validate` to report by
member name; keys no member claims are ignored, as query services do. A
form of more than 10,000 fields, or a key of more than :data:`MAX_KEY_PARTS`
dotted parts, is refused before any tree is built.

Responses are XML, written by :mod:`moorage.api.xml_output`.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moorage.api.shapes_util import parse_float, parse_integer, parse_timestamp
from moorage.errors import SerializationError, ServiceError, UnknownOperation

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Far more than any CloudWatch input needs; stops a hostile body from
# building a huge key tree.
_MAX_FIELDS = 10_000
# Dotted segments in one key: the deepest CloudWatch input
# (Metrics.member.N.MetricStat.Metric.Dimensions.member.N.Name) has 9.
MAX_KEY_PARTS = 32


@dataclass(slots=True)
class _Node:
    """One dotted-key segment: its own value and the segments below it."""

    value: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)


class _Missing:
    """Marks a member that the form does not set."""


_MISSING = _Missing()


def decode_query(
    service_model: Any, form: Mapping[str, Sequence[str]] | bytes
) -> tuple[Any, dict[str, Any]]:
    """``(operation_model, raw_params)`` of a query request.

    ``form`` is the body (bytes) or an already parsed form (each key's list
    of values; the last value of a repeated key wins). Raises
    :class:`SerializationError` for a body that is not a form,
    :class:`UnknownOperation` for a missing or unknown ``Action`` (codes
    ``MissingAction``, ``InvalidAction``) and a ``MissingParameter`` /
    ``InvalidParameterValue`` error for a missing or wrong ``Version``.
    """
    fields = parse_form(form) if isinstance(form, (bytes, bytearray)) else _last_values(form)
    action = fields.pop("Action", None)
    if not action:
        raise UnknownOperation(
            "The request must contain the parameter Action.", code="MissingAction"
        )
    if action not in service_model.operation_names:
        raise UnknownOperation(f"Could not find operation {action}.", code="InvalidAction")
    version = fields.pop("Version", None)
    expected = service_model.api_version
    if not version:
        raise ServiceError(
            "The request must contain the parameter Version.", code="MissingParameter"
        )
    if version != expected:
        raise ServiceError(
            f"Could not find operation {action} for version {version} "
            f"(this service speaks version {expected}).",
            code="InvalidParameterValue",
        )
    operation_model = service_model.operation_model(action)
    shape = operation_model.input_shape
    if shape is None:
        return operation_model, {}
    root = _tree(fields)
    params = _structure(shape, root)
    return operation_model, params if isinstance(params, dict) else {}


def parse_form(body: bytes) -> dict[str, str]:
    """A form-encoded body as ``{key: last value}``, or :class:`SerializationError`."""
    try:
        text = bytes(body).decode("ascii")
        segments = [segment for segment in text.split("&") if segment.strip()]
        if any("=" not in segment for segment in segments):
            raise ValueError("a field has no '='")
        pairs = urllib.parse.parse_qsl(
            "&".join(segments),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise SerializationError(f"The request body is not a valid form: {exc}") from None
    return dict(pairs)


def _last_values(form: Mapping[str, Sequence[str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, values in form.items():
        if isinstance(values, str):
            fields[key] = values
        elif values:
            fields[key] = values[-1]
    return fields


def _tree(fields: Mapping[str, str]) -> _Node:
    root = _Node()
    for key, value in fields.items():
        if key.count(".") >= MAX_KEY_PARTS:
            raise SerializationError(
                f"The request is refused: the parameter name {key[:64]!r}... has more than "
                f"{MAX_KEY_PARTS} dotted parts."
            )
        node = root
        for part in key.split("."):
            node = node.children.setdefault(part, _Node())
        node.value = value
    return root


def _decode(shape: Any, node: _Node) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, node)
    if kind == "list":
        return _list(shape, node)
    if kind == "map":
        return _map(shape, node)
    if node.value is None:
        return _MISSING
    return _scalar(kind, node.value)


def _structure(shape: Any, node: _Node) -> Any:
    if not node.children:
        # ``Dimensions.member.1=x`` where a structure belongs: let the
        # validator say it must be a structure.
        return _MISSING if node.value is None else node.value
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        child = node.children.get(_member_key(member, name))
        if child is None:
            continue
        value = _decode(member, child)
        if value is not _MISSING:
            out[name] = value
    return out


def _member_key(member: Any, name: str) -> str:
    # A flattened list whose member has a locationName repeats under that
    # name instead of the member's own (botocore's QuerySerializer does this).
    if member.type_name == "list" and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if item_name:
            return str(item_name)
    return str(member.serialization.get("name", name))


def _list(shape: Any, node: _Node) -> Any:
    if shape.serialization.get("flattened"):
        items = node
    else:
        items_node = node.children.get(shape.member.serialization.get("name", "member"))
        if items_node is None:
            # botocore sends an empty list as ``Key=`` (no members).
            if node.value == "" and not node.children:
                return []
            return _MISSING if node.value is None else node.value
        items = items_node
    out: list[Any] = []
    for _, child in _indexed(items):
        value = _decode(shape.member, child)
        out.append(None if value is _MISSING else value)
    return out


def _map(shape: Any, node: _Node) -> Any:
    if shape.serialization.get("flattened"):
        entries = node
    else:
        entries_node = node.children.get("entry")
        if entries_node is None:
            if node.value == "" and not node.children:
                return {}
            return _MISSING if node.value is None else node.value
        entries = entries_node
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    out: dict[Any, Any] = {}
    for _, entry in _indexed(entries):
        key_node = entry.children.get(key_name)
        if key_node is None or key_node.value is None:
            continue
        value_node = entry.children.get(value_name)
        value = _MISSING if value_node is None else _decode(shape.value, value_node)
        out[key_node.value] = None if value is _MISSING else value
    return out


def _indexed(node: _Node) -> list[tuple[int, _Node]]:
    """Children keyed ``1``, ``2``, ... in numeric order (the protocol is 1-based)."""
    found = [
        (int(key), child)
        for key, child in node.children.items()
        if key.isascii() and key.isdigit() and int(key) >= 1
    ]
    found.sort(key=lambda pair: pair[0])
    return found


def _scalar(kind: str, text: str) -> Any:
    converted: Any = None
    if kind in ("integer", "long"):
        converted = parse_integer(text)
    elif kind in ("double", "float"):
        converted = parse_float(text)
    elif kind == "boolean":
        converted = {"true": True, "false": False}.get(text.lower())
    elif kind == "timestamp":
        converted = parse_timestamp(text)
    elif kind == "blob":
        try:
            converted = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            converted = None
    else:
        return text
    return text if converted is None else converted
