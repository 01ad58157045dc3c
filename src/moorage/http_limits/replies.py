"""The answers the port's limits give, in the AWS JSON error form.

Three are written straight to the connection by
:mod:`moorage.http_limits.protocol`, before or instead of any handler, and
close it: ``431`` (request line and headers too large), ``408`` (a request
body stopped arriving) and ``503`` (more connections than the cap and its
reserve). The fourth, :class:`RefuseInvocation`, is an ASGI app that stands
in for moorage's own on a reserved connection: it reads the invocation's
body (so that the client, still sending, reads the answer rather than a
reset) and answers SageMaker Runtime's ``ServiceUnavailable``, which boto3
retries.
"""

from __future__ import annotations

import http
import json

from moorage.api.http import Receive, Scope, Send, new_request_id
from moorage.runtime.errors import service_unavailable

# An invocation body beyond this is not read before the refusal: the
# connection is closed after the answer (InvokeEndpoint's payload limit).
_DRAIN_LIMIT = 6 * 1024 * 1024


def _raw(status: http.HTTPStatus, code: str, message: str) -> bytes:
    body = json.dumps({"__type": code, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-amzn-errortype: {code}\r\n"
        f"x-amzn-requestid: {new_request_id()}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def header_too_large(limit: int) -> bytes:
    return _raw(
        http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
        "RequestHeaderFieldsTooLarge",
        f"The request line and headers exceed the limit of {limit} bytes.",
    )


def body_timeout(seconds: int) -> bytes:
    return _raw(
        http.HTTPStatus.REQUEST_TIMEOUT,
        "RequestTimeout",
        f"No byte of the request body arrived for {seconds} seconds; the request was abandoned.",
    )


def connections_full(limit: int) -> bytes:
    return _raw(
        http.HTTPStatus.SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        f"The server has {limit} connections open, its limit; try again later.",
    )


class RefuseInvocation:
    """An ASGI app answering ``ServiceUnavailable`` to an invocation past the connection cap."""

    def __init__(self, max_connections: int) -> None:
        error = service_unavailable(
            f"The server has {max_connections} connections open, its limit for invocations; "
            "try again later."
        )
        self._body = error.body()
        self._code = error.code.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        read = 0
        while read <= _DRAIN_LIMIT:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self._body)).encode()),
                    (b"x-amzn-errortype", self._code),
                    (b"x-amzn-requestid", new_request_id().encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self._body})
