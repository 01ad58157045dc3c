"""Raw ASGI plumbing for the model server: types, body reading, small responses.

No framework sits between uvicorn and :mod:`moorage.container.app` because
this process is on the path of every invocation; these helpers are the only
shared pieces (also used by :mod:`moorage.container.adapters`). Header lists
of fixed responses are built once, at import.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from moorage.container.errors import InvocationError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Far above SageMaker's 6 MB payload limit (which the router enforces); this
# only stops a runaway client from filling memory.
MAX_BODY_BYTES = 100 * 1024 * 1024

TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"


class Disconnected(Exception):
    """The client went away before its request body arrived."""


async def read_body(
    receive: Receive, content_length: bytes | None, limit: int = MAX_BODY_BYTES
) -> bytes:
    """The whole request body; 413 beyond ``limit`` (checked first against Content-Length)."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise InvocationError(400, "Content-Length is not a number.") from None
        if declared > limit:
            raise _too_large(limit)
    message = await receive()
    if message["type"] == "http.disconnect":
        raise Disconnected
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _too_large(limit: int) -> InvocationError:
    return InvocationError(413, f"The request body is larger than {limit} bytes.")


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = TEXT,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def respond_text(send: Send, status: int, message: str) -> None:
    await respond(send, status, message.encode("utf-8", "replace"))


async def respond_json(send: Send, status: int, value: object) -> None:
    await respond(send, status, json.dumps(value).encode(), JSON)


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def error_status(exc: BaseException) -> tuple[int, str]:
    """Status and body text for an exception raised while serving a request.

    :class:`InvocationError` carries its own; so does any exception with an
    integer ``status_code`` between 400 and 599 (the toolkit's
    ``sagemaker_inference.errors`` classes have one). Anything else is a 500
    whose body is ``"<ExceptionType>: <message>"``.
    """
    if isinstance(exc, InvocationError):
        return exc.status, exc.message
    status = getattr(exc, "status_code", None)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(status, int) and 400 <= status <= 599:
        return status, text
    return 500, text


def log_exception(exc: BaseException, headline: str) -> None:
    """A headline and the traceback on stderr, in one write so threads do not interleave."""
    trace = "".join(traceback.format_exception(exc))
    sys.stderr.write(f"{headline}\n{trace}")
    sys.stderr.flush()
