"""CloudWatch's Smithy RPC v2 CBOR protocol: request decoding, response encoding.

A request is ``POST /service/GraniteServiceVersion20100801/operation/<Op>``
with ``smithy-protocol: rpc-v2-cbor`` and a CBOR map body (empty when the
caller sends no parameters). Structures are maps keyed by member name,
timestamps are CBOR tag 1 around epoch seconds, blobs are byte strings.
Decoding yields the *raw params* dict that :mod:`moorage.api.validate`
checks; a value of the wrong type is passed through for the validator to
name, and only a body that is not CBOR, or not a map, is a
:class:`~moorage.errors.SerializationError`. So is a body nested more than
:data:`MAX_DEPTH` levels or holding more than :data:`MAX_ITEMS` data items:
:func:`count_items` walks the item heads before anything is built, because
one byte (``0x80``, an empty array) is a whole Python object to the decoder.

Responses are encoded by the operation's output shape, the way botocore's
``RpcV2CBORParser`` reads them; errors are a CBOR map with ``__type`` (the
modeled shape id) and ``message``, plus the ``x-amzn-query-error`` header
CloudWatch's query compatibility needs (:mod:`moorage.api.query_compat`).
Routing, reading the body and sending the reply belong to the dispatcher.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from moorage.api import service_models
from moorage.api.query_compat import QUERY_ERROR_HEADER, resolve_error
from moorage.api.shapes_util import epoch_seconds, present_members
from moorage.api.validate import printable
from moorage.errors import SerializationError

CONTENT_TYPE = "application/cbor"
PROTOCOL_HEADER = "smithy-protocol"
PROTOCOL = "rpc-v2-cbor"
PATH_PREFIX = "/service/"

_EPOCH_TAG = 1
# Inputs are a few levels deep; a cap well above that stops hostile nesting
# before it costs anything.
MAX_DEPTH = 64
# Data items (map keys included) in one body: a PutMetricData of 1,000 datums
# with every list full holds about 450,000 (moorage.json_limits, which does not
# count keys, allows 500,000 values).
MAX_ITEMS = 1_000_000


@dataclass(frozen=True)
class _Epoch:
    """A tag-1 value as it arrived, kept apart from plain numbers until shaped."""

    value: Any


def _epoch(value: Any, immutable: bool) -> _Epoch:
    return _Epoch(value)


def _no_shared_references(value: Any, immutable: bool) -> Any:
    # Tags 28/29 can build cyclic containers; no Smithy client sends them.
    raise ValueError("shared-value tags are not allowed")


_SEMANTIC_DECODERS = {
    _EPOCH_TAG: _epoch,
    28: _no_shared_references,
    29: _no_shared_references,
}


def operation_from_path(path: str) -> tuple[str, str] | None:
    """``(service, operation)`` from ``.../service/<S>/operation/<Op>``, else ``None``.

    Only the last four segments route (the protocol allows a path prefix);
    the service segment may be an absolute id with ``#`` spelled ``.``.
    """
    parts = path.rstrip("/").split("/")
    if len(parts) < 5 or parts[-4] != "service" or parts[-2] != "operation":
        return None
    service, operation = parts[-3], parts[-1]
    if not service or not operation:
        return None
    return service.rsplit(".", 1)[-1], operation


def decode_request(operation_model: Any, body: bytes) -> dict[str, Any]:
    """The raw params of one request body (``{}`` for an empty body)."""
    if not body:
        return {}
    if len(body) > MAX_ITEMS:
        # Every item takes at least a byte: a shorter body cannot hold too many.
        count_items(body, MAX_ITEMS)
    stream = io.BytesIO(body)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            semantic_decoders=_SEMANTIC_DECODERS,
            max_depth=MAX_DEPTH,
            strict_hashable_types=True,
        )
        value = decoder.decode()
    except Exception as exc:  # cbor2 raises several types for bad input
        raise SerializationError(f"The request body is not valid CBOR: {exc}") from None
    if stream.tell() != len(body):
        raise SerializationError("The request body has data after its CBOR item.")
    if not isinstance(value, Mapping):
        raise SerializationError("The request body must be a CBOR map.")
    shape = operation_model.input_shape
    if shape is None:
        return {key: _plain(item) for key, item in value.items() if item is not None}
    return _structure(shape, value)


def count_items(body: bytes, limit: int) -> int:
    """The data items of the first CBOR item in ``body``, refusing more than ``limit``.

    Reads only the heads (strings are skipped by their length), so the cost
    is one step per item up to ``limit``; a head that claims more items or
    bytes than the body has left, or a malformed head, is refused at once.
    """
    size = len(body)
    pos = 0
    count = 0
    # Items still expected by each open container; -1 for indefinite length.
    pending = [1]
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        if pos >= size:
            raise SerializationError("The request body is not valid CBOR: it ends early.")
        head = body[pos]
        pos += 1
        if head == 0xFF:
            if pending[-1] != -1:
                raise SerializationError("The request body is not valid CBOR: a stray break.")
            pending.pop()
            continue
        if pending[-1] > 0:
            pending[-1] -= 1
        count += 1
        if count > limit:
            raise SerializationError(
                f"The request body is refused: it holds more than {limit} CBOR data items."
            )
        major, info = head >> 5, head & 0x1F
        if info < 24:
            argument = info
        elif info < 28:
            width = 1 << (info - 24)
            if pos + width > size:
                raise SerializationError("The request body is not valid CBOR: it ends early.")
            argument = int.from_bytes(body[pos : pos + width], "big")
            pos += width
        elif info == 31 and major in (2, 3, 4, 5):
            argument = -1
        else:
            raise SerializationError("The request body is not valid CBOR: a malformed head.")
        if major in (0, 1, 7):
            continue
        if major in (2, 3) and argument >= 0:
            if argument > size - pos:
                raise SerializationError("The request body is not valid CBOR: it ends early.")
            pos += argument
            continue
        if major == 6:
            expected = 1
        elif major == 5 and argument >= 0:
            expected = 2 * argument
        else:  # arrays, and the chunks of an indefinite string or map
            expected = argument
        if expected > size - pos:
            raise SerializationError("The request body is not valid CBOR: it ends early.")
        pending.append(expected)
        if len(pending) > MAX_DEPTH + 2:
            raise SerializationError(
                f"The request body is refused: it nests more than {MAX_DEPTH} levels."
            )
    return count


def _from_cbor(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return _plain(value)
        return _structure(shape, value)
    if kind == "list":
        if not isinstance(value, list):
            return _plain(value)
        return [None if item is None else _from_cbor(shape.member, item) for item in value]
    if kind == "map":
        if not isinstance(value, Mapping):
            return _plain(value)
        return {
            key: None if item is None else _from_cbor(shape.value, item)
            for key, item in value.items()
        }
    if kind == "timestamp":
        raw = value.value if isinstance(value, _Epoch) else value
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return _as_float(raw)
        return _plain(raw)
    if kind in ("double", "float"):
        # Smithy lets senders shrink an integral double to a CBOR integer.
        if isinstance(value, int) and not isinstance(value, bool):
            return _as_float(value)
        return _plain(value)
    if kind == "blob" and isinstance(value, bytearray):
        return bytes(value)
    return _plain(value)


def _as_float(value: float) -> float:
    # A bignum too large for a float is passed on for the validator to refuse.
    try:
        return float(value)
    except OverflowError:
        return value


def _structure(shape: Any, value: Mapping[Any, Any]) -> dict[str, Any]:
    members = shape.members
    out: dict[str, Any] = {}
    for key, item in value.items():
        # CBOR's ``undefined`` means null, and null means "not set".
        if item is None or item is cbor2.undefined:
            continue
        name = key if key in members else _serialized_names(shape).get(key)
        if name is None:
            # Unknown members go on unchanged so the validator reports them.
            out[str(key) if not isinstance(key, str) else key] = _plain(item)
            continue
        out[name] = _from_cbor(members[name], item)
    return out


def _serialized_names(shape: Any) -> dict[str, str]:
    # botocore sends a member's locationName when it has one, although the
    # protocol keys by member name; accept both.
    return {
        member.serialization["name"]: name
        for name, member in shape.members.items()
        if "name" in member.serialization
    }


def _plain(value: Any) -> Any:
    """An unshaped value with tag-1 markers unwrapped, for pass-through."""
    if isinstance(value, _Epoch):
        return value.value
    if value is cbor2.undefined:
        return None
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def encode_response(
    operation_model: Any, result: Mapping[str, Any] | None
) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of a 200 response for ``result`` by the output shape.

    An operation without an output shape answers with no body and no
    Content-Type, as the protocol requires.
    """
    headers = {PROTOCOL_HEADER: PROTOCOL}
    shape = operation_model.output_shape
    if shape is None:
        return b"", headers
    body = cbor2.dumps(_to_cbor(shape, result or {}))
    headers["Content-Type"] = CONTENT_TYPE
    return body, headers


def _to_cbor(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _to_cbor(member, item) for name, member, item in present_members(shape, value)
        }
    if kind == "list":
        return [_to_cbor(shape.member, item) for item in value]
    if kind == "map":
        return {key: _to_cbor(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(_EPOCH_TAG, epoch_seconds(value))
    if kind in ("double", "float"):
        return float(value)
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "blob":
        return value.encode() if isinstance(value, str) else bytes(value)
    # cbor2 cannot encode a plain Enum member; its value is what the shape means.
    return value.value if isinstance(value, enum.Enum) else value


def encode_error(
    code: str, message: str, status: int, *, service_model: Any = None
) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of an error response (CloudWatch's model unless given).

    The body names the modeled shape and the header the query code, so that
    botocore raises the modeled exception class. ``status`` only decides
    ``Sender``/``Receiver`` for a code the model does not know; the status
    to send for a modeled code (404 for ``ResourceNotFound``) is
    :func:`~moorage.api.query_compat.resolve_error`'s ``status``.
    """
    model = service_model if service_model is not None else _cloudwatch()
    wire = resolve_error(model, code, status)
    # A text string must be UTF-8: a stray surrogate in a message must not turn
    # the error into a failure to answer.
    text = printable(message)
    body = cbor2.dumps({"__type": wire.shape_id, wire.message_member: text})
    headers = {
        PROTOCOL_HEADER: PROTOCOL,
        "Content-Type": CONTENT_TYPE,
        QUERY_ERROR_HEADER: wire.query_error_header,
    }
    return body, headers


def _cloudwatch() -> Any:
    return service_models.service_model(service_models.CLOUDWATCH)
