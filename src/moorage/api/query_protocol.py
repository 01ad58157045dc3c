"""Serving the AWS query protocol: form-encoded ``POST /`` with ``Action=``.

An ASGI handler that speaks the query protocol for a model-driven
:class:`~moorage.api.json_protocol.JsonService` (CloudWatch's, for older
botocore releases and AWS CLI v1): it decodes the form with
:mod:`moorage.api.query_codec`, runs the service's handler through
:meth:`JsonService.call` (validation included), and answers XML written by
:mod:`moorage.api.xml_output`: the result, or an ``<ErrorResponse>`` with the
query error code. The app (:mod:`moorage.api.app`) sends it every form POST
to ``/``.
"""

from __future__ import annotations

import logging

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
    send_response,
)
from moorage.api.json_protocol import JsonService
from moorage.api.query_codec import decode_query
from moorage.api.query_compat import resolve_error
from moorage.api.xml_output import CONTENT_TYPE, encode_query_error, encode_query_response
from moorage.errors import InternalFailure, ServiceError

log = logging.getLogger(__name__)


class QueryProtocol:
    """The query-protocol face of one service."""

    def __init__(self, service: JsonService, *, max_body: int) -> None:
        self.service = service
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge as exc:
            await self._error(send, too_large(exc.limit), request_id, close=True)
            return
        except ClientDisconnected:
            return
        service = self.service
        try:
            body = decode_body(body, header_map(scope).get("content-encoding"), self.max_body)
            op_model, raw = decode_query(service.model, body)
            name = service.operation_for(f"{service.target_prefix}.{op_model.name}")
            result = await service.call(name, raw, size=len(body))
            out = encode_query_response(op_model, result, request_id=request_id)
        except ServiceError as exc:
            await self._error(send, exc, request_id)
            return
        except Exception:
            log.exception("unexpected error in a query-protocol request")
            failure = InternalFailure(
                "The request processing has failed because of an unknown error."
            )
            await self._error(send, failure, request_id)
            return
        await send_response(
            send, 200, out, _headers(request_id), content_type=CONTENT_TYPE.encode()
        )

    async def _error(
        self, send: Send, error: ServiceError, request_id: str, *, close: bool = False
    ) -> None:
        model = self.service.model
        status = resolve_error(model, error.code, error.status).status
        body = encode_query_error(
            error.code, error.message, error.status, request_id, service_model=model
        )
        headers = _headers(request_id)
        if close:
            headers.append((b"connection", b"close"))
        await send_response(send, status, body, headers, content_type=CONTENT_TYPE.encode())


def _headers(request_id: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-amzn-requestid", request_id.encode())]
