"""The model server's raw ASGI application: ``/ping``, ``/invocations``, ``/adapters``, ``/models``.

uvicorn (set up by :mod:`moorage.container.server`) calls :class:`ModelServerApp`
directly, with no framework in between, because every invocation of the
endpoint passes through here. Per request it scans the headers once, reads
the body, and makes one hop into the handler thread pool, where
:class:`~moorage.container.pipeline.Pipeline` does the work. Nothing is
logged for a successful request.

In multi-model mode (:mod:`moorage.container.multi_model`) there is no
model of the server's own: ``/models`` loads, lists, unloads and invokes
models by name, and ``/invocations`` answers 404.

``/ping`` answers 503 until :attr:`ModelServerApp.model` is set (after
``model_fn`` returned; at once in multi-model mode), then 200, and never
touches the pool, so it stays responsive while predictions run; it answers
500 while the pool is stuck (every worker held past ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` with requests
waiting, :mod:`moorage.container.workers`), and requests that waited past
the timeout behind such a pool are answered 504.

Streaming: when the script's result is an iterator, the response is sent
with chunked transfer encoding, one chunk per item, each as soon as the pool
has produced it. If the iterator raises after the response has started, the
connection is closed without the terminating zero-length chunk, which every
HTTP client reports as an incomplete body (aiohttp: ``ClientPayloadError``).
If the client goes away, the generator is closed (its ``finally`` runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from moorage.container.adapters import PREFIX as ADAPTERS_PREFIX
from moorage.container.adapters import Adapters
from moorage.container.context import Context
from moorage.container.errors import InvocationError
from moorage.container.http import (
    JSON,
    TEXT,
    Disconnected,
    Receive,
    Scope,
    Send,
    error_status,
    log_exception,
    read_body,
    respond,
    respond_text,
)
from moorage.container.model import LoadedModel
from moorage.container.multi_model import PREFIX as MODELS_PREFIX
from moorage.container.multi_model import MultiModels
from moorage.container.pipeline import Reply, close_stream, next_chunk
from moorage.container.workers import PoolStuck, Workers

ADAPTER_HEADER = b"x-moorage-adapter"
_HEALTHY = b'{"status": "Healthy"}'
_LOADING = b'{"status": "Loading"}'
_CLOSE = [(b"connection", b"close")]


class ModelServerApp:
    """ASGI 3 application; :attr:`model` is ``None`` while the model loads."""

    def __init__(self, workers: Workers, multi: MultiModels | None = None) -> None:
        self.workers = workers
        self.executor = workers.executor
        self.model: LoadedModel | None = None
        self.adapters = Adapters(workers.executor)
        # Multi-model mode (SAGEMAKER_MULTI_MODEL): no model of its own, /models instead.
        self.multi = multi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        method = scope["method"]
        if path == "/invocations":
            if method != "POST":
                await respond_text(send, 405, "Use POST /invocations.")
            elif self.multi is not None:
                await respond_text(
                    send, 404, "This server hosts several models: use POST /models/NAME/invoke."
                )
            else:
                await self._invoke(scope, receive, send, self.model)
        elif path == "/ping":
            if method in ("GET", "HEAD"):
                await self._ping(send)
            else:
                await respond_text(send, 405, "Use GET /ping.")
        elif self.multi is not None and (
            path == MODELS_PREFIX or path.startswith(MODELS_PREFIX + "/")
        ):
            await self.multi.handle(scope, receive, send, self._invoke)
        elif path == ADAPTERS_PREFIX or path.startswith(ADAPTERS_PREFIX + "/"):
            if self.model is None:
                await respond(send, 503, _LOADING, JSON)
            else:
                await self.adapters.handle(scope, receive, send, self.model)
        else:
            await respond_text(send, 404, f"No route for {method} {path}.")

    async def _ping(self, send: Send) -> None:
        stuck = self.workers.stuck
        if self.model is None and self.multi is None:
            await respond(send, 503, _LOADING, JSON)
        elif stuck is not None:
            body = json.dumps({"status": "Unhealthy", "message": stuck}).encode()
            await respond(send, 500, body, JSON)
        else:
            await respond(send, 200, _HEALTHY, JSON)

    async def _invoke(
        self, scope: Scope, receive: Receive, send: Send, model: LoadedModel | None
    ) -> None:
        if model is None:
            await respond(send, 503, _LOADING, JSON)
            return
        headers = scope["headers"]
        content_type = accept = ""
        attributes: str | None = None
        adapter: str | None = None
        length: bytes | None = None
        for name, value in headers:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"content-length":
                length = value
            elif name == b"x-amzn-sagemaker-custom-attributes":
                attributes = value.decode("latin-1")
            elif name == ADAPTER_HEADER:
                adapter = value.decode("latin-1")
        try:
            body = await read_body(receive, length)
            if adapter is not None and adapter not in self.adapters:
                raise InvocationError(
                    404, f"Adapter {adapter} (X-Moorage-Adapter) is not loaded in this model."
                )
        except Disconnected:
            return
        except InvocationError as exc:
            # After a 413 the rest of the body is unread: the connection cannot be reused.
            close = _CLOSE if exc.status == 413 else None
            await respond(send, exc.status, exc.message.encode(), TEXT, close)
            return
        context = (
            Context(
                model.model_dir,
                model.system_properties,
                raw_headers=headers,
                custom_attributes=attributes,
                adapter=adapter,
            )
            if model.request_context
            else None
        )
        try:
            reply: Reply = await self.workers.run(
                model.pipeline.invoke, body, content_type, accept, context
            )
        except Exception as exc:
            status, text = error_status(exc)
            # A request given up behind a stuck pool has no traceback worth
            # printing; the pool said once why it is stuck.
            if status >= 500 and not isinstance(exc, PoolStuck):
                log_exception(exc, f"An invocation failed with HTTP {status}:")
            await respond_text(send, status, text)
            return
        if reply.stream is None:
            await send({"type": "http.response.start", "status": 200, "headers": reply.headers})
            await send({"type": "http.response.body", "body": reply.body})
        else:
            await self._stream(reply, receive, send)

    async def _stream(self, reply: Reply, receive: Receive, send: Send) -> None:
        stream = reply.stream
        assert stream is not None
        gone: list[bool] = [False]
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        finished = False
        try:
            await send({"type": "http.response.start", "status": 200, "headers": reply.headers})
            if reply.body:
                await send({"type": "http.response.body", "body": reply.body, "more_body": True})
            while not gone[0]:
                try:
                    chunk = await self.workers.run(next_chunk, stream)
                except Exception as exc:
                    # Returning without the final chunk makes uvicorn close the
                    # connection: the reader sees an incomplete chunked body.
                    log_exception(
                        exc,
                        "A streamed response failed after it started; closing the connection "
                        "without the final chunk:",
                    )
                    return
                if chunk is None:
                    finished = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            watcher.cancel()
            if not finished:
                # The pool may already be shut down when shutdown cancels this task.
                with contextlib.suppress(RuntimeError):
                    self.executor.submit(close_stream, stream)


async def _watch_disconnect(receive: Receive, gone: list[bool]) -> None:
    """Flag a client that went away mid-stream (uvicorn's send() ignores it silently)."""
    while True:
        message: Any = await receive()
        if message["type"] == "http.disconnect":
            gone[0] = True
            return
