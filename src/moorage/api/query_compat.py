"""Error identity for a service that kept its query-protocol error codes.

CloudWatch began as a query-protocol service and carries the
``awsQueryCompatible`` trait: whatever protocol a client speaks (RPC v2 CBOR,
JSON 1.0 or query), the error *code* it sees is the historical query code
(``ResourceNotFound``, ``InvalidParameterValue``, ``ValidationError``...),
while CBOR and JSON bodies name the modeled *shape* in ``__type``
(``com.amazonaws.cloudwatch#InvalidParameterValueException``) and carry the
query code in an ``x-amzn-query-error: <code>;<Sender|Receiver>`` header.
botocore reads that header to pick the exception class
(``client.exceptions.InvalidParameterValueException``).

This module maps a code raised by a handler to that identity. Handlers may
raise either form: a query code as the model declares it, or a shape name
(moorage's generic ``ValidationError`` says ``ValidationException``, which is
CloudWatch's shape for the query code ``ValidationError``). Codes the model
does not know (``InternalFailure``, ``SerializationException``...) pass
through unchanged. Used by :mod:`moorage.api.cbor_codec` and
:mod:`moorage.api.xml_output`; the JSON 1.0 protocol can use it too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

QUERY_ERROR_HEADER = "x-amzn-query-error"


@dataclass(frozen=True)
class WireError:
    """How one error appears on the wire of a query-compatible service."""

    code: str  # the query error code botocore reports as Error.Code
    shape_id: str  # absolute shape id for ``__type``
    status: int  # the modeled HTTP status, else the caller's
    sender_fault: bool  # ``Sender`` (client's fault) or ``Receiver``
    message_member: str  # the error shape's message member, for CBOR/JSON bodies

    @property
    def fault(self) -> str:
        return "Sender" if self.sender_fault else "Receiver"

    @property
    def query_error_header(self) -> str:
        """The value of the ``x-amzn-query-error`` response header."""
        return f"{self.code};{self.fault}"


def shape_namespace(service_model: Any) -> str:
    """The Smithy namespace of the service, e.g. ``com.amazonaws.cloudwatch``.

    botocore's JSON models drop the namespace; AWS's own Smithy models name
    every service ``com.amazonaws.<sdk id without spaces, lower-cased>``.
    """
    return "com.amazonaws." + str(service_model.service_id).replace(" ", "").lower()


def resolve_error(service_model: Any, code: str, status: int) -> WireError:
    """The wire identity of an error raised with ``code`` and ``status``."""
    by_code, by_name = _error_index(service_model)
    shape = by_code.get(code) or by_name.get(code)
    namespace = shape_namespace(service_model)
    if shape is None:
        return WireError(
            code=code,
            shape_id=f"{namespace}#{code}",
            status=status,
            sender_fault=status < 500,
            message_member="message",
        )
    error = shape.metadata.get("error", {})
    modeled_status = int(error.get("httpStatusCode", status))
    members = shape.members
    message_member = "Message" if "Message" in members and "message" not in members else "message"
    return WireError(
        code=str(shape.error_code),
        shape_id=f"{namespace}#{shape.name}",
        status=modeled_status,
        sender_fault=bool(error.get("senderFault", modeled_status < 500)),
        message_member=message_member,
    )


@functools.cache
def _error_index(service_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    by_code: dict[str, Any] = {}
    by_name: dict[str, Any] = {}
    # Sorted so that when two shapes share a code (CloudWatch's
    # ResourceNotFound and DashboardNotFoundError both say "ResourceNotFound")
    # the choice is stable; the shape named like the code wins outright.
    for shape in sorted(service_model.error_shapes, key=lambda s: s.name):
        by_name[shape.name] = shape
        code = str(shape.error_code)
        if code not in by_code or shape.name == code:
            by_code[code] = shape
    return by_code, by_name
