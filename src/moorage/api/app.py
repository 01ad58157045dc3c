"""The one ASGI application behind moorage's port: routes to each protocol.

- ``POST /`` with ``X-Amz-Target: SageMaker.*`` → SageMaker JSON 1.1
- ``POST /`` with ``X-Amz-Target: GraniteServiceVersion20100801.*`` → CloudWatch JSON 1.0
- ``POST /`` with ``X-Amz-Target: Logs_20140328.*`` → CloudWatch Logs JSON 1.1
- ``POST /`` with ``X-Amz-Target: AnyScaleFrontendService.*`` → Application Auto Scaling JSON 1.1
- ``POST /`` form-encoded with ``Action=`` → CloudWatch query protocol
- ``POST /service/GraniteServiceVersion20100801/operation/*`` → CloudWatch RPC v2 CBOR
- ``POST /endpoints/{name}/invocations[-response-stream]`` → SageMaker Runtime
- ``GET /healthz``, ``GET /metrics``, ``GET /`` (dashboard), ``GET /moorage/*`` (JSON pages)

Other protocols register themselves through :class:`Routes`; the app itself
only dispatches and turns malformed requests into AWS-style errors. Every
request passes :class:`~moorage.api.gate.Gate` (browser rules, SigV4) before
it is dispatched.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from moorage.api.content_encoding import decode_body
from moorage.api.gate import Gate
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
from moorage.api.json_protocol import JsonService, Reply, error_body
from moorage.errors import SerializationError, ServiceError

log = logging.getLogger(__name__)

AsgiHandler = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Routes:
    """Protocol handlers beyond SageMaker's JSON 1.1, filled in by the server."""

    # X-Amz-Target prefix → JSON service (e.g. CloudWatch JSON 1.0).
    json_services: dict[str, JsonService] = field(default_factory=dict)
    # Path prefix → raw ASGI handler (runtime invocations, CBOR, pages).
    prefixes: list[tuple[str, AsgiHandler]] = field(default_factory=list)
    # Exact GET paths → raw ASGI handler.
    pages: dict[str, AsgiHandler] = field(default_factory=dict)
    # Form-encoded POST / (the query protocol).
    query: AsgiHandler | None = None

    def add_json_service(self, service: JsonService) -> None:
        """Serve ``service`` on ``POST /`` by its ``X-Amz-Target`` prefix."""
        self.json_services[service.target_prefix] = service


# Content types a JSON-protocol request may declare (botocore sends the first two).
JSON_CONTENT_TYPES = (
    "application/x-amz-json-1.1",
    "application/x-amz-json-1.0",
    "application/json",
)


class App:
    def __init__(
        self, sagemaker: JsonService, routes: Routes, gate: Gate, *, max_body: int
    ) -> None:
        self.routes = routes
        self.gate = gate
        self.max_body = max_body
        self.json_services = {sagemaker.target_prefix: sagemaker, **routes.json_services}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            return
        admitted = await self.gate.admit(scope, receive, send)
        if admitted is None:
            return
        receive = admitted
        path: str = scope["path"]
        for prefix, handler in self.routes.prefixes:
            if path.startswith(prefix):
                await handler(scope, receive, send)
                return
        method: str = scope["method"]
        if method == "POST" and path == "/":
            await self._post_root(scope, receive, send)
            return
        if method in ("GET", "HEAD"):
            if path == "/healthz":
                await send_response(send, 200, b'{"status":"ok"}')
                return
            page = self.routes.pages.get(path)
            if page is not None:
                await page(scope, receive, send)
                return
        await _error(send, 404, "UnknownOperationException", f"No route for {method} {path}.")

    async def _post_root(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = header_map(scope)
        target = headers.get("x-amz-target")
        if target and sum(1 for name, _ in scope["headers"] if name.lower() == b"x-amz-target") > 1:
            await _drain_quietly(receive, self.max_body)
            await _error(
                send,
                400,
                "UnknownOperationException",
                "The request carries more than one X-Amz-Target header.",
            )
            return
        if not target:
            body_type = headers.get("content-type", "")
            if self.routes.query and body_type.startswith("application/x-www-form-urlencoded"):
                await self.routes.query(scope, receive, send)
                return
            await _drain_quietly(receive, self.max_body)
            await _error(
                send,
                400,
                "UnknownOperationException",
                "Missing X-Amz-Target header: the request does not name an operation.",
            )
            return
        service = self.json_services.get(target.partition(".")[0])
        if service is None:
            await _drain_quietly(receive, self.max_body)
            await _error(send, 400, "UnknownOperationException", f"Unknown operation {target!r}.")
            return
        # SageMaker and CloudWatch Logs answer JSON 1.1, CloudWatch JSON 1.0.
        json_version = service.model.metadata.get("jsonVersion", "1.0")
        content_type = f"application/x-amz-json-{json_version}".encode()
        declared = headers.get("content-type", "").partition(";")[0].strip().lower()
        if declared not in JSON_CONTENT_TYPES:
            await _drain_quietly(receive, self.max_body)
            shown = declared[:100] or "none"
            reply = service.error_reply(
                SerializationError(
                    f"Content-Type {shown!r} is not accepted: requests with X-Amz-Target "
                    f"are sent as {JSON_CONTENT_TYPES[0]} or {JSON_CONTENT_TYPES[1]}."
                )
            )
            await send_response(
                send, reply.status, reply.body, _reply_headers(reply), content_type=content_type
            )
            return
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge as exc:
            await _error(
                send,
                413,
                "RequestEntityTooLargeException",
                f"Request body exceeds the limit of {exc.limit} bytes.",
                close=True,
            )
            return
        except ClientDisconnected:
            return
        try:
            body = decode_body(body, headers.get("content-encoding"), self.max_body)
        except ServiceError as exc:
            reply = service.error_reply(exc)
        else:
            reply = await service.handle(target, body)
        await send_response(
            send, reply.status, reply.body, _reply_headers(reply), content_type=content_type
        )


def _reply_headers(reply: Reply) -> list[tuple[bytes, bytes]]:
    extra = [(b"x-amzn-requestid", new_request_id().encode())]
    extra.extend((name.encode(), value.encode()) for name, value in reply.headers)
    return extra


async def _error(send: Send, status: int, code: str, message: str, *, close: bool = False) -> None:
    headers = [(b"x-amzn-requestid", new_request_id().encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send_response(
        send, status, error_body(code, message), headers, content_type=b"application/x-amz-json-1.1"
    )


async def _drain_quietly(receive: Receive, limit: int) -> None:
    with contextlib.suppress(BodyTooLarge, ClientDisconnected):
        await read_body(receive, limit)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
