"""The AWS JSON 1.1 / 1.0 protocol: ``POST /`` with ``X-Amz-Target``.

SageMaker's control plane (JSON 1.1, target prefix ``SageMaker``) and
CloudWatch's JSON 1.0 flavour use this. A request names its operation in
``X-Amz-Target: <Prefix>.<Operation>``; the body is a JSON object, decoded
within the nesting and size limits of :mod:`moorage.json_limits` and
validated by the operation's input shape (:mod:`moorage.api.validate`),
passed to the handler found in an explicit table, and the handler's response
is serialized by the output shape (:mod:`moorage.api.serialize`). A body
over :data:`OFFLOAD_BYTES` is decoded and validated on a worker thread.

Errors are ``{"__type": CODE, "message": TEXT}``; a service whose model has
the ``awsQueryCompatible`` trait (CloudWatch) names the modeled error shape
in ``__type`` instead and adds the ``x-amzn-query-error`` header that carries
its query code (:mod:`moorage.api.query_compat`). The CBOR and query
protocols (:mod:`moorage.api.rpcv2_cbor`, :mod:`moorage.api.query_protocol`)
reuse a service's operation table through :meth:`JsonService.operation_for`
and :meth:`JsonService.call`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from moorage import json_limits
from moorage.api.query_compat import QUERY_ERROR_HEADER, resolve_error
from moorage.api.serialize import to_json
from moorage.api.service_models import operation_names, service_model
from moorage.api.validate import validate
from moorage.errors import (
    InternalFailure,
    NotImplementedOperation,
    SerializationError,
    ServiceError,
    UnknownOperation,
)
from moorage.json_limits import JsonLimitError

log = logging.getLogger(__name__)

# Bodies larger than this are decoded and validated on a worker thread, so
# that checking a large (or hostile) request does not hold up the event loop:
# invocations and /healthz keep being answered meanwhile. Control-plane
# requests are a few KiB; PutMetricData and GetMetricData can be larger.
OFFLOAD_BYTES = 256 * 1024

Params = dict[str, Any]
Handler = Callable[[Params], "dict[str, Any] | Awaitable[dict[str, Any] | None] | None"]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    # Extra response headers (name, value).
    headers: tuple[tuple[str, str], ...] = ()


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def decode_json(body: bytes) -> Any:
    """The raw params of a JSON-protocol body (``{}`` when empty), within the JSON limits.

    A body that is not JSON, or nests or counts past :mod:`moorage.json_limits`,
    is a :class:`SerializationError`; that it is an object is the validator's check.
    """
    if not body.strip():
        return {}
    try:
        return json_limits.loads(body)
    except JsonLimitError as exc:
        raise SerializationError(f"The request body is refused: {exc}.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationError(f"Request body is not valid JSON: {exc}") from None


class JsonService:
    """One AWS JSON-protocol service: its model plus its handler table."""

    def __init__(
        self,
        service: str,
        handlers: Mapping[str, Handler],
        *,
        not_implemented_hint: str = "",
    ) -> None:
        self.service = service
        self.model = service_model(service)
        self.target_prefix: str = self.model.metadata["targetPrefix"]
        known = operation_names(service)
        unknown = set(handlers) - known
        if unknown:
            raise ValueError(f"handlers for operations {service} does not have: {sorted(unknown)}")
        self.handlers = dict(handlers)
        self.not_implemented_hint = not_implemented_hint
        self.query_compatible = "awsQueryCompatible" in self.model.metadata

    def operation_for(self, target: str) -> str:
        prefix, _, operation = target.partition(".")
        if prefix != self.target_prefix or not operation:
            raise UnknownOperation(f"Unknown operation {target!r}.")
        if operation not in operation_names(self.service):
            raise UnknownOperation(f"Unknown operation {target!r}.")
        if operation not in self.handlers:
            raise NotImplementedOperation(
                f"Operation {operation} is part of the {self.model.metadata['serviceId']} API "
                f"but moorage does not implement it.{self.not_implemented_hint}"
            )
        return operation

    async def call(self, operation: str, raw: Any, *, size: int = 0) -> dict[str, Any]:
        """Validate ``raw``, run the handler, return the response dict (not serialized).

        ``size`` is the body's length: a large body is validated on a worker thread.
        """
        op_model = self.model.operation_model(operation)
        if size > OFFLOAD_BYTES:
            params = await asyncio.to_thread(validate, op_model.input_shape, raw)
        else:
            params = validate(op_model.input_shape, raw)
        result = self.handlers[operation](params)
        if inspect.isawaitable(result):
            result = await result
        return result or {}

    async def handle(self, target: str, body: bytes) -> Reply:
        """Handle one JSON-protocol request; never raises."""
        try:
            operation = self.operation_for(target)
            if len(body) > OFFLOAD_BYTES:
                raw = await asyncio.to_thread(decode_json, body)
            else:
                raw = decode_json(body)
            result = await self.call(operation, raw, size=len(body))
            shape = self.model.operation_model(operation).output_shape
            return Reply(200, json.dumps(to_json(shape, result)).encode())
        except ServiceError as exc:
            return self.error_reply(exc)
        except Exception:
            log.exception("unexpected error in %s %s", self.service, target)
            return self.error_reply(
                InternalFailure("The request processing has failed because of an unknown error.")
            )

    def error_reply(self, error: ServiceError) -> Reply:
        """``error`` in this service's JSON error form."""
        if not self.query_compatible:
            return Reply(error.status, error_body(error.code, error.message))
        wire = resolve_error(self.model, error.code, error.status)
        body = json.dumps({"__type": wire.shape_id, wire.message_member: error.message})
        return Reply(wire.status, body.encode(), ((QUERY_ERROR_HEADER, wire.query_error_header),))
