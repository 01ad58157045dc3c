"""Serving Smithy RPC v2 CBOR: ``POST /service/<Service>/operation/<Operation>``.

An ASGI handler that speaks the CBOR protocol for a model-driven
:class:`~moorage.api.json_protocol.JsonService` (CloudWatch's): it routes by
path, decodes the body with :mod:`moorage.api.cbor_codec`, runs the service's
handler through :meth:`JsonService.call` (validation included), and encodes
the result or the error by the model. Nothing a caller sends can produce a
500 with details: an unexpected exception is logged and answered as
``InternalFailure``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from moorage.api import cbor_codec
from moorage.api.content_encoding import decode_body, too_large
from moorage.api.http import (
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    header_map,
    new_request_id,
    read_body,
)
from moorage.api.json_protocol import OFFLOAD_BYTES, JsonService
from moorage.api.query_compat import resolve_error
from moorage.errors import InternalFailure, ServiceError, UnknownOperation

log = logging.getLogger(__name__)

PATH_PREFIX = cbor_codec.PATH_PREFIX


class CborProtocol:
    """The RPC v2 CBOR face of one service."""

    def __init__(self, service: JsonService, *, max_body: int) -> None:
        self.service = service
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = cbor_codec.operation_from_path(scope["path"])
        if (
            scope["method"] != "POST"
            or route is None
            or route[0] != self.service.target_prefix
            or route[1] not in self.service.model.operation_names
        ):
            with contextlib.suppress(BodyTooLarge, ClientDisconnected):
                await read_body(receive, self.max_body)
            await self._error(
                send,
                UnknownOperation(
                    f"No operation at {scope['method']} {scope['path']}: RPC v2 CBOR requests are "
                    f"POST {PATH_PREFIX}{self.service.target_prefix}/operation/<Operation>.",
                    status=404,
                ),
            )
            return
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge as exc:
            await self._error(send, too_large(exc.limit), close=True)
            return
        except ClientDisconnected:
            return
        encoding = header_map(scope).get("content-encoding")
        await self._dispatch(send, route[1], body, encoding)

    async def _dispatch(
        self, send: Send, operation: str, body: bytes, encoding: str | None
    ) -> None:
        service = self.service
        try:
            body = decode_body(body, encoding, self.max_body)
            name = service.operation_for(f"{service.target_prefix}.{operation}")
            op_model = service.model.operation_model(name)
            if len(body) > OFFLOAD_BYTES:
                raw = await asyncio.to_thread(cbor_codec.decode_request, op_model, body)
            else:
                raw = cbor_codec.decode_request(op_model, body)
            result = await service.call(name, raw, size=len(body))
            out, headers = cbor_codec.encode_response(op_model, result)
        except ServiceError as exc:
            await self._error(send, exc)
            return
        except Exception:
            log.exception("unexpected error in CBOR %s", operation)
            await self._error(
                send,
                InternalFailure("The request processing has failed because of an unknown error."),
            )
            return
        await _send(send, 200, out, headers)

    async def _error(self, send: Send, error: ServiceError, *, close: bool = False) -> None:
        model = self.service.model
        status = resolve_error(model, error.code, error.status).status
        body, headers = cbor_codec.encode_error(
            error.code, error.message, error.status, service_model=model
        )
        if close:
            headers["Connection"] = "close"
        await _send(send, status, body, headers)


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    # Not http.send_response: a CBOR reply without a body has no Content-Type.
    raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    raw.append((b"x-amzn-requestid", new_request_id().encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
